"""Progress a user can see anywhere (kcorpus/progress.py): plain lines in a log file when the
output is not a terminal, a progress file that `kcorpus status` reads while a rebuild holds the
catalog's lock, and listeners (the Prefect flow's progress artifact)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

from tests.conftest import KCORPUS, SAMPLE, run_cli, write_pipeline

from kcorpus import progress

PIPELINE = """name: progress-test
sources:
  - {kind: local, path: repo, name: example/progress}
synth: {backends: []}
verify: {device: cpu, workers: 1, trials: 1}
"""


def test_a_bar_without_a_terminal_logs_lines_and_writes_its_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KCORPUS_PROGRESS", "1")
    monkeypatch.setenv("KCORPUS_PROGRESS_INTERVAL", "0.2")
    seen = []
    progress.LISTENERS.append(seen.append)
    try:
        with progress.tracking(tmp_path / "progress.json", "problems"):
            with progress.bar("problems", total=4) as b:
                b.advance()
                time.sleep(0.5)  # nothing finishes, lines keep coming
                mid = progress.read(tmp_path / "progress.json")
                b.advance(3)
    finally:
        progress.LISTENERS.remove(seen.append)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("progress ")]
    assert len(lines) >= 2 and lines[-1].startswith("progress problems: 4/4 (100%)")
    assert mid["stage"] == "problems" and mid["done"] == 1 and mid["total"] == 4
    assert mid["state"] == "running" and mid["eta_s"] is not None
    assert progress.read(tmp_path / "progress.json")["state"] == "finished"
    assert seen and seen[-1]["done"] == 4


def test_a_rebuild_logging_to_a_file_shows_progress_and_status_answers_meanwhile(tmp_path):
    shutil.copytree(SAMPLE / "repo", tmp_path / "repo")
    pipe = write_pipeline(tmp_path / "p.yaml", PIPELINE)
    wd = tmp_path / "wd"
    log = tmp_path / "rebuild.log"
    env = {**os.environ, "KCORPUS_PROGRESS": "1", "KCORPUS_PROGRESS_INTERVAL": "1"}
    with open(log, "w") as out:
        proc = subprocess.Popen([*KCORPUS, "rebuild", str(pipe), "--workdir", str(wd)],
                                stdout=out, stderr=subprocess.STDOUT, env=env)
    answers = []
    while proc.poll() is None:
        got = subprocess.run([sys.executable, "-m", "kcorpus", "status", "--workdir", str(wd),
                              "--json"], capture_output=True, text=True)
        if got.returncode == 0 and '"running"' in got.stdout:
            answers.append(json.loads(got.stdout)["running"])
        time.sleep(0.3)
    assert proc.returncode == 0, log.read_text()[-3000:]
    lines = [ln for ln in log.read_text().splitlines() if ln.startswith("progress problems (cpu): ")]
    assert lines, log.read_text()[-3000:]
    assert answers, "status never reported the running stage while the catalog was held"
    assert {a["stage"] for a in answers} <= {"mine", "problems", "synth", "verify", "refine",
                                             "dedup", "publish"}
    assert any(a.get("total") for a in answers)
    done = run_cli("status", "--workdir", str(wd), "--json")
    assert json.loads(done.stdout)["tables"]["probes"] > 0


def test_each_stage_keeps_one_prefect_progress_artifact_up_to_date():
    """The flow's listener: one progress artifact per stage and flow run, created on the first
    snapshot and updated after, also when called from the stage's progress thread. (Other
    tests' rebuilds share this session's Prefect database, hence the filter on this run.)"""
    import asyncio
    import threading

    from prefect import flow
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (ArtifactFilter, ArtifactFilterFlowRunId,
                                                ArtifactFilterKey)

    from flows.rebuild import _progress_artifact

    @flow
    def stage_like():
        listen = _progress_artifact("problems")
        listen({"stage": "problems", "description": "problems", "done": 1, "total": 4})
        t = threading.Thread(target=listen, args=({"stage": "problems", "description": "problems",
                                                   "done": 3, "total": 4},))
        t.start()
        t.join()
        listen({"stage": "other", "done": 9, "total": 9})  # another stage's: not this artifact

    run_id = stage_like(return_state=True).state_details.flow_run_id

    async def read():
        async with get_client() as client:
            return await client.read_artifacts(artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(any_=["kcorpus-problems-progress"]),
                flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))

    artifacts = asyncio.run(read())
    assert len(artifacts) == 1 and artifacts[0].type == "progress"
    assert float(artifacts[0].data) == 75.0 and "3/4" in artifacts[0].description
