"""Verification scaled out through prefect-ray's RayTaskRunner, on a local Ray cluster (CPU).

A real `kcorpus rebuild` runs twice over the same small repository and recorded completions:
once with the local fork server and once with `verify.runner: ray`, where a Ray cluster of 2
CPUs started by the rebuild runs the candidates in batches of 2 (one task per "GPU", here per
CPU). The verdicts must be the same, the batches must have run in Ray's worker processes, and
only the rebuild's process writes the catalog.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

SAMPLE = Path(__file__).resolve().parents[1] / "pipelines" / "sample"
FILES = ["models/linear_relu.py", "models/gelu_affine.py", "models/mlp.py",
         "models/bmm_scale.py", "losses/distillation.py"]


def _pipeline(tmp: Path, verify: str) -> Path:
    repo = tmp / "repo"
    if not repo.exists():
        for rel in FILES:
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(SAMPLE / "repo" / rel, repo / rel)
        shutil.copy(SAMPLE / "repo" / "LICENSE", repo / "LICENSE")
        shutil.copy(SAMPLE / "completions.jsonl", tmp / "completions.jsonl")
    path = tmp / f"{verify.split(',')[0].split(':')[-1].strip()}.yaml"
    path.write_text(f"name: raytest\nsources:\n  - {{kind: local, path: {repo}, name: org/r}}\n"
                    f"synth:\n  backends:\n    - {{kind: replay, path: {tmp}/completions.jsonl}}\n"
                    f"verify: {{device: cpu, trials: 3, timeout_s: 60, workers: 1, {verify}}}\n")
    return path


def _rebuild(pipeline: Path, workdir: Path, tmp: Path) -> tuple[str, int]:
    """The rebuild's output, and the pid of its process (the flow runs in it)."""
    env = {**os.environ, "PREFECT_HOME": str(tmp / "prefect")}
    env.pop("PREFECT_API_URL", None)
    with subprocess.Popen([sys.executable, "-m", "kcorpus", "rebuild", str(pipeline),
                           "--workdir", str(workdir)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, env=env) as proc:
        out, _ = proc.communicate(timeout=600)
    assert proc.returncode == 0, out[-6000:]
    return out, proc.pid


def _verdicts(workdir: Path) -> dict[str, tuple]:
    with duckdb.connect(str(workdir / "catalog.duckdb"), read_only=True) as con:
        rows = con.sql("SELECT c.completion, v.passed, v.failure_code, v.stage FROM verdicts v "
                       "JOIN candidates c USING (candidate_id)").fetchall()
    return {completion: (passed, code, stage) for completion, passed, code, stage in rows}


@pytest.mark.slow
def test_ray_verification_matches_the_local_pool(tmp_path):
    local, _ = _rebuild(_pipeline(tmp_path, "runner: local"), tmp_path / "local", tmp_path)
    ray_log, rebuild_pid = _rebuild(_pipeline(tmp_path, "runner: ray, ray: {batch: 2, init_kwargs: "
                                           "{num_cpus: 2, include_dashboard: false}}"),
                       tmp_path / "ray", tmp_path)
    expected = _verdicts(tmp_path / "local")
    assert len(expected) == 6
    assert {code for passed, code, _ in expected.values() if not passed} >= {
        "MISMATCH", "CRASH", "COMPILE_ERROR", "NO_KERNEL"}
    assert _verdicts(tmp_path / "ray") == expected
    # what passed the static checks went out in batches of at most 2, each run by a Ray worker
    sandboxed = sum(stage != "static" for _, _, stage in expected.values())
    batches = re.findall(r"Ray worker pid (\d+) on \S+ \(GPUs \[\]\) verified (\d+) candidates",
                         ray_log)
    sizes = sorted(int(n) for _, n in batches)
    assert sum(sizes) == sandboxed == 5 and sizes == [1, 2, 2], ray_log[-3000:]
    assert "Creating a local Ray instance" in ray_log
    # the batches ran in Ray's workers, not in the flow's process, the catalog's only writer
    assert batches and str(rebuild_pid) not in {pid for pid, _ in batches}, (rebuild_pid, batches)
    assert "Starting temporary server" not in ray_log.split("Creating a local Ray instance")[1]
    assert "verify-batch" not in local
