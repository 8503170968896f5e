"""`kcorpus bench mine PATH...`: files per second of extraction beside bare `ast.parse`.

Both run over the same Python files in the same process run. The ceiling is `ast.parse` alone,
one process, over sources already in memory. Extraction is the mine stage's own per-file work
(read, decode, parse, index, canonicalise modules, collect kernels, build rows with their hashed
ids) over `--workers` processes, reading the files itself; its rate excludes the trials and the
kernel check.

Kernels: `jit_functions` counts the `@triton.jit` functions of the parsed files (any depth, by
bare `ast`), `kernels` those the extractor kept, each with its closure; the kernels flagged
standalone are then checked under Triton's interpreter in sandboxed children
(`kernels_standalone`), and `needs_repo_top` gives the commonest reasons of the rest.

A module counts as `guessed` when it got guessed programs for the problems stage to try. With
`--trials`, those programs then run in the sandbox as the problems stage runs them (CPU, the
same workers), and `runnable` counts the modules with inputs of their own plus those a guess
made sound; without it, `runnable` counts only the former. The table by kind splits modules by
class name (activations, norms, pooling, MLPs, attention, the rest): the first four are the
simple modules a new user expects to come out runnable.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path

from kcorpus.bench.report import peak_rss_mb
from kcorpus.config import MineConfig
from kcorpus.mine.files import list_python_files
from kcorpus.mine.kernel_check import CheckConfig, check_kernels
from kcorpus.mine.per_file import mine_tree
from kcorpus.problems import repairing
from kcorpus.verify import sandbox, stream

KINDS = [("norm", r"norm"), ("pooling", r"pool"), ("mlp", r"mlp|feedforward|ffn|glu"),
         ("activation", r"relu|gelu|silu|swish|mish|sigmoid|tanh|softplus|elu$|^act|activation"),
         ("attention", r"attn|attention"), ("other", r"")]
SIMPLE = ("norm", "pooling", "mlp", "activation")


def kind(class_name: str) -> str:
    return next(k for k, pattern in KINDS if re.search(pattern, class_name, re.I))


def _sources(paths: list[Path]) -> list[str]:
    out = []
    for root in paths:
        for p in list_python_files(root):
            try:
                out.append(p.read_bytes().decode("utf-8"))
            except (UnicodeDecodeError, OSError):
                continue
    return out


def parse_rate(sources: list[str]) -> tuple[int, float, int]:
    """(files parsed, seconds, `@triton.jit` functions in them at any depth: the kernels'
    denominator, counted apart from the extractor). The count is outside the timing."""
    t0 = time.perf_counter()
    trees = []
    for src in sources:
        try:
            trees.append(ast.parse(src))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass
    seconds = time.perf_counter() - t0
    return len(trees), seconds, sum(map(_jit_functions, trees))


def _jit_functions(tree: ast.Module) -> int:
    return sum(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
        re.search(r"\btriton\.jit\b|^jit$", ast.unparse(d).split("(")[0]) for d in n.decorator_list)
        for n in ast.walk(tree))


def extract(paths: list[Path], workers: int) -> tuple[dict, float, list[dict]]:
    """Counts, seconds, and one record per module class: its kind and what became of it."""
    cfg = MineConfig()
    counts = {"files": 0, "modules": 0, "runnable": 0, "guessed": 0, "kernels": 0,
              "rejected_files": 0}
    modules, kernels = [], []
    t0 = time.perf_counter()
    for root in paths:
        for rows in mine_tree(root, "bench", cfg.max_file_bytes, set(cfg.allowed_imports),
                              workers):
            counts["files"] += 1
            counts["modules"] += len(rows.modules)
            counts["runnable"] += len(rows.problems)
            counts["guessed"] += len(rows.guesses)
            counts["kernels"] += len(rows.kernels)
            kernels += rows.kernels
            counts["rejected_files"] += any(r["item"] == "" for r in rows.rejects)
            modules += _module_records(rows)
    return counts, time.perf_counter() - t0, modules, kernels


def kernel_flags(kernels: list[dict], workers: int) -> dict:
    """The sandbox check of the kernels flagged standalone (kernel_check.py), and the counts."""
    t0 = time.perf_counter()
    standalone = check_kernels(kernels, CheckConfig(workers=workers))
    why = Counter(re.sub(r"'[^']*'|\b\d+\b", "…", k["needs"])[:90]
                  for k in kernels if not k["standalone"])
    return {"kernels_standalone": standalone, "kernels_needs_repo": len(kernels) - standalone,
            "kernel_check_seconds": round(time.perf_counter() - t0, 1),
            "needs_repo_top": dict(why.most_common(8))}


def _module_records(rows) -> list[dict]:
    own = {p["entry_point"] for p in rows.problems}
    guesses = {g["entry_point"]: g for g in rows.guesses}
    reasons = {r["item"]: r["reason"] for r in rows.rejects}
    return [{"name": name, "kind": kind(name), "own": name in own, "guess": guesses.get(name),
             "reason": reasons.get(name, "")} for name in rows.modules]


def trials(modules: list[dict], workers: int) -> tuple[int, float]:
    """Run every guessed module's programs in the sandbox, with the problems stage's repair
    rounds; mark `runnable`. (made runnable, s)"""
    jobs = [{"kind": "probe", "id": str(i), "programs": m["guess"]["programs"], "device": "cpu"}
            for i, m in enumerate(modules) if m["guess"] is not None]
    guesses = {j["id"]: {"programs": j["programs"]} for j in jobs}
    limits = sandbox.Limits(timeout_s=60, parallel=workers)
    t0 = time.perf_counter()
    made = 0
    for answer in repairing(jobs, guesses,
                            lambda js, follow: stream.run_stream(js, follow, limits, "cpu")):
        m = modules[int(answer["id"])]
        m["runnable"] = answer.get("ok") is not None
        m["reason"] = "" if m["runnable"] else "not_runnable"
        tried = answer.get("tried") or [{"error": answer.get("failure_code", "no answer")}]
        last = next((t["error"] for t in reversed(tried) if "error" in t), "degenerate outputs")
        m["error"] = "" if m["runnable"] else re.sub(r"'[^']*'|\b\d+\b", "…", last)[:80]
        made += m["runnable"]
    return made, time.perf_counter() - t0


def by_kind(modules: list[dict], tried: bool) -> dict[str, dict]:
    out = {}
    for k, _ in KINDS:
        ms = [m for m in modules if m["kind"] == k]
        runnable = sum(m["own"] or m.get("runnable", False) for m in ms)
        out[k] = {"modules": len(ms), "guessed": sum(m["guess"] is not None for m in ms),
                  "runnable": runnable if tried else None,
                  "top_rejects": dict(Counter(m["reason"] for m in ms if m["reason"]).most_common(3))}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--trials", action="store_true",
                   help="also run the guessed programs in the sandbox (CPU) and count runnable")
    a = p.parse_args(argv)
    missing = [str(x) for x in a.paths if not x.is_dir()]
    if missing:
        print(f"error: not a directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    sources = _sources(a.paths)
    parsed, t_parse, jit_functions = parse_rate(sources)
    del sources
    counts, t_extract, modules, kernels = extract(a.paths, a.workers)
    peak = peak_rss_mb()  # before the trials, whose torch workers are not extraction's
    flags = kernel_flags(kernels, a.workers)
    if a.trials:
        made, t_trials = trials(modules, a.workers)
        counts["runnable"] += made
    kinds = by_kind(modules, a.trials)
    simple = [m for m in modules if m["kind"] in SIMPLE]
    result = {
        **counts, "workers": a.workers,
        "ast_parse_files": parsed, "ast_parse_seconds": round(t_parse, 3),
        "ast_parse_files_per_s": round(parsed / t_parse, 1) if t_parse else None,
        "extract_seconds": round(t_extract, 3),
        "extract_files_per_s": round(counts["files"] / t_extract, 1) if t_extract else None,
        "peak_rss_mb": peak,
        "jit_functions": jit_functions,
        "kernels_kept_share": round(counts["kernels"] / jit_functions, 3) if jit_functions else None,
        **flags,
    }
    result["extract_vs_parse"] = (round(result["extract_files_per_s"] / result["ast_parse_files_per_s"], 2)
                                  if result["ast_parse_files_per_s"] else None)
    if a.trials:
        result["trials_seconds"] = round(t_trials, 1)
        result["not_runnable_top"] = dict(Counter(m["error"] for m in modules
                                                  if m.get("error")).most_common(12))
        result["simple_modules"] = len(simple)
        result["simple_runnable"] = sum(kinds[k]["runnable"] for k in SIMPLE)
    result["by_kind"] = kinds
    _print_table(result, kinds)
    print(json.dumps(result))
    return 0


def _print_table(result: dict, kinds: dict) -> None:
    width = max(len(k) for k in result)
    for k, v in result.items():
        if k != "by_kind":
            print(f"{k:<{width}}  {v}")
    print(f"\n{'kind':<11} {'modules':>7} {'guessed':>7} {'runnable':>8}  top rejects")
    for k, row in kinds.items():
        runnable = "-" if row["runnable"] is None else row["runnable"]
        print(f"{k:<11} {row['modules']:>7} {row['guessed']:>7} {runnable:>8}  {row['top_rejects']}")


if __name__ == "__main__":
    sys.exit(main())
