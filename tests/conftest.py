"""Shared fixtures: copies of the sample pipeline, git repositories made on the spot."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "pipelines" / "sample"
KCORPUS = [sys.executable, "-m", "kcorpus"]


# Set before any test module imports prefect or datasets (both read these at import time):
# Prefect's ephemeral server database and the datasets cache are private to this session.
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="kcorpus-tests-"))
os.environ["PREFECT_HOME"] = str(_SESSION_DIR / "prefect")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["HF_DATASETS_CACHE"] = str(_SESSION_DIR / "hf-datasets")
os.environ["KCORPUS_PROGRESS"] = "0"
# Rebuilds start Prefect's temporary server; on a loaded 2-core machine its default 20 s start-up
# limit was seen to run out (test_ray_verify, whose rebuild had its own PREFECT_HOME)
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def git(cwd: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def make_git_repo(path: Path, files: dict[str, str | bytes] | None = None,
                  copy_from: Path | None = None) -> str:
    """A real git repository at `path` with one commit; returns the commit sha."""
    if copy_from is not None:
        shutil.copytree(copy_from, path)
    path.mkdir(parents=True, exist_ok=True)
    for rel, content in (files or {}).items():
        p = path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content if isinstance(content, bytes) else content.encode())
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return git(path, "rev-parse", "HEAD")


def table_rows(table: str, rows: list[dict]):
    """`rows` as an Arrow table of catalog `table`, every column not given left null."""
    from kcorpus import schema

    full = [{**{name: None for name in schema.table(table).column_names}, **r} for r in rows]
    return schema.table(table).to_arrow(full)


def write_pipeline(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body)
    return path


@pytest.fixture
def catalog(tmp_path):
    """A fresh catalog file (tests that need another kind define their own)."""
    from kcorpus.catalog import Catalog

    cat = Catalog(tmp_path / "catalog.duckdb")
    yield cat
    cat.close()


@pytest.fixture
def sample_pipeline(tmp_path) -> Path:
    """The sample pipeline and its inputs, copied so tests can change them."""
    shutil.copytree(SAMPLE, tmp_path / "pipelines" / "sample")
    shutil.copy(ROOT / "pipelines" / "sample.yaml", tmp_path / "pipelines" / "sample.yaml")
    return tmp_path / "pipelines" / "sample.yaml"


def run_cli(*args: str, cwd: Path | None = None, check: bool = True,
            timeout: float = 900) -> subprocess.CompletedProcess:
    proc = subprocess.run([*KCORPUS, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"kcorpus {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def pytest_collection_modifyitems(config, items):
    """GPU tests run only where CUDA is available."""
    try:
        import torch
        has_gpu = torch.cuda.is_available()
    except ImportError:
        has_gpu = False
    if has_gpu:
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
