"""`kcorpus bench mine PATH...`: files per second of extraction beside bare `ast.parse`.

Both run over the same Python files in the same process run. The ceiling is `ast.parse` alone,
one process, over sources already in memory. Extraction is the mine stage's own per-file work
(read, decode, parse, index, canonicalise modules, collect kernels, build rows with their hashed
ids) over `--workers` processes, reading the files itself. No runnability trials run here: a
module counts as `runnable` when it became a canonical problem from inputs its file defines,
and as `guessed` when it got guessed programs for the problems stage to try.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import ast
import json
import resource
import sys
import time
from pathlib import Path

from kcorpus.config import MineConfig
from kcorpus.mine.files import list_python_files
from kcorpus.mine.per_file import mine_tree


def _sources(paths: list[Path]) -> list[str]:
    out = []
    for root in paths:
        for p in list_python_files(root):
            try:
                out.append(p.read_bytes().decode("utf-8"))
            except (UnicodeDecodeError, OSError):
                continue
    return out


def parse_rate(sources: list[str]) -> tuple[int, float]:
    t0 = time.perf_counter()
    parsed = 0
    for src in sources:
        try:
            ast.parse(src)
            parsed += 1
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass
    return parsed, time.perf_counter() - t0


def extract(paths: list[Path], workers: int) -> tuple[dict, float]:
    cfg = MineConfig()
    counts = {"files": 0, "modules": 0, "runnable": 0, "guessed": 0, "kernels": 0,
              "rejected_files": 0}
    t0 = time.perf_counter()
    for root in paths:
        for rows in mine_tree(root, "bench", cfg.max_file_bytes, set(cfg.allowed_imports),
                              workers):
            counts["files"] += 1
            counts["modules"] += rows.modules
            counts["runnable"] += len(rows.problems)
            counts["guessed"] += len(rows.guesses)
            counts["kernels"] += len(rows.kernels)
            counts["rejected_files"] += any(r["item"] == "" for r in rows.rejects)
    return counts, time.perf_counter() - t0


def _peak_rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, kids) / 1024, 1)  # Linux reports KiB


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("paths", nargs="+", type=Path)
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args(argv)
    missing = [str(x) for x in a.paths if not x.is_dir()]
    if missing:
        print(f"error: not a directory: {', '.join(missing)}", file=sys.stderr)
        return 2
    sources = _sources(a.paths)
    parsed, t_parse = parse_rate(sources)
    del sources
    counts, t_extract = extract(a.paths, a.workers)
    result = {
        **counts, "workers": a.workers,
        "ast_parse_files": parsed, "ast_parse_seconds": round(t_parse, 3),
        "ast_parse_files_per_s": round(parsed / t_parse, 1) if t_parse else None,
        "extract_seconds": round(t_extract, 3),
        "extract_files_per_s": round(counts["files"] / t_extract, 1) if t_extract else None,
        "peak_rss_mb": _peak_rss_mb(),
    }
    result["extract_vs_parse"] = (round(result["extract_files_per_s"] / result["ast_parse_files_per_s"], 2)
                                  if result["ast_parse_files_per_s"] else None)
    width = max(len(k) for k in result)
    for k, v in result.items():
        print(f"{k:<{width}}  {v}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
