"""`kcorpus bench verify-vs-kernelbench --kernelbench DIR` (GPU): the same candidates through this
verifier's fork server and through KernelBench's own `eval_kernel_against_ref`, in one run.

KernelBench is not a dependency: DIR is a checkout (its `src/` goes on PYTHONPATH). Its harness
runs as its scripts run it: a fresh Python process per candidate, `num_correct_trials=5`,
`num_perf_trials=100`, `measure_performance=True`, `backend="triton"`, each process killed
after `--timeout` s. Ours verifies the same candidates with `--parallel` children, 5
correctness trials and 100 timing trials, twice: timing eager and candidate as KernelBench's
harness does (`per_min`, `ratio`), and with the torch.compile baseline the corpus adds
(`per_min_with_compile_baseline`: its compile is CPU work, 4-7 s a candidate with 16 beside
it). Both runs keep what KernelBench's harness lacks: the OS sandbox, the kernel ablation, fresh
inputs and an L2 flush every round, and the checks again after timing. The candidates are
`kcorpus bench verify`'s set without its hanging ones (KernelBench's harness has no
per-candidate time limit of its own).
The last line is one JSON object with `candidates`, `per_min`, `kernelbench_per_min`, `ratio`
and `gpu`.

With `--release DIR` (a published release) it first checks the KernelBench export instead:
`kcorpus export kernelbench` writes the release's problems as KernelBench files, and
KernelBench's harness evaluates the first file that has a pair against that pair's Triton code
(`export_check`: the file, KernelBench's answer, and whether it judged the pair correct).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kcorpus.bench.report import print_result
from kcorpus.bench.verify import candidate_set
from kcorpus.verify import sandbox

# kernelbench/__init__.py imports its LLM-query helpers (dotenv, tqdm, openai, litellm), which
# eval never calls; a GPU node without them gets empty stand-ins so that the import succeeds
HARNESS = r"""
import importlib.util, json, sys, types, torch
for name, attrs in {"dotenv": {"load_dotenv": lambda *a, **k: None}, "tqdm": {"tqdm": iter},
                    "openai": {"OpenAI": object}, "litellm": {"completion": None}}.items():
    if importlib.util.find_spec(name) is None:
        sys.modules[name] = types.ModuleType(name)
        vars(sys.modules[name]).update(attrs)
from kernelbench.eval import eval_kernel_against_ref
ref, cand = open(sys.argv[1]).read(), open(sys.argv[2]).read()
try:
    r = eval_kernel_against_ref(ref, cand, num_correct_trials=5, num_perf_trials=100,
                                measure_performance=True, backend="triton",
                                device=torch.device("cuda:0"))
    out = r.model_dump() if hasattr(r, "model_dump") else (r.__dict__ if r is not None else None)
except Exception as e:
    out = {"error": f"{type(e).__name__}: {e}"[:500]}
print("KB_RESULT " + json.dumps(out, default=str))
"""


def kernelbench_one(kb: Path, ref: str, cand: str, timeout_s: float) -> tuple[dict | None, float]:
    with tempfile.TemporaryDirectory(prefix="kcorpus-kb-") as tmp:
        (Path(tmp) / "ref.py").write_text(ref)
        (Path(tmp) / "cand.py").write_text(cand)
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            filter(None, [str(kb / "src"), os.environ.get("PYTHONPATH", "")]))}
        t0 = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, "-c", HARNESS, f"{tmp}/ref.py", f"{tmp}/cand.py"],
                                  capture_output=True, text=True, timeout=timeout_s, env=env,
                                  cwd=tmp)
            line = next((ln for ln in done.stdout.splitlines() if ln.startswith("KB_RESULT ")), None)
            result = json.loads(line[len("KB_RESULT "):]) if line else {
                "error": done.stderr[-500:]}
        except subprocess.TimeoutExpired:
            result = {"error": f"killed after {timeout_s:.0f} s"}
        return result, time.perf_counter() - t0


def export_check(kb: Path, release: Path, timeout_s: float) -> dict:
    """One exported KernelBench file and its release pair, through KernelBench's harness."""
    import pyarrow.parquet as pq

    from kcorpus.rl.export import export

    pairs = {}
    for f in sorted(release.glob("pairs/*.parquet")):
        for row in pq.read_table(f).to_pylist():
            pairs.setdefault(row["python_code"], row)
    with tempfile.TemporaryDirectory(prefix="kcorpus-kbexport-") as tmp:
        export("kernelbench", release, Path(tmp))
        for path in sorted(Path(tmp).glob("level*/*.py")):
            pair = pairs.get(path.read_text())
            if pair is None:
                continue
            result, seconds = kernelbench_one(kb, path.read_text(), pair["triton_code"], timeout_s)
            return {"file": str(path.relative_to(tmp)), "pair_id": pair["pair_id"],
                    "kernelbench": result, "seconds": round(seconds, 1),
                    "correct": bool(result and result.get("correctness"))}
    return {"file": None, "correct": False, "error": f"{release}: no exported problem has a pair"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--kernelbench", type=Path, required=True, help="a KernelBench checkout")
    p.add_argument("--parallel", type=int, default=8)
    p.add_argument("--timeout", type=float, default=300.0)
    p.add_argument("--out", type=Path, help="every verdict and KernelBench result (JSON)")
    p.add_argument("--release", type=Path, help="check this release's KernelBench export only")
    a = p.parse_args(argv)
    a.kernelbench = a.kernelbench.resolve()  # the harness runs in a temporary directory
    if not (a.kernelbench / "src" / "kernelbench" / "eval.py").is_file():
        print(f"error: {a.kernelbench}: no src/kernelbench/eval.py (a KernelBench checkout?)",
              file=sys.stderr)
        return 2
    import torch

    if not torch.cuda.is_available():
        print("error: this bench needs a CUDA GPU (KernelBench's harness runs only there)",
              file=sys.stderr)
        return 2
    if a.release:
        check = export_check(a.kernelbench, a.release.resolve(), a.timeout)
        print(json.dumps({"export_check": check}, default=str))
        return 0 if check["correct"] else 1
    base = candidate_set(hangs=0)
    full_s, full = _ours(base, a, compile_baseline=True)
    ours_s, ours = _ours(base, a, compile_baseline=False)
    theirs, each = {}, []
    for j in base:
        theirs[j["id"]], s = kernelbench_one(a.kernelbench, j["problem_code"],
                                             j["candidate_code"], a.timeout)
        each.append(s)
    theirs_s, n = sum(each), len(base)
    result = {"gpu": torch.cuda.get_device_name(), "candidates": n, "parallel": a.parallel,
              "seconds": round(ours_s, 1), "per_min": round(60 * n / ours_s, 1),
              "seconds_with_compile_baseline": round(full_s, 1),
              "per_min_with_compile_baseline": round(60 * n / full_s, 1),
              "kernelbench_seconds": round(theirs_s, 1),
              "kernelbench_per_min": round(60 * n / theirs_s, 1),
              "kernelbench_median_s": round(statistics.median(each), 2)}
    result["ratio"] = round(result["per_min"] / result["kernelbench_per_min"], 2)
    result["ratio_with_compile_baseline"] = round(
        result["per_min_with_compile_baseline"] / result["kernelbench_per_min"], 2)
    result["kernelbench_evaluated"] = sum(1 for r in theirs.values() if r and "error" not in r)
    if a.out:
        a.out.write_text(json.dumps({"result": result, "ours": ours, "ours_with_compile": full,
                                     "kernelbench": theirs},
                                    default=str, indent=1))
    print_result(result)
    if not result["kernelbench_evaluated"]:  # its harness never ran: the ratio means nothing
        first = next(iter(theirs.values()), None) or {}
        print(f"error: KernelBench's harness evaluated none of the candidates; the first said: "
              f"{str(first.get('error', ''))[-300:]}", file=sys.stderr)
        return 1
    return 0


def _ours(base: list[dict], a, compile_baseline: bool) -> tuple[float, dict]:
    """(seconds, verdicts by id) through the fork server: 5 correctness trials, 100 timed rounds,
    with or without the torch.compile baseline (KernelBench times eager and candidate only)."""
    timing = {"trials": 100, "min_trials": 100, "compile_baseline": compile_baseline}
    jobs = [{**j, "device": "cuda", "trials": 5, "seed": 1, "timing": timing} for j in base]
    t0 = time.perf_counter()
    verdicts = {v["id"]: v for v in sandbox.run_jobs(
        jobs, sandbox.Limits(a.timeout, 8192, a.parallel), "cuda")}
    return time.perf_counter() - t0, verdicts


if __name__ == "__main__":
    sys.exit(main())
