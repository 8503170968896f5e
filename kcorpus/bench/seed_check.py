"""Does a candidate child's torch.compile baseline work from a copy of its problem's caches?
(GPU only: on the CPU the verifier times nothing, so no baseline is compiled.)

Two ways, each printing the compile errors in full:
- `sandbox`: honest candidates of one problem through the real fork server (pool.py: a baseline
  job, then candidates seeded with its caches), and their verdicts' `compile_error`;
- `plain`: no sandbox, no server. Process A compiles the reference with caches X; X is moved
  (as the fork server did before session 15) or kept, then copied to W; process B compiles with W. Each
  variant seeds both caches, only Inductor's or only Triton's, to tell which one breaks.

    python -m kcorpus.bench.seed_check [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_COMPILE = r"""
import sys, time, traceback, torch
sys.path.insert(0, sys.argv[1])
from kcorpus.verify import tricks as P
from kcorpus.verify.timing import fix_tf32
ns = {}
exec(compile(P.PROBLEM, "problem.py", "exec"), ns)
fix_tf32(False)
torch.manual_seed(0)
ref = ns["Model"](*ns["get_init_inputs"]()).cuda()
xs = [x.cuda() if hasattr(x, "cuda") else x for x in ns["get_inputs"]()]
t = time.perf_counter()
try:
    with torch.no_grad():
        torch.compile(ref)(*xs)
    torch.cuda.synchronize()
    print("OK", round(time.perf_counter() - t, 3))
except Exception:
    print("FAIL", round(time.perf_counter() - t, 3)); traceback.print_exc()
"""


def _compile(dirs: dict[str, Path], tmp: Path) -> str:
    env = {**os.environ, "TRITON_CACHE_DIR": str(dirs["triton"]),
           "TORCHINDUCTOR_CACHE_DIR": str(dirs["inductor"]), "TMPDIR": str(tmp)}
    r = subprocess.run([sys.executable, "-c", _COMPILE, str(Path(__file__).parents[2])],
                       env=env, capture_output=True, text=True, timeout=300)
    return (r.stdout + r.stderr)[-4000:]


def plain(root: Path) -> dict:
    out = {}
    for move in (True, False):
        for seeded in (("triton", "inductor"), ("inductor",), ("triton",)):
            case = root / f"{'move' if move else 'keep'}-{'+'.join(seeded)}"
            a = {n: case / "a" / n for n in ("triton", "inductor")}
            first = _compile(a, case)
            src = case / "published" if move else case / "a"
            if move:
                os.replace(case / "a", src)
            w = {n: case / "w" / n for n in ("triton", "inductor")}
            for n, d in w.items():
                if n in seeded:
                    shutil.copytree(src / n, d, symlinks=True)
            out[case.name] = {"first": first.splitlines()[0] if first else "", "seeded": _compile(w, case)}
            print(case.name, "first:", out[case.name]["first"], "seeded:",
                  out[case.name]["seeded"].splitlines()[0], flush=True)
    return out


def sandboxed() -> dict:
    from kcorpus.verify import sandbox
    from kcorpus.verify import tricks as P

    job = {"problem_code": P.PROBLEM, "candidate_code": P.HONEST, "device": "cuda", "trials": 2,
           "timing": {"budget_s": 0.2}}
    limits = sandbox.Limits(timeout_s=180, parallel=2)
    got = {}
    for v in sandbox.run_jobs([{**job, "id": f"c{i}"} for i in range(3)], limits, "cuda"):
        got[v["id"]] = {k: v.get(k) for k in ("passed", "flags", "compile_error", "phase_seconds")}
        print(v["id"], got[v["id"]], flush=True)
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        result = {"sandbox": sandboxed(), "plain": plain(Path(tmp))}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
