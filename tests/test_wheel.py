"""The built wheel, installed where no source tree is: what users and GPU nodes get.

The wheel is built from the tracked files alone (a copy, as a clean clone has them), offline
(`--no-build-isolation`: this environment's setuptools), and installed without its
dependencies into a fresh venv that reads them from this environment's site-packages: a plain
path there, not a site directory, so this environment's editable install of kcorpus is not
seen. Then `kcorpus rebuild` runs on a copy of the sample pipeline with the venv's own script.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT, git

pytestmark = pytest.mark.slow


def _run(*cmd, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n" \
                                 f"{proc.stderr[-3000:]}"
    return proc


def _clean_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "PREFECT_HOME": str(home / "prefect"), "KCORPUS_PROGRESS": "0"}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(wheel, venv, env): the wheel built from the tracked files and installed in a fresh venv."""
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    for rel in git(ROOT, "ls-files", "-z").split("\0"):
        if rel and (ROOT / rel).is_file():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / rel, src / rel)
    _run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "--no-index", "-w", base / "dist", src)
    [wheel] = (base / "dist").glob("kcorpus-*.whl")
    venv = base / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    site = _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").stdout
    Path(site.strip(), "kcorpus-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run(sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps",
         "--no-index", wheel)
    return wheel, venv, _clean_env(base)


def test_the_wheel_carries_the_files_the_library_reads(installed):
    wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = {f"kcorpus/{p.relative_to(ROOT).as_posix()}" for d in ("schemas", "cards")
               for p in (ROOT / d).rglob("*") if p.is_file()}
    tracked |= {p.relative_to(ROOT).as_posix() for p in (ROOT / "kcorpus/synth/templates").rglob("*")
                if p.is_file()}
    assert tracked and tracked <= names, sorted(tracked - names)
    assert "flows/rebuild.py" in names and "kcorpus/verify/worker.py" in names


def test_the_installed_package_is_the_wheel_not_the_checkout(installed, tmp_path):
    _, venv, env = installed
    out = _run(venv / "bin" / "python", "-c", "import kcorpus, flows; from kcorpus import schema; "
               "print(kcorpus.__file__, flows.__file__, schema.catalog_schema_version())",
               cwd=tmp_path, env=env).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in out[:2]), out
    assert int(out[2]) >= 1


KEPT = {"models/linear_relu.py": "pass", "models/mlp.py": "mismatch",
        "losses/distillation.py": "no_kernel"}  # a verdict of each kind that is quick to reach


def _small_sample(dest: Path) -> Path:
    """The sample pipeline cut to three modules and their recorded completions: its SmolLM2
    backend (minutes on the CPU) and the rest of its modules have their rebuild in
    tests/test_rebuild.py; here what counts is that the installed package runs every stage."""
    shutil.copytree(ROOT / "pipelines" / "sample", dest / "sample")
    repo = dest / "sample" / "repo"
    for p in list(repo.rglob("*.py")):
        if p.relative_to(repo).as_posix() not in KEPT and p.name != "__init__.py":
            p.unlink()
    records = [json.loads(line) for line in (repo.parent / "completions.jsonl").open()]
    (repo.parent / "completions.jsonl").write_text("".join(
        json.dumps(r) + "\n" for r in records if KEPT.get(r["path"]) == r["expect"]))
    cfg = yaml.safe_load((ROOT / "pipelines" / "sample.yaml").read_text())
    cfg["synth"]["backends"] = [b for b in cfg["synth"]["backends"] if b["kind"] == "replay"]
    cfg["verify"]["trials"] = 2
    (dest / "sample.yaml").write_text(yaml.safe_dump(cfg))
    return dest / "sample.yaml"


def test_kcorpus_rebuild_runs_from_the_wheel(installed, tmp_path):
    _, venv, env = installed
    pipeline = _small_sample(tmp_path)
    kcorpus = venv / "bin" / "kcorpus"
    _run(kcorpus, "rebuild", pipeline, "--workdir", "wd", cwd=tmp_path, env=env, timeout=600)
    status = json.loads(_run(kcorpus, "status", "--json", "--workdir", "wd", cwd=tmp_path,
                             env=env).stdout)
    assert status["tables"]["verdicts"] == status["tables"]["candidates"] == len(KEPT)
    [release] = status["releases"]
    card = Path(release["path"], "README.md").read_text()
    assert "config_name: pairs" in card and "kcorpus-sample" in card  # the card template's
    rows = _run(kcorpus, "query", "--config", "attempts", "--json", "--limit", "0", "--workdir",
                "wd", cwd=tmp_path, env=env).stdout.splitlines()
    codes = sorted(json.loads(r)["failure_code"] or "pass" for r in rows)
    assert codes == ["MISMATCH", "NO_KERNEL", "pass"], codes
