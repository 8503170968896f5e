"""Resume: a rebuild killed in the middle, started again, ends with the same catalog as one
that was never interrupted, and does not redo the verifications it had finished."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import time
from pathlib import Path

from kcorpus.catalog import Catalog
from tests.conftest import KCORPUS, ROOT, run_cli

FILES = ["models/linear_relu.py", "models/softmax_temperature.py", "models/mlp.py",
         "models/layers/rms_norm.py", "losses/mse_loss.py"]
VOLATILE = {"created_at", "verified_at", "probed_at", "fetched_at", "seconds", "phase_seconds"}
TABLES = ["sources", "problems", "probes", "candidates", "verdicts", "dedup", "rejects"]


def _pipeline(base: Path) -> Path:
    repo = base / "repo"
    for rel in FILES:
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / "pipelines" / "sample" / "repo" / rel, repo / rel)
    shutil.copy(ROOT / "pipelines" / "sample" / "repo" / "LICENSE", repo / "LICENSE")
    lines = [line for line in (ROOT / "pipelines" / "sample" / "completions.jsonl").read_text()
             .splitlines() if json.loads(line)["path"] in FILES]
    (base / "completions.jsonl").write_text("\n".join(lines) + "\n")
    (base / "p.yaml").write_text(
        "name: resume\nsources:\n  - {kind: local, path: repo, name: org/sample, license: MIT}\n"
        "synth:\n  backends:\n    - {kind: replay, path: completions.jsonl}\n"
        "verify: {device: cpu, trials: 2, workers: 2}\n")
    return base / "p.yaml"


def _snapshot(workdir: Path) -> dict:
    with Catalog(workdir / "catalog.duckdb", read_only=True) as cat:
        out = {}
        for t in TABLES:
            rows = [{k: v for k, v in r.items() if k not in VOLATILE}
                    for r in cat.rows(f"SELECT * FROM {t}")]
            out[t] = sorted(json.dumps(r, sort_keys=True, default=str) for r in rows)
        out["releases"] = cat.count("releases")
        return out


def _verified(workdir: Path) -> dict[str, str]:
    if not (workdir / "catalog.duckdb").exists():
        return {}
    with Catalog(workdir / "catalog.duckdb", read_only=True) as cat:
        return {r["candidate_id"]: str(r["verified_at"])
                for r in cat.rows("SELECT candidate_id, verified_at FROM verdicts")}


def _kill_during(pipeline: Path, workdir: Path, stage: str, delay: float) -> None:
    """Start a rebuild and SIGKILL it `delay` seconds after its `stage` subflow began."""
    proc = subprocess.Popen([*KCORPUS, "rebuild", str(pipeline), "--workdir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=os.environ.copy())
    began = any(f"for flow 'kcorpus-{stage}'" in line for line in proc.stderr)
    assert began, f"the {stage} stage never began"
    time.sleep(delay)
    os.killpg(proc.pid, signal.SIGKILL)  # the flow, its fork server and its children
    proc.wait()


def test_killed_rebuilds_resume_to_the_same_catalog(tmp_path):
    """Kills at drawn points: in problems and verify (the long stages), and in one other stage
    drawn too; each point a uniform share of that stage's length in the reference run. The
    seed is KCORPUS_RESUME_SEED where set (.ci/run fixes it, so CI draws the same points every
    run), else random; every failure names it, and setting it draws the same points again."""
    pipeline = _pipeline(tmp_path)
    ref = run_cli("rebuild", str(pipeline), "--workdir", str(tmp_path / "ref"), "--json")
    seconds = {k: v["seconds"] for k, v in json.loads(ref.stdout.splitlines()[-1]).items()}
    reference = _snapshot(tmp_path / "ref")
    assert reference["verdicts"] and reference["releases"] == 1
    seed = int(os.environ.get("KCORPUS_RESUME_SEED") or random.randrange(10**6))
    for stage, share in kill_points(seed):
        delay = share * seconds[stage]
        where = (f"killed {delay:.2f} s ({share:.0%}) into {stage}; KCORPUS_RESUME_SEED={seed} "
                 "draws these points again")
        try:
            _resumes(pipeline, tmp_path / f"killed-{stage}", stage, delay, reference)
        except AssertionError as e:
            raise AssertionError(f"{where}: {e}") from e


def kill_points(seed: int) -> list[tuple[str, float]]:
    """(stage, share of its length) for each kill: a function of the seed alone."""
    rng = random.Random(seed)
    stages = ["problems", "verify", rng.choice(["mine", "synth", "dedup", "publish"])]
    return [(stage, rng.random()) for stage in stages]


def _resumes(pipeline: Path, wd: Path, stage: str, delay: float, reference: dict) -> None:
    _kill_during(pipeline, wd, stage, delay)
    before = _verified(wd)
    run_cli("rebuild", str(pipeline), "--workdir", str(wd))
    assert _snapshot(wd) == reference, "the resumed catalog differs from the reference"
    after = _verified(wd)
    assert all(after[c] == t for c, t in before.items()), "a verdict was redone"


def test_kill_points_follow_the_seed_alone():
    assert kill_points(7) == kill_points(7)
    assert len({tuple(kill_points(s)) for s in range(20)}) == 20
    assert all(0 <= share < 1 and stage in ("problems", "verify", "mine", "synth", "dedup",
                                            "publish") for stage, share in kill_points(3))
