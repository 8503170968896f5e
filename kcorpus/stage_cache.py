"""Cache keys for the stages that are pure functions of the catalog (stages.py: `cacheable`).

The flow runs such a stage as a Prefect task whose cache key is a hash of everything its result
depends on, so a rebuild where none of it changed skips the stage (Prefect shows it as Cached):

- the stage's name, and the code: kcorpus's version, the bytes of every file of the package that
  it reads at run time (modules, `schemas/`, `cards/`, prompt templates: an edited module, column
  or card template is a new key), and the versions of the libraries that write its outputs;
- its config sections (the whole config where it declares none);
- a fingerprint of every catalog table it reads and does not write: the row count and the XOR
  of the rows' hashes (DuckDB `hash(t)` over whole rows, so an UPDATE in place changes it too).
  Its own outputs are left out, or the run after every change would miss the cache once more
  (the key is taken before the run, from the outputs of the one before);
- the files its config names: every file under a decontamination set's `path` (size and
  modification time), and the Hub ids of Hub sets.

A missed change costs a stale result, so the key errs towards recomputing: any write to a table
the stage reads, even one that leaves its result the same, is a new key. What the key cannot
see is a stage's outputs removed by hand while its inputs stay: `kcorpus rebuild
--refresh-cache` runs every cacheable stage again. A fingerprint is one scan of each table,
about 1 s per million rows of code.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from kcorpus import __version__, schema
from kcorpus.catalog import Catalog
from kcorpus.config import PipelineConfig
from kcorpus.stages import EVERY_TABLE, STAGES, catalog_path

PACKAGE = Path(__file__).resolve().parent
# what else the package reads: the schemas and the card templates (schema.data_dir)
DATA = {"schemas": schema.data_dir("schemas"), "cards": schema.data_dir("cards")}
CODE_SUFFIXES = (".py", ".json", ".j2", ".yaml")  # modules, schemas, cards, prompt templates
# what writes a cached stage's outputs: another version may write other bytes or rows
LIBRARIES = ("duckdb", "pyarrow", "datasets", "jinja2", "rensa", "datasketch")


def cache_key(name: str, cfg: PipelineConfig, workdir: Path) -> str:
    stage = STAGES[name]
    reads = schema.tables() if stage.reads == EVERY_TABLE else stage.reads
    tables = sorted(set(reads) - set(stage.writes))
    with Catalog(catalog_path(workdir)) as catalog:
        prints = {t: fingerprint(catalog, t) for t in tables}
    parts = {"stage": name, "code": code_fingerprint(), "config": config_part(stage, cfg),
             "tables": prints, "files": files_part(stage, cfg)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def fingerprint(catalog: Catalog, table: str) -> str:
    n, digest = catalog.con.execute(
        f'SELECT count(*), coalesce(bit_xor(hash(t)), 0) FROM "{table}" t').fetchall()[0]
    return f"{n}:{digest}"


def config_part(stage, cfg: PipelineConfig) -> str:
    if not stage.config:
        return cfg.config_hash
    dumped = cfg.model_dump(mode="json")
    return json.dumps({k: dumped.get(k) for k in stage.config}, sort_keys=True)


def files_part(stage, cfg: PipelineConfig) -> list:
    if "dedup" not in stage.config:
        return []
    out = []
    for s in cfg.dedup.decontaminate.sets:
        if s.hub:
            out.append(["hub", s.hub, s.split])
        if s.path is not None:
            out.append(["path", str(s.path), _tree(Path(s.path))])
    return out


def code_fingerprint() -> str:
    digest = hashlib.sha256(json.dumps([__version__, library_versions()]).encode())
    for name, root in {"kcorpus": PACKAGE, **DATA}.items():
        root = Path(str(root))
        for path in sorted(p for p in root.rglob("*")
                           if p.suffix in CODE_SUFFIXES and "__pycache__" not in p.parts):
            rel = f"{name}/{path.relative_to(root)}"
            digest.update(rel.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def library_versions() -> dict[str, str | None]:
    from importlib.metadata import PackageNotFoundError, version

    def one(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {name: one(name) for name in LIBRARIES}


def _tree(root: Path, pattern: str = "*") -> list:
    if root.is_file():
        st = root.stat()
        return [[root.name, st.st_size, st.st_mtime_ns]]
    if not root.exists():
        return []
    return sorted([str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns]
                  for p in root.rglob(pattern) if p.is_file())
