"""`kcorpus bench verify`: candidates per minute of the fork-server pool, beside a fresh
interpreter per candidate run one after another (KernelBench's way), on the same candidates.

The candidate set is fixed (see `candidate_set`): the sample pipeline's problems and recorded
completions; for every sample completion recorded as `pass`, a wrong variant (the first stored
value scaled by 1.5) and a crashing one (its first load moved 2^30 elements out of bounds); a few
hanging ones (a spin loop in forward); and the verifier tests' own programs. Both modes do the
same work per candidate and compile each problem's torch.compile baseline from a cache: the
fresh interpreters share one Inductor cache, and the pool compiles each problem's baseline once
and hands each candidate a copy of it (verify/caches.py). So they differ only in how processes
are started and how many candidates are in flight. The pool runs twice, to check that verdicts
repeat and median speedups stay put.

Runs with only the standard library, torch and triton (GPU nodes): `python -m kcorpus.bench.verify`.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from kcorpus.mine import canonical, extract
from kcorpus.mine.files import read_python_file
from kcorpus.synth.parse import extract_program
from kcorpus.verify import sandbox

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "pipelines" / "sample"


@dataclass(frozen=True)
class BenchConfig:
    device: str = "cuda"
    parallel: int = 8
    timeout_s: float = 60.0
    trials: int = 5
    timing_trials: int = 30
    hangs: int = 2
    baseline: bool = True
    forward_timeout_s: float = 10.0
    against: str | None = None  # another checkout whose verifier runs the same jobs
    repeat: bool = True


# -- the candidate set -------------------------------------------------------------------------

class _Mutate(ast.NodeTransformer):
    """Changes the first call to `tl.<fn>` with `change(call)`."""

    def __init__(self, fn: str, change):
        self.fn, self.change, self.done = fn, change, False

    def visit_Call(self, node: ast.Call):
        self.generic_visit(node)
        if not self.done and ast.unparse(node.func) == f"tl.{self.fn}" and len(node.args) >= 1:
            self.done = True
            self.change(node)
        return node


def _mutate(code: str, fn: str, change) -> str | None:
    tree = ast.parse(code)
    m = _Mutate(fn, change)
    m.visit(tree)
    return ast.unparse(ast.fix_missing_locations(tree)) if m.done else None


def wrong_variant(code: str) -> str | None:
    def scale(call: ast.Call) -> None:
        if len(call.args) >= 2:
            call.args[1] = ast.BinOp(call.args[1], ast.Mult(), ast.Constant(1.5))
    return _mutate(code, "store", scale)


def crash_variant(code: str) -> str | None:
    def shift(call: ast.Call) -> None:
        call.args[0] = ast.BinOp(call.args[0], ast.Add(), ast.Constant(1 << 30))
        call.keywords = [k for k in call.keywords if k.arg not in ("mask", "other")]
    return _mutate(code, "load", shift)


def hang_variant(code: str) -> str:
    spin = "        spin = 1\n        while spin > 0:\n            spin += 1\n"
    head, sep, tail = code.partition("    def forward(self")
    line_end = tail.index(":\n") + 2
    return head + sep + tail[:line_end] + spin + tail[line_end:]


def sample_problems() -> dict[str, str]:
    """Canonical problem code by path, from the sample repository (AST only)."""
    out = {}
    repo = SAMPLE / "repo"
    for path in sorted(repo.rglob("*.py")):
        f = read_python_file(repo, path, 512_000)
        if f.tree is None:
            continue
        probs, _ = canonical.problems_from_file(extract.index_file(f.source, f.tree),
                                                {"torch", "math", "numpy"})
        if probs:
            out[f.path] = probs[0].code
    return out


def candidate_set(hangs: int = 2) -> list[dict]:
    """The fixed benchmark set: (id, problem_code, candidate_code) jobs."""
    from kcorpus.verify import tricks as P  # the verifier tests' own programs

    problems = sample_problems()
    jobs, passing = [], []
    records = [json.loads(line) for line in (SAMPLE / "completions.jsonl").read_text().splitlines()]
    for i, rec in enumerate(records):
        code = extract_program(rec["completion"])
        jobs.append((f"sample-{i:02d}-{rec['expect']}", problems[rec["path"]], code))
        if rec["expect"] == "pass":
            passing.append((i, problems[rec["path"]], code))
    for i, prob, code in passing:
        for kind, make in (("wrong", wrong_variant), ("crash", crash_variant)):
            variant = make(code)
            if variant is not None:
                jobs.append((f"sample-{i:02d}-{kind}", prob, variant))
    for i, prob, code in passing[:hangs]:
        jobs.append((f"sample-{i:02d}-hang", prob, hang_variant(code)))
    for name in ("HONEST", "WRONG", "TWO_KERNELS", "SEGFAULT", "NO_LAUNCH", "FREED_BUFFER"):
        jobs.append((f"tests-{name.lower()}", P.PROBLEM, getattr(P, name)))
    jobs.append(("tests-strided", P.STRIDED_PROBLEM, P.STRIDED))
    return [{"id": i, "problem_code": p, "candidate_code": c} for i, p, c in jobs]


# -- the runs ----------------------------------------------------------------------------------

def _jobs(cfg: BenchConfig, base: list[dict]) -> list[dict]:
    return [{**j, "device": cfg.device, "trials": cfg.trials, "seed": 1,
             "forward_timeout_s": cfg.forward_timeout_s, "timing": {"trials": cfg.timing_trials}}
            for j in base]


def run_pool(cfg: BenchConfig, jobs: list[dict], cache: str, worker: str | None = None
             ) -> tuple[dict, float]:
    limits = sandbox.Limits(cfg.timeout_s, 8192, cfg.parallel, inductor_cache=cache, worker=worker)
    t0 = time.perf_counter()
    verdicts = {v["id"]: v for v in sandbox.run_jobs(jobs, limits, cfg.device)}
    return verdicts, time.perf_counter() - t0


def run_fresh(cfg: BenchConfig, jobs: list[dict], cache: str) -> tuple[dict, float]:
    limits = sandbox.Limits(cfg.timeout_s, 8192, 1, inductor_cache=cache)
    t0 = time.perf_counter()
    verdicts = {j["id"]: sandbox.run_job(j, limits) for j in jobs}
    return verdicts, time.perf_counter() - t0


def _codes(verdicts: dict) -> dict[str, str]:
    return {k: v.get("failure_code") or "PASS" for k, v in verdicts.items()}


def speedup_drift(a: dict, b: dict) -> float | None:
    """Median over candidates timed in both runs of |speedup_b / speedup_a - 1|."""
    drifts = [abs(b[k]["speedup_eager"] / a[k]["speedup_eager"] - 1) for k in a
              if k in b and a[k].get("speedup_eager") and b[k].get("speedup_eager")]
    return statistics.median(drifts) if drifts else None


def _median_seconds(verdicts: dict) -> float | None:
    xs = [v["seconds"] for v in verdicts.values() if v.get("seconds")]
    return round(statistics.median(xs), 3) if xs else None


def run(cfg: BenchConfig) -> dict:
    jobs = _jobs(cfg, candidate_set(cfg.hangs))
    with tempfile.TemporaryDirectory(prefix="kcorpus-bench-") as cache:
        first, t_first = run_pool(cfg, jobs, cache)
        second, t_second = run_pool(cfg, jobs, cache) if cfg.repeat else (first, t_first)
        fresh, t_fresh = run_fresh(cfg, jobs, cache) if cfg.baseline else ({}, None)
        other_worker = Path(cfg.against).resolve() / "kcorpus" / "verify" / "worker.py" \
            if cfg.against else None
        other, t_other = run_pool(cfg, jobs, cache, str(other_worker)) if other_worker else ({}, None)
    gpu = next((v.get("gpu_name") for v in first.values() if v.get("gpu_name")), "cpu")
    arch = next((v.get("gpu_arch") for v in first.values() if v.get("gpu_arch")), "cpu")
    speedups = [v["speedup_eager"] for v in first.values() if v.get("speedup_eager")]
    return {
        "candidates": len(jobs), "device": cfg.device, "gpu": gpu, "arch": arch,
        "parallel": cfg.parallel, "timeout_s": cfg.timeout_s,
        "forward_timeout_s": cfg.forward_timeout_s, "seconds": round(t_first, 2),
        "per_min": round(len(jobs) / t_first * 60, 1),
        "repeat_seconds": round(t_second, 2),
        "baseline_seconds": round(t_fresh, 2) if t_fresh else None,
        "baseline_per_min": round(len(jobs) / t_fresh * 60, 1) if t_fresh else None,
        "speedup_vs_baseline": round(t_fresh / t_first, 2) if t_fresh else None,
        "verdicts_equal": _codes(first) == _codes(fresh) if fresh else None,
        "against": cfg.against, "against_seconds": round(t_other, 2) if t_other else None,
        "against_per_min": round(len(jobs) / t_other * 60, 1) if t_other else None,
        "against_verdict_counts": dict(Counter(_codes(other).values())) if other else None,
        "changed_verdicts": {k: f"{_codes(other)[k]} -> {_codes(first)[k]}" for k in first
                             if other and _codes(other).get(k) != _codes(first)[k]},
        "repeat_verdicts_equal": _codes(first) == _codes(second),
        "repeat_median_speedup_drift": speedup_drift(first, second),
        "median_speedup_eager": statistics.median(speedups) if speedups else None,
        "median_candidate_seconds": _median_seconds(first),
        "baseline_median_candidate_seconds": _median_seconds(fresh) if fresh else None,
        "verdict_counts": dict(Counter(_codes(first).values())),
        "verdicts": {k: {"code": _codes(first)[k], "message": (first[k].get("message") or "")[:160],
                         "speedup_eager": first[k].get("speedup_eager"),
                         "speedup_compile": first[k].get("speedup_compile"),
                         "seconds": first[k].get("seconds"),
                         "phase_seconds": first[k].get("phase_seconds"),
                         "baseline_seconds": fresh.get(k, {}).get("seconds") if fresh else None,
                         "repeat_code": _codes(second).get(k),
                         "repeat_message": (second.get(k, {}).get("message") or "")[:300]
                         if _codes(second).get(k) != _codes(first)[k] else "",
                         "baseline_code": _codes(fresh).get(k) if fresh else None}
                     for k in sorted(first)},
    }


def table(result: dict) -> str:
    rows = [("mode", "candidates", "seconds", "per_min"),
            (f"fork pool x{result['parallel']}", result["candidates"], result["seconds"],
             result["per_min"]),
            ("fork pool (repeat)", result["candidates"], result["repeat_seconds"],
             round(result["candidates"] / result["repeat_seconds"] * 60, 1))]
    if result["baseline_seconds"]:
        rows.append(("fresh process each", result["candidates"], result["baseline_seconds"],
                     result["baseline_per_min"]))
    if result["against_seconds"]:
        rows.append((f"against {Path(result['against']).name}", result["candidates"],
                     result["against_seconds"], result["against_per_min"]))
    lines = [" | ".join(f"{c!s:>20}" for c in r) for r in rows]
    lines.append(f"gpu: {result['gpu']} ({result['arch']})  verdicts equal: "
                 f"{result['verdicts_equal']}  repeat equal: {result['repeat_verdicts_equal']}  "
                 f"median speedup drift: {result['repeat_median_speedup_drift']}")
    lines.append("verdicts: " + ", ".join(f"{k} {n}" for k, n in
                                          sorted(result["verdict_counts"].items())))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="candidates per minute: fork pool vs fresh processes")
    p.add_argument("--device", default="cuda", choices=("cpu", "cuda"))
    p.add_argument("--parallel", type=int, default=8)
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--trials", type=int, default=5)
    p.add_argument("--timing-trials", type=int, default=30)
    p.add_argument("--hangs", type=int, default=2)
    p.add_argument("--no-baseline", action="store_true")
    p.add_argument("--no-repeat", action="store_true", help="run the pool once, not twice")
    p.add_argument("--against", help="another kcorpus checkout: its verifier runs the same jobs")
    p.add_argument("--forward-timeout", type=float, default=10.0,
                   help="seconds of Python in forward outside Triton launches before a hang")
    p.add_argument("--out", type=Path, help="write the full result (every verdict) here")
    a = p.parse_args(argv)
    cfg = BenchConfig(a.device, a.parallel, a.timeout, a.trials, a.timing_trials, a.hangs,
                      not a.no_baseline, a.forward_timeout, a.against, not a.no_repeat)
    result = run(cfg)
    if a.out:
        a.out.write_text(json.dumps(result, indent=1))
    print(table(result))
    summary = {k: v for k, v in result.items() if k != "verdicts"}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
