"""Resume: a rebuild killed in the middle, started again, ends with the same catalog as one
that was never interrupted, and does not redo the verifications it had finished."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from kcorpus.catalog import Catalog
from tests.conftest import KCORPUS, ROOT, run_cli
from tests.test_stop import alive, descendants

FILES = ["models/linear_relu.py", "models/softmax_temperature.py", "models/mlp.py",
         "models/layers/rms_norm.py", "losses/mse_loss.py"]
# measurements: they differ from run to run
VOLATILE = {"created_at", "verified_at", "probed_at", "fetched_at", "seconds", "phase_seconds",
            "child_rss_mb", "gpu_peak_mb"}
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


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The pipeline, its stages' seconds and the catalog of an uninterrupted rebuild."""
    base = tmp_path_factory.mktemp("resume")
    pipeline = _pipeline(base)
    ref = run_cli("rebuild", str(pipeline), "--workdir", str(base / "ref"), "--json")
    seconds = {k: v["seconds"] for k, v in json.loads(ref.stdout.splitlines()[-1]).items()}
    reference = _snapshot(base / "ref")
    assert reference["verdicts"] and reference["releases"] == 1
    return pipeline, seconds, reference


def test_killed_rebuilds_resume_to_the_same_catalog(tmp_path, uninterrupted):
    """Kills at drawn points: in problems and verify (the long stages), and in one other stage
    drawn too; each point a uniform share of that stage's length in the reference run. The
    seed is KCORPUS_RESUME_SEED where set (.ci/run fixes it, so CI draws the same points every
    run), else random; every failure names it, and setting it draws the same points again."""
    pipeline, seconds, reference = uninterrupted
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


STAGES = ["mine", "problems", "synth", "verify", "refine", "dedup", "publish"]


def _signal_during(pipeline: Path, workdir: Path, stage: str, delay: float, sig: int,
                   group: bool, env: dict) -> dict:
    """Start a rebuild, send `sig` `delay` seconds into its `stage` subflow (to its process
    group, as a terminal or systemd does, or to it alone, as Kubernetes does); what came of it."""
    proc = subprocess.Popen([*KCORPUS, "rebuild", str(pipeline), "--workdir", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=env)
    log = []
    for line in proc.stderr:
        log.append(line)
        if f"for flow 'kcorpus-{stage}'" in line:
            break
    time.sleep(delay)
    below = descendants(proc.pid)
    t0 = time.monotonic()
    (os.killpg if group else os.kill)(proc.pid, sig)
    log += proc.stderr.readlines()
    proc.wait(timeout=120)
    return {"code": proc.returncode, "seconds": time.monotonic() - t0, "log": "".join(log),
            "left": alive(below)}


def _flow_run_states(api_url: str, workdir: Path) -> list[tuple[str, str]]:
    """(flow name, state type) of every flow run the API knows of in `workdir`."""
    import httpx

    flows = {f["id"]: f["name"] for f in httpx.post(f"{api_url}/flows/filter", json={}).json()}
    runs = httpx.post(f"{api_url}/flow_runs/filter", json={"limit": 200}).json()
    return [(flows[r["flow_id"]], r["state_type"]) for r in runs
            if r["parameters"].get("workdir") == str(workdir)]


def _stages_to_stop(rng: random.Random) -> list[str]:
    """Three stages in pipeline order, one of them a long one (problems, verify): every stage
    is drawn in turn across seeds (a rebuild costs seconds; KCORPUS_STOP_STAGES=all stops
    one in every stage)."""
    if os.environ.get("KCORPUS_STOP_STAGES") == "all":
        return STAGES
    long = rng.choice(["problems", "verify"])
    return sorted([long, *rng.sample([s for s in STAGES if s != long], 2)], key=STAGES.index)


def test_signalled_rebuilds_stop_within_10_s_and_resume_to_the_same_catalog(tmp_path,
                                                                             uninterrupted):
    """One workdir, rebuilds stopped in stages drawn in turn (_stages_to_stop), each at a
    point drawn uniformly over that stage's length in the uninterrupted run, by SIGTERM or
    SIGINT (both are drawn), to the process or its group: each exits within 10 s with 128 +
    the signal and one line saying what finished and how to resume, and leaves no process
    behind; Prefect records every stopped run Cancelled, none Crashed. The first has its own
    temporary Prefect server (which must outlive the flow to hear that); the others share
    one. A rebuild after them (logging JSON) ends with the uninterrupted catalog. The seed is
    in the failure message."""
    from flows.bench_rebuild import prefect_server

    pipeline, seconds, reference = uninterrupted
    seed = int(os.environ.get("KCORPUS_STOP_SEED", random.randrange(10**6)))
    rng = random.Random(seed)
    stages = _stages_to_stop(rng)
    both = [signal.SIGTERM, signal.SIGINT]
    signals = both + [rng.choice(both) for _ in stages[2:]]
    rng.shuffle(signals)
    wd, env = tmp_path / "signalled", {**os.environ}
    env.pop("PREFECT_API_URL", None)
    plan = [(stage, sig, rng.uniform(0, seconds[stage]), i == 0 or rng.random() < 0.5)
            for i, (stage, sig) in enumerate(zip(stages, signals))]
    took, api_url = {}, None
    with contextlib.ExitStack() as shared:
        for i, (stage, sig, delay, group) in enumerate(plan):
            if i == 1:  # after the first: two servers on one database could lock each other
                api_url = shared.enter_context(prefect_server(Path(os.environ["PREFECT_HOME"])))
            where = (f"{sig.name} {delay:.2f} s into {stage} to the "
                     f"{'group' if group else 'process'} (seed {seed})")
            got = _signal_during(pipeline, wd, stage, delay, sig, group,
                                 env if i == 0 else {**env, "PREFECT_API_URL": api_url})
            took[stage] = round(got["seconds"], 2)
            if stage == stages[-1] and got["code"] == 0 and "Finished in state Completed()\n" \
                    in got["log"].splitlines(keepends=True)[-1]:
                took[stage] = "finished before the signal"
                continue
            assert got["code"] == 128 + sig, f"{where}: exit {got['code']}\n{got['log'][-3000:]}"
            assert got["seconds"] < 10, f"{where}: {got['seconds']:.1f} s to exit"
            assert not got["left"], f"{where}: left running: {got['left']}"
            last = got["log"].strip().splitlines()[-1]
            assert last.startswith(f"stopped by {sig.name}") or last.startswith(
                f"stopped at once by {sig.name}"), f"{where}: {last}"
            assert f"To resume, run: kcorpus rebuild {pipeline}" in last, where
            assert "Crash detected" not in got["log"], f"{where}\n{got['log'][-3000:]}"
            if i == 0:  # its own server heard the end of the flow
                assert "for flow 'kcorpus-rebuild'" in got["log"] and re.search(
                    r"Finished in state Cancelled\('stopped by", got["log"]), got["log"][-3000:]
        states = _flow_run_states(api_url, wd)
    final = run_cli("rebuild", str(pipeline), "--workdir", str(wd), "--log-format", "json")
    rebuilds = [state for name, state in states if name == "kcorpus-rebuild"]
    print(f"seconds to exit after the signal (seed {seed}): {took}; rebuild runs: {rebuilds}")
    # a stop in the last stage may land after the flow completed: that run is Completed
    before_last = sum(isinstance(t, float) for stage, t in took.items() if stage != "publish")
    assert set(rebuilds) <= {"CANCELLED", "COMPLETED"}, rebuilds
    assert rebuilds.count("CANCELLED") >= before_last, rebuilds
    assert not {"CRASHED", "FAILED"} & {state for _, state in states}, states
    assert _snapshot(wd) == reference, f"seed {seed}"
    _assert_json_lines(final.stderr)


def _assert_json_lines(stderr: str) -> None:
    """--log-format json: every line an object with time, level, stage, event and counts;
    each stage's end among them with its counts."""
    lines = [json.loads(line) for line in stderr.splitlines() if line.strip()]
    assert lines and all(set(obj) == {"time", "level", "stage", "event", "counts"}
                         for obj in lines), stderr[-2000:]
    finished = {obj["stage"]: obj["counts"] for obj in lines if obj["event"] == "stage finished"}
    assert set(finished) == set(STAGES), stderr[-2000:]
    assert all("seconds" in counts for counts in finished.values())
