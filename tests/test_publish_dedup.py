"""Dedup clusters and local releases: versions, no-op republish, half-way failures."""

from __future__ import annotations

from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest

from kcorpus import schema
from kcorpus.catalog import Catalog
from kcorpus.config import load_config
from kcorpus.dedup import canonical_code, dedup
from kcorpus.publish.stage import publish
from tests.conftest import write_pipeline
from kcorpus.verify import tricks as P

RENAMED = P.HONEST.replace("x_ptr", "inp").replace("offs", "idx").replace(
    '"""Scale by the weight and clamp at zero; masked, so any size passes."""', "# fused")


def test_code_differing_only_in_local_names_and_comments_shares_a_cluster():
    assert canonical_code(P.HONEST) == canonical_code(RENAMED)
    assert canonical_code(P.HONEST) != canonical_code(P.WRONG)


def _seed(cat: Catalog, candidates: dict[str, str], passed: set[str],
          speedups: dict[str, float] | None = None) -> None:
    def row(table: str, **values) -> dict:
        r = {name: None for name in schema.table(table).column_names}
        r.update(values)
        return r

    cat.insert_new("sources", schema.table("sources").to_arrow([row(
        "sources", source_id="s1", kind="local", url="/x", repo_name="org/x",
        commit_sha="abc", license="MIT", license_class="permissive", stars=5)]))
    cat.insert_new("problems", schema.table("problems").to_arrow([row(
        "problems", problem_id="p1", source_id="s1", origin_path="m.py", entry_point="Scale",
        code=P.PROBLEM, op_types=["elementwise"], level="single_op", degenerate_flags=[])]))
    cat.insert_new("candidates", schema.table("candidates").to_arrow([row(
        "candidates", candidate_id=cid, problem_id="p1", code=code, completion=code,
        backend="replay", model="m", turn=0) for cid, code in candidates.items()]))
    cat.insert_new("verdicts", schema.table("verdicts").to_arrow([row(
        "verdicts", candidate_id=cid, verifier_version=_vv(),
        gpu_arch="sm_90" if speedups else "cpu", passed=cid in passed,
        stage="correctness", failure_code="" if cid in passed else "MISMATCH", static_flags=[],
        torch_ops=[], interpreter=not speedups, speedup_eager=(speedups or {}).get(cid),
        candidate_ms=1.0 if speedups else None) for cid in candidates]))


def _vv() -> str:
    from kcorpus.verify.codes import VERIFIER_VERSION
    return VERIFIER_VERSION


@pytest.fixture
def pipeline(tmp_path) -> Path:
    (tmp_path / "repo").mkdir()
    return write_pipeline(tmp_path / "p.yaml", "name: demo\nsources:\n  - {kind: local, path: repo}\n")


def _published(cat: Catalog, cfg, workdir: Path, candidates: dict[str, str], passed: set[str],
               **seed) -> Path:
    """Seed the catalog, dedup it and publish it; the release's directory."""
    _seed(cat, candidates, passed=passed, **seed)
    dedup(cat)
    return Path(publish(cat, cfg, workdir)["location"])


def test_duplicates_publish_once_and_an_unchanged_release_is_not_republished(tmp_path, pipeline):
    cfg = load_config(pipeline)
    with Catalog(tmp_path / "c.duckdb") as cat:
        _seed(cat, {"a": P.HONEST, "b": RENAMED, "w": P.WRONG}, passed={"a", "b"})
        assert dedup(cat)["candidates"] == 3
        assert dedup(cat)["candidates"] == 0
        clusters = cat.rows("SELECT item_id, cluster_id FROM dedup WHERE item_kind = "
                            "'candidate' AND method = 'exact'")
        by_id = {r["item_id"]: r["cluster_id"] for r in clusters}
        assert by_id["a"] == by_id["b"] != by_id["w"]
        near = {r["item_id"]: r["cluster_id"] for r in cat.rows(
            "SELECT item_id, cluster_id FROM dedup WHERE method = 'near'")}
        assert near["a"] == near["b"] == near["w"]  # the wrong one is a near copy of the right
        first = publish(cat, cfg, tmp_path / "wd")
        assert first["new"] and first["version"] == "v1"
        assert first["counts"]["pairs"] == 1 and first["counts"]["attempts"] == 3
        assert publish(cat, cfg, tmp_path / "wd") == {"version": "v1", "new": False,
                                                      "location": first["location"]}
        assert cat.count("releases") == 1


def test_a_publish_that_fails_half_way_leaves_the_previous_release(tmp_path, pipeline, monkeypatch):
    cfg = load_config(pipeline)
    with Catalog(tmp_path / "c.duckdb") as cat:
        v1 = _published(cat, cfg, tmp_path / "wd", {"a": P.HONEST}, {"a"})
        before = {p: p.read_bytes() for p in v1.rglob("*") if p.is_file()}
        _seed(cat, {"w": P.WRONG}, passed=set())  # new rows: the next publish is a new release
        dedup(cat)
        calls = []

        def fail_second_config(table, where, **kw):
            calls.append(where)
            if len(calls) == 2:
                raise OSError("disk full")
            return real_write(table, where, **kw)

        real_write = pq.write_table
        monkeypatch.setattr(pq, "write_table", fail_second_config)
        with pytest.raises(OSError, match="disk full"):
            publish(cat, cfg, tmp_path / "wd")
        monkeypatch.undo()
        root = v1.parent
        assert sorted(p.name for p in root.iterdir()) == ["latest", "v1"]
        assert (root / "latest").resolve() == v1.resolve()
        assert {p: p.read_bytes() for p in v1.rglob("*") if p.is_file()} == before
        assert cat.count("releases") == 1
        v2 = publish(cat, cfg, tmp_path / "wd")
        assert v2["version"] == "v2" and (root / "latest").resolve() == Path(v2["location"])


def test_a_release_written_but_not_recorded_is_recorded_not_written_again(tmp_path, pipeline):
    """A publish killed between renaming the release into place and inserting its row."""
    cfg = load_config(pipeline)
    with Catalog(tmp_path / "c.duckdb") as cat:
        v1 = _published(cat, cfg, tmp_path / "wd", {"a": P.HONEST}, {"a"})
        before = {p: p.stat().st_mtime_ns for p in v1.rglob("*") if p.is_file()}
        cat.con.execute("DELETE FROM releases")
        again = publish(cat, cfg, tmp_path / "wd")
        assert again["version"] == "v1" and again["new"] and Path(again["location"]) == v1
        assert sorted(p.name for p in v1.parent.iterdir()) == ["latest", "v1"]
        assert {p: p.stat().st_mtime_ns for p in v1.rglob("*") if p.is_file()} == before
        assert cat.rows("SELECT version FROM releases") == [{"version": "v1"}]


def test_releases_of_the_same_name_load_their_own_rows(tmp_path, pipeline):
    """datasets caches local datasets by directory name and card: each release must differ."""
    cfg = load_config(pipeline)
    loaded = []
    for i, passed in enumerate(({"a"}, {"a", "b"})):
        with Catalog(tmp_path / f"c{i}.duckdb") as cat:
            _seed(cat, {"a": P.HONEST, "b": P.TWO_KERNELS}, passed=passed)  # not near copies
            dedup(cat)
            path = publish(cat, cfg, tmp_path / f"wd{i}")["location"]
        loaded.append(datasets.load_dataset(path, "pairs", split="train").num_rows)
    assert loaded == [1, 2]


def test_the_card_embeds_a_speedup_plot_when_pairs_were_timed(tmp_path, pipeline):
    cfg = load_config(pipeline)
    with Catalog(tmp_path / "c.duckdb") as cat:
        release = _published(cat, cfg, tmp_path / "wd", {"a": P.HONEST, "t": P.TWO_KERNELS},
                             {"a", "t"}, speedups={"a": 1.6, "t": 0.5})
    svg = (release / "speedups.svg").read_text()
    assert svg.startswith("<svg") and "sm_90 (2)" in svg and svg.count("<rect") == 10
    readme = (release / "README.md").read_text()
    assert "![pairs by speedup over eager PyTorch](speedups.svg)" in readme
    assert "| sm_90 | 2 | 0.894x | 1 |" in readme  # geometric mean of 1.6 and 0.5


def test_an_interpreter_only_release_says_it_has_no_speedups(tmp_path, pipeline):
    cfg = load_config(pipeline)
    with Catalog(tmp_path / "c.duckdb") as cat:
        release = _published(cat, cfg, tmp_path / "wd", {"a": P.HONEST}, {"a"})
    assert not (release / "speedups.svg").exists()
    assert "no speedup plot" in (release / "README.md").read_text()
