"""Exports of a real local release in the formats trainers load as they are."""

from __future__ import annotations

import json

import datasets

from kcorpus import schema
from kcorpus.catalog import Catalog
from kcorpus.config import load_config
from kcorpus.dedup import dedup
from kcorpus.publish.stage import publish
from kcorpus.rl.export import export
from kcorpus.verify import tricks as P
from tests.conftest import run_cli, write_pipeline
from tests.test_publish_dedup import _seed


def _local_release(tmp_path):
    (tmp_path / "repo").mkdir()
    cfg = load_config(write_pipeline(tmp_path / "p.yaml", (
        "name: kernels\nsources:\n  - {kind: local, path: repo}\n"
        "publish: {target: local, path: releases/}\n")))
    with Catalog(tmp_path / "c.duckdb") as cat:
        _seed(cat, {"a": P.HONEST, "t": P.TWO_KERNELS}, passed={"a", "t"})
        probe = {name: None for name in schema.table("probes").column_names}
        probe.update(problem_id="p1", ok=True, flags=[], aten_ops=["mul", "relu"])
        cat.insert_new("probes", schema.table("probes").to_arrow([probe]))  # a sound problem
        dedup(cat)
        done = publish(cat, cfg, tmp_path / "wd")
    return tmp_path / "releases" / "latest", done


def test_verl_export_loads_with_datasets_and_has_verls_columns(tmp_path):
    release, _ = _local_release(tmp_path)
    got = export("verl", release, tmp_path / "verl")
    ds = datasets.load_dataset("parquet", data_files=str(tmp_path / "verl" / "train.parquet"),
                               split="train")
    assert got["rows"] == len(ds) > 0
    assert set(ds.column_names) == {"data_source", "prompt", "ability", "reward_model",
                                    "extra_info"}
    row = ds[0]
    assert row["data_source"].startswith("kcorpus/kernels")
    assert [m["role"] for m in row["prompt"]] == ["system", "user"]
    assert row["reward_model"]["style"] == "rule"
    assert "class Model" in row["reward_model"]["ground_truth"]
    assert row["extra_info"]["split"] == "train" and row["extra_info"]["problem_id"]


def test_openrlhf_trl_and_kernelbench_exports(tmp_path):
    release, _ = _local_release(tmp_path)
    out = json.loads(run_cli("export", "openrlhf", str(release), "--out",
                             str(tmp_path / "o"), "--json").stdout)
    lines = [json.loads(x) for x in (tmp_path / "o" / "train.jsonl").read_text().splitlines()]
    assert out["rows"] == len(lines) and set(lines[0]) == {"input", "label"}
    assert "```python" in lines[0]["input"]

    export("trl", release, tmp_path / "t")
    pairs = [json.loads(x) for x in (tmp_path / "t" / "train.jsonl").read_text().splitlines()]
    assert pairs and [m["role"] for m in pairs[0]["prompt"]] == ["system", "user"]
    assert pairs[0]["completion"][0]["role"] == "assistant"
    assert "ModelNew" in pairs[0]["completion"][0]["content"]

    kb = export("kernelbench", release, tmp_path / "kb")
    files = sorted((tmp_path / "kb").rglob("*.py"))
    assert len(files) == kb["rows"] > 0
    assert [f.relative_to(tmp_path / "kb").as_posix() for f in files] == ["level1/1_m_Scale.py"]
    ns: dict = {}
    exec(compile(files[0].read_text(), str(files[0]), "exec"), ns)
    assert ns["Model"](*ns["get_init_inputs"]())(*ns["get_inputs"]()) is not None


def test_an_unknown_format_or_a_missing_release_is_a_clear_error(tmp_path):
    bad = run_cli("export", "megatron", str(tmp_path), "--out", str(tmp_path / "x"), check=False)
    assert bad.returncode != 0 and "unknown export format" in " ".join(bad.stderr.split())
    missing = run_cli("export", "verl", str(tmp_path / "nothing"), "--out", str(tmp_path / "y"),
                      check=False)
    assert missing.returncode != 0 and "no problems/*.parquet" in " ".join(missing.stderr.split())
