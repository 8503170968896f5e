"""Queries over published releases (local directories) with DuckDB."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

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
                  arch: str | None = None, limit: int = 0, min_speedup: float | None = None,
                  speedup_over: str = "eager", where: str | None = None) -> pa.Table:
    """Rows of one config of a release directory, filtered in DuckDB (Parquet row groups whose
    statistics exclude the op type or arch are skipped: the rows are sorted by them)."""
    sql, params = build_sql(release, config, op, arch, limit, min_speedup, speedup_over, where)
    con = duckdb.connect()
    try:
        return con.sql(sql, params=params).to_arrow_table()
    except duckdb.Error as e:
        raise QueryError(f"query failed: {e}") from None
    finally:
        con.close()


def build_sql(release: Path, config: str, op, arch, limit, min_speedup, speedup_over, where
              ) -> tuple[str, list]:
    if config not in schema.configs():
        raise QueryError(f"unknown config {config!r} (known: {', '.join(schema.configs())})")
    files = sorted((Path(release) / config).glob("*.parquet"))
    if not files:
        raise QueryError(f"{release}: no Parquet files for config {config!r}")
    columns = schema.config(config).column_names
    clauses, params = [], []
    if op is not None:
        has_list = "op_types" in columns
        clauses.append("(op_type = ? OR list_contains(op_types, ?))" if has_list else "op_type = ?")
        params += [op, op] if has_list else [op]
    if arch is not None:
        if "arch" not in columns:
            raise QueryError(f"config {config!r} has no arch column")
        clauses.append("arch = ?")
        params.append(arch)
    if min_speedup is not None:
        column = f"speedup_{speedup_over}"
        if column not in columns:
            raise QueryError(f"config {config!r} has no {column} column")
        clauses.append(f"{column} >= ?")
        params.append(min_speedup)
    if where:
        clauses.append(f"({where})")
    sql = f"SELECT * FROM read_parquet({[str(f) for f in files]!r})"
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    if limit:
        sql += f" LIMIT {int(limit)}"
    return sql, params
