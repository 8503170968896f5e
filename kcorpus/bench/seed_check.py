"""Does a candidate child's torch.compile baseline work from its problem's seeded caches?
(GPU only: on the CPU the verifier times nothing, so no baseline is compiled.)

Honest candidates of one problem through the real fork server (pool.py: a baseline job, then
candidates seeded with its caches), printing each verdict's flags, `compile_error` (which the
catalog does not keep) and phase seconds. On the H200 in session 15 it showed why 0.3.2's
seeded compiles failed (RESULTS.md).

    python -m kcorpus.bench.seed_check [--n 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def sandboxed(n: int) -> dict:
    from kcorpus.verify import sandbox
    from kcorpus.verify import tricks as P

    job = {"problem_code": P.PROBLEM, "candidate_code": P.HONEST, "device": "cuda", "trials": 2,
           "timing": {"budget_s": 0.2}}
    limits = sandbox.Limits(timeout_s=180, parallel=2)
    got = {}
    for v in sandbox.run_jobs([{**job, "id": f"c{i}"} for i in range(n)], limits, "cuda"):
        got[v["id"]] = {k: v.get(k) for k in ("passed", "flags", "compile_error", "phase_seconds")}
        print(v["id"], got[v["id"]], flush=True)
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    result = {"sandbox": sandboxed(args.n)}
    if args.out:
        args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
