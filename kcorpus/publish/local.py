"""Writing a release directory, laid out as a Hub dataset repo, without harming earlier ones.

`ROOT/vN/` holds `README.md`, `manifest.json` and `<config>/train-NNNNN-of-NNNNN.parquet`; the
`latest` symlink points at the newest. The release is written under a temporary name and
renamed into place, so a publish that fails half-way leaves every earlier release as it was.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from collections.abc import Callable

import pyarrow as pa
import pyarrow.parquet as pq

MAX_SHARD_BYTES = 500 * 1024 * 1024
ROW_GROUP_ROWS = 50_000


def shard_names(config: str, table: pa.Table, max_bytes: int = MAX_SHARD_BYTES) -> list[str]:
    n = max(1, math.ceil(table.nbytes / max_bytes))
    return [f"{config}/train-{i:05d}-of-{n:05d}.parquet" for i in range(n)]


def write_release(root: Path, version: str, tables: dict[str, pa.Table],
                  render_card: Callable[[dict[str, int]], str], manifest: dict,
                  extra_files: dict[str, str] | None = None) -> Path:
    """Write the release; `render_card` gets the Parquet bytes of each config; `extra_files`
    (relative path -> text) go beside the card (the speedup plot)."""
    root.mkdir(parents=True, exist_ok=True)
    final = root / version
    if final.exists():
        raise FileExistsError(f"{final}: release {version} already exists")
    tmp = root / f".{version}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        for config, table in tables.items():
            write_shards(tmp, config, table)
        sizes = {c: sum(f.stat().st_size for f in (tmp / c).glob("*.parquet")) for c in tables}
        (tmp / "README.md").write_text(render_card(sizes))
        for rel, text in (extra_files or {}).items():
            (tmp / rel).write_text(text)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    point_latest(root, version)
    return final


def write_shards(base: Path, config: str, table: pa.Table) -> None:
    """BASE/CONFIG/train-*.parquet: zstd, shards of at most MAX_SHARD_BYTES, ROW_GROUP_ROWS rows
    per row group."""
    names = shard_names(config, table)
    per = math.ceil(table.num_rows / len(names)) if table.num_rows else 0
    (base / config).mkdir()
    for i, name in enumerate(names):
        part = table.slice(i * per, per) if per else table
        pq.write_table(part, base / name, compression="zstd", row_group_size=ROW_GROUP_ROWS)


def remove_release(root: Path, version: str) -> None:
    """Take back a release just written (its publish failed further on): `latest` points at
    the newest one left, or is removed."""
    shutil.rmtree(root / version, ignore_errors=True)
    left = sorted((p.name for p in root.iterdir() if p.is_dir() and not p.is_symlink()
                   and p.name.startswith("v") and p.name[1:].isdigit()), key=lambda v: int(v[1:]))
    if left:
        point_latest(root, left[-1])
    elif (root / "latest").is_symlink():
        (root / "latest").unlink()


def point_latest(root: Path, version: str) -> None:
    link = root / "latest"
    tmp = root / ".latest.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(version)
    os.replace(tmp, link)


def data_files(tables: dict[str, pa.Table]) -> dict[str, list[str]]:
    return {c: shard_names(c, t) for c, t in tables.items()}
