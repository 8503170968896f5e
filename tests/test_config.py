"""Pipeline configs: valid ones load with resolved paths; every bad one names file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from kcorpus.config import ConfigError, LocalSource, load_config
from tests.conftest import ROOT, write_pipeline

GOOD = """
name: demo
sources:
  - kind: local
    path: repo
synth:
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
