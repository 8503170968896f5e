"""The DuckDB catalog: new ids only, schema versions and migration, one writer at a time."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import duckdb
import pytest

from kcorpus import schema
from kcorpus.catalog import Catalog, CatalogError, CatalogLockedError


def _rejects(*ids: str):
    return schema.table("rejects").to_arrow(
        [{"reject_id": i, "stage": "mine", "source_id": "s", "path": f"{i}.py", "item": "",
          "reason": "r", "detail": "d"} for i in ids])


def test_insert_new_adds_only_new_ids(tmp_path):
    with Catalog(tmp_path / "c.duckdb") as cat:
        assert cat.insert_new("rejects", _rejects("a", "b")) == 2
        assert cat.insert_new("rejects", _rejects("b", "c", "c")) == 1  # b stored, c twice in batch
        assert cat.count("rejects") == 3
        assert cat.insert_new("rejects", _rejects()) == 0


def test_schema_version_is_recorded_and_an_old_catalog_is_migrated(tmp_path):
    path = tmp_path / "old.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE _meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT INTO _meta VALUES ('schema_version', '0')")
    con.execute('CREATE TABLE rejects (reject_id VARCHAR NOT NULL, stage VARCHAR)')
    con.execute("INSERT INTO rejects VALUES ('kept', 'mine')")
    con.close()
    with Catalog(path) as cat:
        assert cat.schema_version == schema.catalog_schema_version()
        assert cat.rows("SELECT reject_id, stage, reason FROM rejects") == [
            {"reject_id": "kept", "stage": "mine", "reason": None}]
        assert set(cat.counts()) == set(schema.tables())


def test_a_newer_or_incompatible_catalog_is_refused(tmp_path):
    path = tmp_path / "new.duckdb"
    Catalog(path).close()
    con = duckdb.connect(str(path))
    con.execute("UPDATE _meta SET value = '999' WHERE key = 'schema_version'")
    con.close()
    with pytest.raises(CatalogError, match="newer than this kcorpus"):
        Catalog(path)
    path = tmp_path / "odd.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE rejects (reject_id INTEGER)")
    con.close()
    with pytest.raises(CatalogError, match="table rejects, column reject_id: stored as INTEGER"):
        Catalog(path)


def test_a_failed_transaction_keeps_what_was_stored(tmp_path):
    with Catalog(tmp_path / "c.duckdb") as cat:
        cat.insert_new("rejects", _rejects("a"))
        with pytest.raises(RuntimeError):
            with cat.transaction():
                cat.insert_new("rejects", _rejects("b"))
                raise RuntimeError("stage failed half-way")
        assert [r["reject_id"] for r in cat.rows("SELECT reject_id FROM rejects")] == ["a"]


def test_a_second_process_gets_a_clear_error_and_the_file_stays_sound(tmp_path):
    path = tmp_path / "c.duckdb"
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from kcorpus.catalog import Catalog
        from tests.test_catalog import _rejects
        cat = Catalog({str(path)!r})
        cat.insert_new("rejects", _rejects("w1"))
        print("open", flush=True)
        time.sleep(3)
        cat.insert_new("rejects", _rejects("w2"))
        cat.close()
    """)], stdout=subprocess.PIPE, text=True, cwd=str(tmp_path.parent.parent), env=_env())
    assert writer.stdout.readline().strip() == "open"
    for read_only in (False, True):
        with pytest.raises(CatalogLockedError, match="in use by another process"):
            Catalog(path, read_only=read_only, wait_s=0)
    t0 = time.monotonic()
    with Catalog(path) as cat:  # a writer waits for the lock (WRITER_WAIT_S), then has it
        assert time.monotonic() - t0 > 1
        assert sorted(r["reject_id"] for r in cat.rows("SELECT reject_id FROM rejects")) == ["w1", "w2"]
    assert writer.wait(timeout=60) == 0


def test_read_only_open_of_a_missing_catalog(tmp_path):
    with pytest.raises(CatalogError, match="no catalog here"):
        Catalog(tmp_path / "absent.duckdb", read_only=True)


def _env():
    import os

    from tests.conftest import ROOT
    return {**os.environ, "PYTHONPATH": str(ROOT)}
