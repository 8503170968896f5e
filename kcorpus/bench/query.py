"""`kcorpus bench query --rows N`: filter a release of N `pairs` rows by op type and arch.

Writes a synthetic release of the real `pairs` schema (N rows, code columns of about 500
bytes each, the other text columns null, 12 op types x 4 archs, sorted by op type and arch as
publish sorts them, 50,000-row groups, zstd), then times `kcorpus query --op softmax --arch
sm_90` (DuckDB over the Parquet, skipping row groups by their statistics) beside reading the
whole release with pandas and filtering it, in the same run. Each is run `--repeat` times; the
best time counts. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from kcorpus import schema
from kcorpus.bench.report import print_result
from kcorpus.publish.local import ROW_GROUP_ROWS, write_shards
from kcorpus.query import query_release

OPS = ["attention", "conv", "matmul", "norm", "softmax", "pooling", "loss", "scan", "reduction",
       "indexing", "elementwise", "unknown"]
ARCHS = ["cpu", "sm_80", "sm_89", "sm_90"]


def synthetic_pairs(rows: int, seed: int = 0) -> pa.Table:
    rng = np.random.default_rng(seed)
    rec = schema.config("pairs")
    ids = np.char.mod("%032x", np.arange(rows))
    op = np.array(OPS)[rng.integers(len(OPS), size=rows)]
    arch = np.array(ARCHS)[rng.integers(len(ARCHS), size=rows)]
    body = "    x = torch.relu(x) * 2.0 + torch.tanh(x)\n" * 12  # about 500 bytes per program
    code = pa.array(np.char.add(np.char.add("import torch\nclass Model(torch.nn.Module):\n# ",
                                            ids), body))
    triton = pa.array(np.char.add(np.char.add("import triton\n@triton.jit\ndef k(x):\n# ", ids),
                                  body.replace("torch", "tl")))
    cols = {}
    for f in rec.arrow_schema():
        if f.name in ("pair_id", "problem_id"):
            cols[f.name] = pa.array(ids)
        elif f.name == "python_code":
            cols[f.name] = code
        elif f.name == "triton_code":
            cols[f.name] = triton
        elif f.name == "op_type":
            cols[f.name] = pa.array(op)
        elif f.name == "op_types":
            cols[f.name] = pa.ListArray.from_arrays(np.arange(rows + 1, dtype=np.int32), op)
        elif f.name == "arch":
            cols[f.name] = pa.array(arch)
        elif f.name.startswith("speedup"):
            cols[f.name] = pa.array(rng.lognormal(0.0, 0.5, rows))
        else:
            cols[f.name] = pa.nulls(rows, f.type)
    table = pa.table(cols).cast(rec.arrow_schema())
    return table.sort_by([("op_type", "ascending"), ("arch", "ascending")])


def write(table: pa.Table, root: Path) -> Path:
    root.mkdir(parents=True)
    write_shards(root, "pairs", table)  # as publish writes a config
    return root


def _best(fn, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--op", default="softmax")
    p.add_argument("--arch", default="sm_90")
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kcorpus-bench-query-") as tmp:
        release = write(synthetic_pairs(a.rows), Path(tmp) / "release")
        seconds, rows = _best(lambda: query_release(release, "pairs", op=a.op, arch=a.arch),
                              a.repeat)

        def with_pandas():
            import pandas as pd

            df = pd.read_parquet(release / "pairs")
            return df[((df.op_type == a.op) | df.op_types.apply(lambda v: a.op in list(v)))
                      & (df.arch == a.arch)]

        pandas_seconds, df = _best(with_pandas, a.repeat)
        size = sum(f.stat().st_size for f in (release / "pairs").glob("*.parquet"))
    result = {"rows": a.rows, "op": a.op, "arch": a.arch, "matched": rows.num_rows,
              "pandas_matched": len(df), "seconds": round(seconds, 3),
              "pandas_seconds": round(pandas_seconds, 3),
              "speedup_vs_pandas": round(pandas_seconds / seconds, 1),
              "release_mb": round(size / 2**20, 1), "row_group_rows": ROW_GROUP_ROWS}
    print_result(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
