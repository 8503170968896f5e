"""Record definitions from `schemas/`: the one place columns are declared.

Generates, from each JSON definition, the Arrow schema, the DuckDB DDL and the
`datasets.Features`. Published configs may take a column from a table (`"from": "table.column"`)
so its type and description are written once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from importlib.resources.abc import Traversable
from typing import Any

import pyarrow as pa



def data_dir(name: str) -> Traversable:
    """`schemas/` or `cards/`: top-level folders in a checkout (the layout DESIGN.md names),
    package data `kcorpus/schemas`, `kcorpus/cards` in a wheel (setup.py maps them there)."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / name).is_dir():
        return checkout / name
    return files("kcorpus") / name


SCHEMA_DIR = data_dir("schemas")

_SCALARS_ARROW = {
    "string": pa.string(),
    "int64": pa.int64(),
    "int32": pa.int32(),
    "float64": pa.float64(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}
_SCALARS_DUCKDB = {
    "string": "VARCHAR",
    "int64": "BIGINT",
    "int32": "INTEGER",
    "float64": "DOUBLE",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
}
_SCALARS_DATASETS = {
    "string": "string",
    "int64": "int64",
    "int32": "int32",
    "float64": "float64",
    "bool": "bool",
    "timestamp": "timestamp[us, tz=UTC]",
}


class SchemaError(ValueError):
    """A definition in schemas/ is malformed."""


@dataclass(frozen=True)
class Column:
    name: str
    type: Any  # scalar name, {"list": TYPE} or {"struct": [column dicts]}
    description: str
    nullable: bool


@dataclass(frozen=True)
class RecordDef:
    name: str
    description: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    sort_by: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(c.name, arrow_type(c.type), nullable=c.nullable) for c in self.columns]
        )

    def duckdb_ddl(self) -> str:
        cols = ",\n  ".join(
            f'"{c.name}" {duckdb_type(c.type)}{"" if c.nullable else " NOT NULL"}'
            for c in self.columns
        )
        return f'CREATE TABLE IF NOT EXISTS "{self.name}" (\n  {cols}\n)'

    def datasets_features(self):
        import datasets

        return datasets.Features({c.name: datasets_type(c.type) for c in self.columns})

    def features_yaml(self) -> list[dict]:
        """The `features` list of a Hub dataset card, as `datasets` writes it
        (Features._to_yaml_list), without importing `datasets` (a GPU box may not have it)."""
        return [{"name": c.name, **_yaml_type(c.type)} for c in self.columns]

    def to_arrow(self, rows: list[dict]) -> pa.Table:
        """Rows (dicts) to a table of exactly this schema; a missing key is an error."""
        names = self.column_names
        for i, row in enumerate(rows):
            unknown = set(row) - set(names)
            missing = [n for n in names if n not in row and n not in self._optional]
            if unknown or missing:
                raise SchemaError(
                    f"{self.name} row {i}: unknown columns {sorted(unknown)}, missing {missing}"
                )
        return pa.Table.from_pylist(
            [{n: row.get(n) for n in names} for row in rows], schema=self.arrow_schema()
        )

    @property
    def _optional(self) -> set[str]:
        return {c.name for c in self.columns if c.nullable}


def arrow_type(t: Any) -> pa.DataType:
    if isinstance(t, str):
        return _scalar(t, _SCALARS_ARROW)
    if "list" in t:
        return pa.list_(arrow_type(t["list"]))
    return pa.struct([pa.field(f["name"], arrow_type(f["type"])) for f in t["struct"]])


def duckdb_type(t: Any) -> str:
    if isinstance(t, str):
        return _scalar(t, _SCALARS_DUCKDB)
    if "list" in t:
        return f"{duckdb_type(t['list'])}[]"
    fields = ", ".join(f'"{f["name"]}" {duckdb_type(f["type"])}' for f in t["struct"])
    return f"STRUCT({fields})"


def _yaml_type(t: Any) -> dict:
    if isinstance(t, str):
        return {"dtype": _scalar(t, _SCALARS_DATASETS)}
    if "list" in t:
        inner = t["list"]
        if isinstance(inner, str):
            return {"list": _scalar(inner, _SCALARS_DATASETS)}
        if "struct" in inner:
            return {"list": [{"name": f["name"], **_yaml_type(f["type"])} for f in inner["struct"]]}
        return {"list": _yaml_type(inner)}
    return {"struct": [{"name": f["name"], **_yaml_type(f["type"])} for f in t["struct"]]}


def datasets_type(t: Any):
    import datasets

    if isinstance(t, str):
        return datasets.Value(_scalar(t, _SCALARS_DATASETS))
    if "list" in t:
        return datasets.List(datasets_type(t["list"]))
    return {f["name"]: datasets_type(f["type"]) for f in t["struct"]}


def _scalar(name: str, table: dict[str, Any]) -> Any:
    try:
        return table[name]
    except KeyError:
        raise SchemaError(f"unknown column type {name!r} (known: {sorted(table)})") from None


def _load(path: Traversable, tables: dict[str, RecordDef] | None) -> RecordDef:
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise SchemaError(f"{path}: not valid JSON: {e}") from None
    key = tuple(raw.get("key", ()))
    columns = []
    for spec in raw["columns"]:
        if "from" in spec:
            table, _, col = spec["from"].partition(".")
            if tables is None or table not in tables:
                raise SchemaError(f"{path}: column {spec['name']!r} takes from unknown {table!r}")
            src = tables[table].column(col)
            columns.append(Column(spec["name"], src.type, src.description, True))
        else:
            nullable = spec.get("nullable", spec["name"] not in key)
            columns.append(Column(spec["name"], spec["type"], spec.get("description", ""), nullable))
    names = [c.name for c in columns]
    if len(set(names)) != len(names) or not set(key) <= set(names):
        raise SchemaError(f"{path}: duplicate columns or key not among the columns")
    return RecordDef(raw["name"], raw.get("description", ""), key, tuple(columns),
                     tuple(raw.get("sort_by", ())))


@cache
def tables() -> dict[str, RecordDef]:
    """Catalog tables by name."""
    return {_stem(p): _load(p, None) for p in _definitions("tables")}


@cache
def configs() -> dict[str, RecordDef]:
    """Published dataset configs by name."""
    t = tables()
    return {_stem(p): _load(p, t) for p in _definitions("configs")}


def _definitions(kind: str) -> list[Traversable]:
    return sorted((p for p in (SCHEMA_DIR / kind).iterdir() if p.name.endswith(".json")),
                  key=lambda p: p.name)


def _stem(p: Traversable) -> str:
    return p.name.removesuffix(".json")


def table(name: str) -> RecordDef:
    return tables()[name]


def config(name: str) -> RecordDef:
    return configs()[name]


def catalog_schema_version() -> int:
    return int(json.loads((SCHEMA_DIR / "version.json").read_text())["catalog_schema_version"])
