"""Cache keys of the cacheable stages (dedup, publish): what changes them and what does not.

The flow-level behaviour (an unchanged rebuild skips both stages; --refresh-cache runs them) is
in tests/test_rebuild.py.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from kcorpus import schema, stage_cache
from kcorpus.catalog import Catalog
from kcorpus.config import load_config
from kcorpus.stage_cache import cache_key
from kcorpus.stages import catalog_path


def _pipeline(tmp: Path, threshold: float = 0.7, trials: int = 5) -> Path:
    (tmp / "evals" / "level1").mkdir(parents=True, exist_ok=True)
    item = tmp / "evals" / "level1" / "1_Relu.py"
    if not item.exists():
        item.write_text("import torch\nclass Model(torch.nn.Module):\n    pass\n")
    path = tmp / "p.yaml"
    path.write_text(f"name: t\nsources: [{{kind: local, path: {tmp}}}]\n"
                    f"verify: {{device: cpu, trials: {trials}}}\n"
                    f"dedup:\n  near: {{threshold: {threshold}}}\n  decontaminate:\n"
                    f"    sets: [{{name: kb, path: {tmp / 'evals'}}}]\n")
    return path


def _problem(pid: str, code: str = "x = 1\n") -> dict:
    row = {name: None for name in schema.table("problems").column_names}
    row.update(problem_id=pid, source_id="s", origin_path="m.py", entry_point="Model",
               code=code, inputs_origin="defined", op_types=["elementwise"], degenerate_flags=[])
    return row


def _key(stage: str, tmp: Path, **kw) -> str:
    return cache_key(stage, load_config(_pipeline(tmp, **kw)), tmp)


def test_keys_follow_the_inputs_and_ignore_the_rest(tmp_path):
    with Catalog(catalog_path(tmp_path)) as cat:
        cat.insert_new("problems", schema.table("problems").to_arrow([_problem("p1")]))
    first = _key("dedup", tmp_path)
    assert _key("dedup", tmp_path) == first  # nothing changed
    assert _key("dedup", tmp_path, trials=9) == first  # another stage's config section

    with Catalog(catalog_path(tmp_path)) as cat:  # the stage's own output
        cat.con.execute("INSERT INTO dedup (item_id, item_kind, method, cluster_id) "
                        "VALUES ('p1', 'problem', 'exact', 'c1')")
    assert _key("dedup", tmp_path) == first
    assert _key("publish", tmp_path) != _key("publish", tmp_path, trials=9)  # whole config

    with Catalog(catalog_path(tmp_path)) as cat:  # an input, changed in place
        cat.con.execute("UPDATE problems SET op_types = ['norm'] WHERE problem_id = 'p1'")
    updated = _key("dedup", tmp_path)
    assert updated != first

    with Catalog(catalog_path(tmp_path)) as cat:  # a new input row
        cat.insert_new("problems", schema.table("problems").to_arrow([_problem("p2")]))
    assert _key("dedup", tmp_path) != updated
    assert _key("dedup", tmp_path, threshold=0.8) != _key("dedup", tmp_path)


def test_an_edited_evaluation_set_is_a_new_key(tmp_path):
    with Catalog(catalog_path(tmp_path)) as cat:
        cat.insert_new("problems", schema.table("problems").to_arrow([_problem("p1")]))
    before = _key("dedup", tmp_path)
    item = tmp_path / "evals" / "level1" / "1_Relu.py"
    item.write_text(item.read_text() + "# edited\n")
    os.utime(item, ns=(1, 1))
    assert _key("dedup", tmp_path) != before


@pytest.fixture
def package_copy(tmp_path, monkeypatch):
    """The package's files copied, so a test can edit one and see what the key makes of it."""
    copy = tmp_path / "pkg"
    shutil.copytree(stage_cache.PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(stage_cache, "PACKAGE", copy)
    data = {}
    for name, root in stage_cache.DATA.items():  # schemas/ and cards/, beside it in a checkout
        shutil.copytree(str(root), copy / name, dirs_exist_ok=True)
        data[name] = copy / name
    monkeypatch.setattr(stage_cache, "DATA", data)
    return copy


EDITS = {  # input -> an edit of it, as a user (or an upgrade) would make it
    "a published config's columns": lambda pkg: _append(pkg / "schemas/configs/pairs.json", " "),
    "a catalog table's definition": lambda pkg: _append(pkg / "schemas/tables/verdicts.json", " "),
    "the schema version": lambda pkg: _append(pkg / "schemas/version.json", "\n"),
    "the dataset card template": lambda pkg: _append(pkg / "cards/dataset_card.md.j2", "x"),
    "a module of the stage": lambda pkg: _append(pkg / "dedup/near.py", "# edited\n"),
    "a prompt template": lambda pkg: _append(pkg / "synth/templates/triton_v1.yaml", "\n"),
}


def _append(path: Path, text: str) -> None:
    stat = path.stat()
    path.write_text(path.read_text() + text)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the bytes alone must tell


@pytest.mark.parametrize("stage", ["dedup", "publish"])
@pytest.mark.parametrize("what", list(EDITS))
def test_every_file_the_package_reads_is_part_of_the_key(tmp_path, package_copy, stage, what):
    before = _key(stage, tmp_path)
    EDITS[what](package_copy)
    assert _key(stage, tmp_path) != before, what


def test_a_new_version_of_a_library_that_writes_the_outputs_is_a_new_key(tmp_path, monkeypatch):
    before = _key("publish", tmp_path)
    real = stage_cache.library_versions()
    monkeypatch.setattr(stage_cache, "library_versions", lambda: {**real, "pyarrow": "99.0"})
    assert _key("publish", tmp_path) != before

