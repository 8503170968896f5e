"""Pipeline configs: valid ones load with resolved paths; every bad one names file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from kcorpus.config import ConfigError, LocalSource, load_config
from tests.conftest import ROOT, write_pipeline

BASE = """
name: demo
sources:
  - kind: local
    path: repo
"""
GOOD = BASE + """synth:
  backends:
    - kind: replay
      path: completions.jsonl
"""


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    (tmp_path / "repo").mkdir()
    (tmp_path / "completions.jsonl").write_text("")
    return tmp_path


def test_sample_pipeline_loads():
    cfg = load_config(ROOT / "pipelines" / "sample.yaml")
    assert cfg.name == "kcorpus-sample"
    assert isinstance(cfg.sources[0], LocalSource) and cfg.sources[0].path.is_dir()
    assert cfg.synth.backends[0].path.is_file() and len(cfg.config_hash) == 16


def test_relative_paths_resolve_against_the_config_file(inputs):
    cfg = load_config(write_pipeline(inputs / "p.yaml", GOOD))
    assert cfg.sources[0].path == (inputs / "repo").resolve()
    assert cfg.verify.trials == 5 and cfg.license_policy.allow_copyleft is False


@pytest.mark.parametrize("body, key, what", [
    (GOOD + "colour: blue\n", "colour", "unknown key"),
    (GOOD.replace("    path: repo", "    path: repo\n    branch: main"), "sources[0].branch",
     "unknown key"),
    (GOOD + "verify:\n  trials: many\n", "verify.trials", "integer"),
    (GOOD + "verify:\n  device: tpu\n", "verify.device", "'cpu', 'cuda' or 'auto'"),
    (GOOD.replace("name: demo\n", ""), "name", "required key is missing"),
    (GOOD.replace("kind: local", "kind: svn"), "sources[0]", "svn"),
    (GOOD + "license_policy:\n  allow_unknown: perhaps\n", "license_policy.allow_unknown",
     "boolean"),
])
def test_bad_config_names_the_file_and_the_key(inputs, body, key, what):
    path = write_pipeline(inputs / "bad.yaml", body)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message and key in message and what in message, message


STRICT = [  # a value YAML reads as another type than the key's: no silent coercion
    ("verify:\n  lenient: \"yes\"\n", "verify.lenient", "valid boolean"),
    ("verify:\n  lenient: 1\n", "verify.lenient", "valid boolean"),
    ("verify:\n  trials: 5.0\n", "verify.trials", "valid integer"),
    ("verify:\n  trials: \"5\"\n", "verify.trials", "valid integer"),
    ("mine:\n  workers: true\n", "mine.workers", "valid integer"),
    ("dedup:\n  near: {threshold: \"0.7\"}\n", "dedup.near.threshold", "valid number"),
    ("synth:\n  backends: [{kind: vllm, model: m, sampling: {n: 2.5}}]\n",
     "synth.backends[0].sampling.n", "valid integer"),
]
RELATED = [  # keys each valid alone, contradicting each other
    ("dedup:\n  near: {bands: 16, rows: 8}\n", "dedup.near", "bands * rows must equal num_perm"),
    ("dedup:\n  near: {num_perm: 128}\n", "dedup.near", "bands * rows must equal num_perm"),
    ("dedup:\n  near: {threshold: 0.05, margin: 0.1}\n", "dedup.near", "margin (0.1)"),
    ("synth:\n  backends: [{kind: vllm, model: m, sampling: {n: 4, temperature: 0.0}}]\n",
     "synth.backends[0].sampling", "at temperature 0"),
    ("synth:\n  backends: [{kind: vllm, model: m, max_model_len: 512, "
     "sampling: {max_tokens: 512}}]\n", "synth.backends[0]", "no room for the prompt"),
    ("synth:\n  backends: [{kind: openai, base_url: 'http://h', model: m, max_kernels: 3}]\n",
     "synth.backends[0]", "set reverse: true"),
    ("verify:\n  timeout_s: 5\n  forward_timeout_s: 10\n", "verify", "forward_timeout_s (10.0)"),
    ("verify:\n  memory_mb: 1024\n  probe: {memory_mb: 2048}\n", "verify", "probe.memory_mb"),
    ("dedup:\n  decontaminate: {sets: [{name: kb}]}\n", "dedup.decontaminate.sets[0]",
     "exactly one of path and hub"),
    ("dedup:\n  decontaminate: {sets: [{name: kb, hub: a/b}, {name: kb, hub: c/d}]}\n",
     "dedup.decontaminate", "names must be unique"),
]


@pytest.mark.parametrize("extra, key, what", STRICT + RELATED)
def test_types_are_strict_and_related_keys_agree(inputs, extra, key, what):
    path = write_pipeline(inputs / "bad.yaml", BASE + extra)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert f"{path}: invalid pipeline config" in message, message
    assert f"  {key}: " in message and what in message, message


def test_related_keys_that_agree_load(inputs):
    cfg = load_config(write_pipeline(inputs / "ok.yaml", BASE + (
        "dedup:\n  near: {num_perm: 128, bands: 16, rows: 8}\n"
        "verify:\n  timeout_s: 30\n  forward_timeout_s: 30\n  trials: 3\n  lenient: true\n"
        "synth:\n  backends: [{kind: vllm, model: m, max_model_len: 4096, "
        "sampling: {n: 1, temperature: 0, max_tokens: 1024}}]\n")))
    assert cfg.dedup.near.bands * cfg.dedup.near.rows == 128
    assert cfg.verify.trials == 3 and cfg.verify.lenient is True
    assert cfg.synth.backends[0].sampling.temperature == 0.0  # an int where a float goes is fine


def test_a_key_given_twice_is_an_error(inputs):
    path = write_pipeline(inputs / "twice.yaml", GOOD + "verify: {trials: 3}\nverify: {trials: 9}\n")
    with pytest.raises(ConfigError, match=r"twice\.yaml: not valid YAML: .*'verify' given twice"):
        load_config(path)


def test_missing_input_files_name_the_key(inputs):
    (inputs / "completions.jsonl").unlink()
    path = write_pipeline(inputs / "p.yaml", GOOD)
    with pytest.raises(ConfigError, match=r"p\.yaml: synth\.backends\[0\]\.path: file .* does not exist"):
        load_config(path)
    path = write_pipeline(inputs / "q.yaml", GOOD.replace("path: repo", "path: nowhere"))
    with pytest.raises(ConfigError, match=r"q\.yaml: sources\[0\]\.path: directory .*nowhere"):
        load_config(path)


def test_unreadable_configs(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "absent.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write_pipeline(tmp_path / "a.yaml", "name: [unclosed\n"))
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(write_pipeline(tmp_path / "b.yaml", "- just\n- a list\n"))


def test_cli_rebuild_reports_a_bad_config_without_a_traceback(inputs):
    from tests.conftest import run_cli

    path = write_pipeline(inputs / "bad.yaml", GOOD + "colour: blue\n")
    proc = run_cli("rebuild", str(path), "--workdir", str(inputs / "wd"), check=False)
    assert proc.returncode == 2
    assert "colour: unknown key" in proc.stderr and "Traceback" not in proc.stderr
    assert not (inputs / "wd" / "catalog.duckdb").exists()


def test_the_gpu_pipeline_loads_with_its_defaults(tmp_path, monkeypatch):
    """pipelines/kernelbench.yaml, as gpu_corpus.sh runs it: sources under KCORPUS_SRC, budgets
    left unset, and the timing budget the corpus runs with unless KCORPUS_TIMING_BUDGET_S says."""
    for sub in ("KernelBench/KernelBench/level1", "KernelBench/KernelBench/level2",
                "KernelBench/KernelBench/level3", "pytorch-image-models/timm", "Liger-Kernel/src"):
        (tmp_path / sub).mkdir(parents=True)
    monkeypatch.setenv("KCORPUS_SRC", str(tmp_path))
    cfg = load_config(ROOT / "pipelines" / "kernelbench.yaml")
    assert cfg.verify.device == "cuda" and cfg.verify.timing_budget_s == 0.5
    assert cfg.synth.backends[0].modes == ["default", "triton_templates"]
    monkeypatch.setenv("KCORPUS_TIMING_BUDGET_S", "2")
    assert load_config(ROOT / "pipelines" / "kernelbench.yaml").verify.timing_budget_s == 2.0
