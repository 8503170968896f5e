"""The catalog: one DuckDB file holding every table defined in `schemas/tables/`.

- The schema version is recorded in `_meta`; an older catalog is migrated in place (new columns
  are added), a newer or incompatible one is refused with an error naming the table and column.
- `insert_new` adds only rows whose key is not stored yet, so every stage can be rerun.
- DuckDB locks the file for its writer; a second process gets `CatalogLockedError`. A writer
  waits up to `wait_s` (default WRITER_WAIT_S) for the lock first: readers such as `kcorpus
  status` hold it for a moment between a rebuild's stages.
"""

from __future__ import annotations

import re
import time
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Iterator

import duckdb
import pyarrow as pa

from kcorpus import schema


class CatalogError(RuntimeError):
    """The catalog cannot be opened or changed."""


class CatalogLockedError(CatalogError):
    """Another process is writing the catalog."""


WRITER_WAIT_S = 30.0


class Catalog:
    def __init__(self, path: str | Path, read_only: bool = False, wait_s: float | None = None):
        self.path = Path(path)
        self.read_only = read_only
        if read_only and not self.path.exists():
            raise CatalogError(f"{self.path}: no catalog here (run `kcorpus rebuild` first)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        wait = (0.0 if read_only else WRITER_WAIT_S) if wait_s is None else wait_s
        self.con = self._connect(time.monotonic() + wait)
        if not read_only:
            self._migrate()

    def _connect(self, deadline: float) -> duckdb.DuckDBPyConnection:
        while True:
            try:
                return self._connect_once()
            except CatalogLockedError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)

    def _connect_once(self) -> duckdb.DuckDBPyConnection:
        try:
            return duckdb.connect(str(self.path), read_only=self.read_only)
        except duckdb.IOException as e:
            if "lock" in str(e).lower():
                pid = re.search(r"PID (\d+)", str(e))
                who = f" (process {pid.group(1)})" if pid else ""
                raise CatalogLockedError(
                    f"{self.path}: the catalog is in use by another process{who}; "
                    "wait for it to finish, or open a copy"
                ) from None
            raise CatalogError(f"{self.path}: cannot open the catalog: {e}") from None
        except duckdb.Error as e:
            raise CatalogError(f"{self.path}: not a kcorpus catalog: {e}") from None

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.begin()
        try:
            yield
        except BaseException:
            self.con.rollback()
            raise
        self.con.commit()

    # -- schema ------------------------------------------------------------------------------
    @property
    def schema_version(self) -> int:
        return int(self.scalar("SELECT value FROM _meta WHERE key = 'schema_version'"))

    def _migrate(self) -> None:
        want = schema.catalog_schema_version()
        with self.transaction():
            self.con.execute("CREATE TABLE IF NOT EXISTS _meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
            row = self.scalar("SELECT value FROM _meta WHERE key = 'schema_version'")
            have = int(row) if row is not None else want
            if have > want:
                raise CatalogError(
                    f"{self.path}: catalog schema version {have} is newer than this kcorpus "
                    f"understands ({want}); upgrade kcorpus"
                )
            for rec in schema.tables().values():
                self.con.execute(rec.duckdb_ddl())
                self._add_missing_columns(rec)
            self.con.execute(
                "INSERT OR REPLACE INTO _meta VALUES ('schema_version', ?)", [str(want)]
            )

    def _add_missing_columns(self, rec: schema.RecordDef) -> None:
        stored = dict(self.con.execute(
            "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ?",
            [rec.name],
        ).fetchall())
        for col in rec.columns:
            want = schema.duckdb_type(col.type)
            if col.name not in stored:
                self.con.execute(f'ALTER TABLE "{rec.name}" ADD COLUMN "{col.name}" {want}')
            elif _norm_type(stored[col.name]) != _norm_type(want):
                raise CatalogError(
                    f"{self.path}: table {rec.name}, column {col.name}: stored as "
                    f"{stored[col.name]}, schema says {want}; this needs a manual migration"
                )

    # -- data --------------------------------------------------------------------------------
    def insert_new(self, table: str, rows: pa.Table) -> int:
        """Insert the rows whose key is not stored yet; returns how many were added."""
        rec = schema.table(table)
        rows = rows.select(rec.column_names).cast(rec.arrow_schema())
        if rows.num_rows == 0:
            return 0
        key = ", ".join(f'"{k}"' for k in rec.key)
        match = " AND ".join(f't."{k}" = s."{k}"' for k in rec.key)
        before = self.count(table)
        self.con.register("_incoming", rows)
        try:
            self.con.execute(
                f'INSERT INTO "{table}" BY NAME '
                f"SELECT * FROM _incoming s "
                f'WHERE NOT EXISTS (SELECT 1 FROM "{table}" t WHERE {match}) '
                f"QUALIFY row_number() OVER (PARTITION BY {key}) = 1"
            )
        finally:
            self.con.unregister("_incoming")
        return self.count(table) - before

    def scalar(self, query: str, params: list | None = None):
        """The first value of the first row (None when there is no row)."""
        rows = self.con.execute(query, params or []).fetchall()  # fetch all: no open result
        return rows[0][0] if rows else None

    def count(self, table: str) -> int:
        return self.scalar(f'SELECT count(*) FROM "{table}"')

    def counts(self) -> dict[str, int]:
        return {name: self.count(name) for name in schema.tables()}

    def sql(self, query: str, params: list | dict | None = None) -> pa.Table:
        return self.con.sql(query, params=params or None).to_arrow_table()

    def rows(self, query: str, params: list | None = None) -> list[dict]:
        return self.sql(query, params).to_pylist()


def _norm_type(t: str) -> str:
    return re.sub(r"\s+", "", t.upper()).replace("TIMESTAMPWITHTIMEZONE", "TIMESTAMPTZ")
