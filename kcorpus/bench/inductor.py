"""`python -m kcorpus.bench.inductor`: Inductor candidates for a set of problems, verified (GPU).

Mines the problems (files that define their inputs) under the given directories, generates one
candidate per problem and mode with the inductor backend (each in a sandboxed GPU worker),
verifies every candidate in the fork-server pool on the GPU, and prints one row per candidate
(extern kernels it still calls, verdict, speedups over eager and over torch.compile), then a
summary and one JSON line. Needs torch, triton and a CUDA GPU; not pydantic, DuckDB or Prefect.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

from kcorpus import optypes
from kcorpus.mine.per_file import mine_tree
from kcorpus.synth.backend import candidate_row
from kcorpus.synth.inductor import InductorBackend
from kcorpus.verify import sandbox

ALLOWED = {"torch", "math", "typing", "functools", "collections", "itertools", "__future__"}
DEFAULT_PATHS = [Path("pipelines/sample/repo"), Path(__file__).parent / "inductor_problems"]


def problems_under(paths: list[Path]) -> list[dict]:
    out = []
    for root in paths:
        for rows in mine_tree(root, "bench", 512_000, ALLOWED, 1):
            out += rows.problems
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("paths", nargs="*", type=Path, default=DEFAULT_PATHS)
    p.add_argument("--modes", nargs="+", default=["default", "triton_templates"])
    p.add_argument("--parallel", type=int, default=8)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per generation")
    p.add_argument("--verify-timeout", type=float, default=180.0)
    p.add_argument("--out", type=Path)
    a = p.parse_args(argv)
    problems = problems_under(a.paths)
    backend = InductorBackend(
        SimpleNamespace(modes=a.modes, max_problems=None, timeout_s=a.timeout),
        SimpleNamespace(memory_mb=16384, workers=a.parallel))
    t0 = time.perf_counter()
    completions, rejects = backend.generate(problems)
    t_gen = time.perf_counter() - t0
    by_problem = {q["problem_id"]: q for q in problems}
    cands = [candidate_row(c) for c in completions]
    jobs = [{"id": c["candidate_id"], "problem_code": by_problem[c["problem_id"]]["code"],
             "candidate_code": c["code"], "device": "cuda", "trials": 5, "seed": 1,
             "lenient": False, "forward_timeout_s": 30.0, "generated": "inductor"}
            for c in cands]
    t0 = time.perf_counter()
    verdicts = {v["id"]: v for v in sandbox.run_jobs(
        jobs, sandbox.Limits(timeout_s=a.verify_timeout, parallel=a.parallel), "cuda")}
    t_verify = time.perf_counter() - t0
    rows = [_row(c, by_problem[c["problem_id"]], verdicts.get(c["candidate_id"], {}))
            for c in cands]
    summary = _summary(problems, rows, rejects, t_gen, t_verify, verdicts)
    _print(rows, rejects, summary)
    if a.out:
        a.out.write_text(json.dumps({"summary": summary, "rows": rows, "rejects": rejects,
                                     "answers": backend.answers}, indent=1, default=str))
    print(json.dumps(summary))
    return 0


def _row(cand: dict, problem: dict, v: dict) -> dict:
    settings = json.loads(cand["sampling"])
    return {"entry_point": problem["entry_point"], "origin_path": problem["origin_path"],
            "op_types": optypes.op_types(problem["code"]), "mode": settings["mode"],
            "extern_kernels": settings["extern_kernels"],
            "dynamic_batch": settings["dynamic_batch"], "passed": bool(v.get("passed")),
            "failure_code": v.get("failure_code", "NO_VERDICT"),
            "message": (v.get("message") or "")[:300], "torch_ops": v.get("torch_ops", []),
            "launches": v.get("triton_launches"), "speedup_eager": v.get("speedup_eager"),
            "speedup_compile": v.get("speedup_compile"), "candidate_ms": v.get("candidate_ms"),
            "eager_ms": v.get("eager_ms"), "compile_ms": v.get("compile_ms"),
            "flags": v.get("flags", [])}


def _summary(problems, rows, rejects, t_gen, t_verify, verdicts) -> dict:
    passed = [r for r in rows if r["passed"]]
    pure = [r for r in passed if not r["extern_kernels"] and not r["torch_ops"]]
    gemm = [r for r in pure if {"matmul", "conv"} & set(r["op_types"])]
    any_v = next(iter(verdicts.values()), {})
    return {"problems": len(problems), "candidates": len(rows), "generation_failed": len(rejects),
            "passed": len(passed),
            "problems_verified": len({r["origin_path"] + r["entry_point"] for r in passed}),
            "pure_triton_passed": len(pure),
            "matmul_conv_pure_triton_problems": len({r["origin_path"] for r in gemm}),
            "gpu": any_v.get("gpu_name"), "arch": any_v.get("gpu_arch"),
            "torch": any_v.get("torch_version"), "triton": any_v.get("triton_version"),
            "generate_seconds": round(t_gen, 1), "verify_seconds": round(t_verify, 1)}


def _print(rows, rejects, summary) -> None:
    print(f"{'problem':<28} {'mode':<16} {'extern':<14} {'verdict':<16} {'x eager':>8} "
          f"{'x compile':>9}")
    for r in sorted(rows, key=lambda r: (r["origin_path"], r["mode"])):
        name = Path(r["origin_path"]).stem
        verdict = "PASS" if r["passed"] else r["failure_code"]
        se = f"{r['speedup_eager']:.2f}" if r["speedup_eager"] else "-"
        sc = f"{r['speedup_compile']:.2f}" if r["speedup_compile"] else "-"
        print(f"{name:<28} {r['mode']:<16} {','.join(r['extern_kernels']) or '-':<14} "
              f"{verdict:<16} {se:>8} {sc:>9}")
    for r in rejects:
        print(f"generation failed: {r['path']} {r['item']}: {r['detail'][:200]}")
    for k, v in summary.items():
        print(f"{k:<34} {v}")


if __name__ == "__main__":
    sys.exit(main())
