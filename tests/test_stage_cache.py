"""Cache keys of the cacheable stages (dedup, publish): what changes them and what does not.

The flow-level behaviour (an unchanged rebuild skips both stages; --refresh-cache runs them) is
in tests/test_rebuild.py.
"""

from __future__ import annotations

import os
from pathlib import Path

from kcorpus import schema
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
