"""Queries over published releases (local directories) with DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb

from kcorpus import schema
from kcorpus.catalog import Catalog


class QueryError(ValueError):
    """The release or the filter cannot be read."""


def latest_release(catalog: Path) -> Path:
    with Catalog(catalog, read_only=True) as cat:
        rows = cat.rows("SELECT location FROM releases WHERE target = 'local' "
                        "ORDER BY created_at DESC LIMIT 1")
    if not rows:
        raise QueryError(f"{catalog}: no release published yet (run `kcorpus rebuild`)")
    return Path(rows[0]["location"])


def query_release(release: Path, config: str = "pairs", op: str | None = None,
                  arch: str | None = None, limit: int = 0) -> list[dict]:
    if config not in schema.configs():
        raise QueryError(f"unknown config {config!r} (known: {', '.join(schema.configs())})")
    files = sorted((Path(release) / config).glob("*.parquet"))
    if not files:
        raise QueryError(f"{release}: no Parquet files for config {config!r}")
    where, params = [], []
    if op is not None:
        where.append("(op_type = ? OR list_contains(op_types, ?))" if config in ("pairs", "problems")
                     else "op_type = ?")
        params += [op, op] if config in ("pairs", "problems") else [op]
    if arch is not None:
        if "arch" not in schema.config(config).column_names:
            raise QueryError(f"config {config!r} has no arch column")
        where.append("arch = ?")
        params.append(arch)
    sql = f"SELECT * FROM read_parquet({[str(f) for f in files]!r})"
    if where:
        sql += " WHERE " + " AND ".join(where)
    if limit:
        sql += f" LIMIT {int(limit)}"
    con = duckdb.connect()
    try:
        return con.execute(sql, params).to_arrow_table().to_pylist()
    finally:
        con.close()
