"""`python -m kcorpus.bench.corpus WORKDIR`: what a rebuild made, counted at every stage.

Reads the catalog (read-only) and the latest release under WORKDIR (`releases/NAME/latest`):
problems mined, sound problems, candidates, verdicts, passed, pure-Triton passes (no ATen compute
op recorded and, for Inductor's programs, no extern kernel), dedup clusters, pairs, pairs
flagged by decontamination, and KernelBench's problems with a pair. With `--rebuild-json FILE`
(what `kcorpus rebuild --json` printed) and `--gpu-seconds S` (the rebuild's wall time on the
GPU) it adds each stage's seconds and pairs per GPU-hour. A rebuild done in several runs, each on
a fresh machine resuming the catalog of the one before (flows/gpu_corpus.sh), records each run
with `--record-run RUNS --rebuild-json FILE --gpu-seconds S` (and `--usage FILE`: how busy the
CPUs and the card were, per stage; kcorpus.bench.usage); `--runs RUNS` then sums seconds over
them. The last line is one JSON object; `--out` also writes it to a file.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq

from kcorpus.bench import usage
from kcorpus.bench.report import print_result
from kcorpus.catalog import Catalog


def pure_triton(pair: dict) -> bool:
    sampling = json.loads(pair.get("sampling") or "{}")
    return not pair.get("torch_ops") and not sampling.get("extern_kernels")


def release_pairs(workdir: Path) -> tuple[list[dict], Path | None]:
    latest = sorted([*workdir.glob("releases/latest"), *workdir.glob("releases/*/latest")])
    if not latest:
        return [], None
    root = latest[0].resolve()
    files = sorted((root / "pairs").glob("*.parquet"))
    return [r for f in files for r in pq.read_table(f).to_pylist()], root


def catalog_counts(cat: Catalog) -> dict:
    one = cat.scalar
    return {
        "problems_mined": one("SELECT count(*) FROM problems"),
        "problems_sound": one("SELECT count(*) FROM problems JOIN probes USING (problem_id) "
                              "WHERE probes.ok"),
        "too_large_for_cpu": one("SELECT count(*) FROM probes "
                                 "WHERE list_contains(flags, 'too_large_for_cpu')"),
        "kernels_mined": one("SELECT count(*) FROM kernels"),
        "candidates": one("SELECT count(*) FROM candidates"),
        "verdicts": one("SELECT count(*) FROM verdicts"),
        "passed": one("SELECT count(*) FROM verdicts WHERE passed"),
        "timed": one("SELECT count(*) FROM verdicts WHERE passed AND speedup_eager IS NOT NULL"),
        "timed_against_compile": one("SELECT count(*) FROM verdicts "
                                     "WHERE passed AND speedup_compile IS NOT NULL"),
        "dedup_clusters": one("SELECT count(DISTINCT cluster_id) FROM dedup"),
        "decontaminated": one("SELECT count(*) FROM contamination"),
    }


def verify_phases(cat: Catalog) -> dict:
    """Where verification spent its time: children's seconds in all, and per phase the sum and
    the median over the verdicts that reached it (gpu_lock_wait: waiting for the timing lock)."""
    rows = cat.rows("SELECT seconds, phase_seconds, failure_code, gpu_peak_mb, memory_mb, flags "
                    "FROM verdicts")
    phases: dict[str, list[float]] = {}
    for r in rows:
        for name, s in json.loads(r["phase_seconds"] or "{}").items():
            phases.setdefault(name, []).append(float(s))
    codes = Counter(r["failure_code"] or "passed" for r in rows)
    flags = Counter(f for r in rows for f in r["flags"] or [])
    return {"child_seconds": round(sum(r["seconds"] or 0 for r in rows), 1),
            "phases": {n: {"sum": round(sum(v), 1), "median": round(statistics.median(v), 3)}
                       for n, v in sorted(phases.items())},
            "verdicts_by_code": dict(codes.most_common()), "flags": dict(flags.most_common()),
            "memory": memory_fit(rows)}


def memory_fit(jobs: list[dict]) -> dict:
    """How the admission estimates (memory_mb) compared with the children's real GPU peaks
    (gpu_peak_mb): the ratio peak / estimate, median and largest, over jobs that have both."""
    ratios = sorted(j["gpu_peak_mb"] / j["memory_mb"] for j in jobs
                    if j.get("gpu_peak_mb") and j.get("memory_mb"))
    if not ratios:
        return {}
    return {"jobs": len(ratios), "peak_over_estimate_median": round(statistics.median(ratios), 3),
            "peak_over_estimate_max": round(ratios[-1], 3),
            "over_estimate": sum(r > 1 for r in ratios)}


def inductor_jobs(workdir: Path) -> dict:
    """Inductor synthesis per job (synth stage's `inductor_jobs.jsonl`): compile seconds in all,
    their median and maximum, and how many jobs gave no program, by the first word of why."""
    path = workdir / "inductor_jobs.jsonl"
    if not path.is_file():
        return {}
    jobs = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    seconds = [sum((j.get("seconds") or {}).values()) for j in jobs if isinstance(
        j.get("seconds"), dict)]
    failed = Counter(filter(None, (j.get("failure_code") or (j.get("error") or "").split(":")[0]
                                   for j in jobs)))
    return {"jobs": len(jobs), "compile_seconds": round(sum(seconds), 1),
            "median_s": round(statistics.median(seconds), 2) if seconds else None,
            "max_s": max(seconds, default=None), "no_program": dict(failed),
            "memory": memory_fit(jobs)}


def summary(workdir: Path) -> dict:
    with Catalog(workdir / "catalog.duckdb", read_only=True) as cat:
        counts = catalog_counts(cat)
        phases = verify_phases(cat)
        kb = {r["problem_id"] for r in cat.rows(
            "SELECT p.problem_id FROM problems p JOIN sources s USING (source_id) "
            "WHERE s.repo_name LIKE '%KernelBench%'")}
        kb_levels = {r["name"]: r["n"] for r in cat.rows(
            "SELECT s.repo_name AS name, count(*) AS n FROM problems p "
            "JOIN sources s USING (source_id) WHERE s.repo_name LIKE '%KernelBench%' "
            "GROUP BY s.repo_name")}
        passed = {r["problem_id"] for r in cat.rows(
            "SELECT DISTINCT c.problem_id FROM verdicts v JOIN candidates c USING (candidate_id) "
            "WHERE v.passed")}
    pairs, root = release_pairs(workdir)
    pure = [p for p in pairs if pure_triton(p)]
    speedups = sorted(p["speedup_eager"] for p in pairs if p.get("speedup_eager"))
    return {"gpu": pairs[0]["gpu_name"] if pairs else None,
            "arch": pairs[0]["arch"] if pairs else None, **counts,
            "pairs": len(pairs), "pairs_pure_triton": len(pure),
            "problems_with_pair": len({p["problem_id"] for p in pairs}),
            "problems_with_pure_triton_pair": len({p["problem_id"] for p in pure}),
            "kernelbench_problems": len(kb), "kernelbench_by_source": kb_levels,
            "kernelbench_problems_with_pair": len({p["problem_id"] for p in pairs} & kb),
            "kernelbench_problems_with_pure_triton_pair": len({p["problem_id"] for p in pure} & kb),
            # before dedup keeps one pair of each near cluster (KernelBench's problems that
            # differ only in sizes are near copies)
            "kernelbench_problems_with_verified_pass": len(passed & kb),
            "median_speedup_eager": speedups[len(speedups) // 2] if speedups else None,
            "release": str(root) if root else None, "verify": phases,
            "synth_inductor": inductor_jobs(workdir)}


def stage_seconds(rebuild_json: Path) -> dict:
    """Each stage's seconds, from the last line `kcorpus rebuild --json` printed."""
    stages = json.loads(rebuild_json.read_text().strip().splitlines()[-1])
    return {k: v.get("seconds") for k, v in stages.items() if isinstance(v, dict)}


def over_runs(runs: list[dict]) -> dict:
    """A rebuild done in several runs (each resuming the catalog of the one before, on a fresh
    machine): GPU seconds and each stage's seconds summed over them, and the runs themselves."""
    stages: dict[str, float] = {}
    for run in runs:
        for name, s in (run.get("stage_seconds") or {}).items():
            stages[name] = round(stages.get(name, 0.0) + (s or 0.0), 1)
    return {"gpu_seconds": round(sum(r["gpu_seconds"] for r in runs), 1),
            "stage_seconds": stages, "runs": runs}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("workdir", type=Path, nargs="?")
    p.add_argument("--rebuild-json", type=Path, help="what `kcorpus rebuild --json` printed")
    p.add_argument("--gpu-seconds", type=float, help="the rebuild's wall-clock seconds")
    p.add_argument("--record-run", type=Path, metavar="RUNS",
                   help="append this run (--rebuild-json, --gpu-seconds) to RUNS (JSONL), only")
    p.add_argument("--usage", type=Path, help="with --record-run: the run's samples of CPU and "
                   "GPU use (kcorpus.bench.usage), summed up per stage into the run's record")
    p.add_argument("--runs", type=Path, help="a RUNS file: the rebuild was done in these runs")
    p.add_argument("--out", type=Path)
    a = p.parse_args(argv)
    if a.record_run:
        if not (a.rebuild_json and a.rebuild_json.is_file() and a.gpu_seconds):
            print("error: --record-run needs --rebuild-json FILE and --gpu-seconds", file=sys.stderr)
            return 2
        run = {"gpu_seconds": round(a.gpu_seconds, 1), "stage_seconds": stage_seconds(a.rebuild_json)}
        if a.usage:
            run["usage"] = usage.summarize(a.usage, run["stage_seconds"])
        with a.record_run.open("a") as f:
            f.write(json.dumps(run) + "\n")
        return 0
    if a.workdir is None or not (a.workdir / "catalog.duckdb").is_file():
        print(f"error: {a.workdir}: no catalog.duckdb here", file=sys.stderr)
        return 2
    result = summary(a.workdir)
    if a.runs:
        if not a.runs.is_file():
            print(f"error: --runs {a.runs}: no such file", file=sys.stderr)
            return 2
        result.update(over_runs([json.loads(ln) for ln in a.runs.read_text().splitlines()
                                 if ln.strip()]))
    else:
        if a.rebuild_json and a.rebuild_json.is_file():
            result["stage_seconds"] = stage_seconds(a.rebuild_json)
        if a.gpu_seconds:
            result["gpu_seconds"] = round(a.gpu_seconds, 1)
    if result.get("gpu_seconds"):
        result["pairs_per_gpu_hour"] = round(result["pairs"] * 3600 / result["gpu_seconds"], 1)
    if a.out:
        a.out.write_text(json.dumps(result, indent=2) + "\n")
    print_result(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
