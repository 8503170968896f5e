"""On a GPU node: one honest candidate verified on cuda inside the sandbox, printing what the
audit saw and the verdict, so a node whose CUDA stack needs a path the sandbox does not allow
is found in one command. Run: python3 -m kcorpus.bench.sandbox_probe"""

from __future__ import annotations

import json
import sys

from kcorpus.verify import sandbox
from kcorpus.verify import tricks as P


def main() -> int:
    job = {"id": "probe", "problem_code": P.PROBLEM, "candidate_code": P.HONEST, "device": "cuda",
           "trials": 2, "seed": 1, "timing": {"warmup": 2, "trials": 5}}
    (v,) = list(sandbox.run_jobs([job], sandbox.Limits(timeout_s=120, parallel=1), "cuda"))
    print(json.dumps({k: v.get(k) for k in ("passed", "failure_code", "message", "sandbox",
                                            "speedup_eager", "phase_seconds")}))
    return 0 if v.get("passed") else 1


if __name__ == "__main__":
    sys.exit(main())
