"""schemas/ is the one definition: Arrow, DuckDB and datasets all follow it."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa
import pytest

from kcorpus import schema


def test_every_table_has_its_ddl_arrow_and_features_in_agreement():
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for rec in schema.tables().values():
        con.execute(rec.duckdb_ddl())
        got = con.sql(f'SELECT * FROM "{rec.name}"').to_arrow_table().schema
        assert got.names == rec.column_names
        for field in rec.arrow_schema():
            assert got.field(field.name).type == field.type, (rec.name, field.name)
        assert list(rec.datasets_features()) == rec.column_names


def test_published_configs_take_types_from_the_tables():
    pairs = schema.config("pairs")
    assert pairs.column("triton_code").type == schema.table("candidates").column("code").type
    assert pairs.column("arch").description == schema.table("verdicts").column("gpu_arch").description
    messages = pairs.arrow_schema().field("messages").type
    assert messages == pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))


def test_keys_are_not_nullable_and_rows_are_checked():
    rec = schema.table("sources")
    assert not rec.arrow_schema().field("source_id").nullable
    with pytest.raises(schema.SchemaError, match="unknown columns \\['colour'\\]"):
        rec.to_arrow([{"source_id": "x", "colour": "blue"}])
    with pytest.raises(schema.SchemaError, match="missing \\['source_id'\\]"):
        rec.to_arrow([{"kind": "git"}])


def test_a_malformed_definition_is_a_clear_error(tmp_path):
    bad = tmp_path / "t.json"
    bad.write_text(json.dumps({"name": "t", "columns": [{"name": "a", "type": "complex128"}]}))
    rec = schema._load(bad, None)
    with pytest.raises(schema.SchemaError, match="unknown column type 'complex128'"):
        rec.arrow_schema()
    bad.write_text("{not json")
    with pytest.raises(schema.SchemaError, match="not valid JSON"):
        schema._load(bad, None)


def test_card_features_are_written_as_datasets_writes_them_without_importing_it():
    """A GPU box without `datasets` publishes the same card `datasets` would describe."""
    for name in schema.configs():
        rec = schema.config(name)
        assert rec.features_yaml() == rec.datasets_features()._to_yaml_list(), name
