"""Stopping under a scheduler (kcorpus/stopping.py, flows/stoppable.py, kcorpus/rl/serving.py):
SIGTERM ends `serve-verifier` with every request in flight answered, `kcorpus serve` between
runs, and a rebuild whose Prefect API went away ends at once with one clear error. Signals
at random points of real rebuilds, and the resume after them: tests/test_resume.py."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from kcorpus import stopping
from kcorpus.verify import tricks as P
from tests.conftest import KCORPUS, SAMPLE, write_pipeline
from tests.test_rl_service import AUTH, _start

PIPELINE = """name: stop-test
sources:
  - {kind: local, path: repo, name: example/stop}
synth: {backends: []}
verify: {device: cpu, workers: 1, trials: 1}
schedule: {cron: "0 3 * * *"}
"""


def descendants(pid: int) -> list[int]:
    return stopping._descendants(pid)


def alive(pids: list[int]) -> list[str]:
    """Those of `pids` still running (not zombies), with their command lines."""
    out = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode()
            out.append(f"{pid}: {command[:200]}")
        except OSError:
            continue
    return out


def stop(proc: subprocess.Popen, sig: int, group: bool = False) -> tuple[float, list[int]]:
    """Send `sig`; the seconds until the process ended, and what ran below it then."""
    below = descendants(proc.pid)
    t0 = time.monotonic()
    (os.killpg if group else os.kill)(proc.pid, sig)
    proc.wait(timeout=60)
    return time.monotonic() - t0, below


def test_serve_verifier_answers_every_request_in_flight_on_sigterm():
    """Hanging candidates fill both workers and the queue behind them; on SIGTERM every one
    of those requests gets an answer (a verdict or 503 with Retry-After), none hangs, the
    process exits 143 within 10 s and leaves no fork server or child behind. It logs JSON
    lines, uvicorn's and the stop's own."""
    proc, url = _start("--queue", "16", "--log-format", "json")

    def ask(candidate: str) -> httpx.Response:
        return httpx.post(f"{url}/v1/verify", json={"problem_code": P.PROBLEM,
                                                    "candidate": candidate},
                          headers=AUTH, timeout=15)

    done = [ask("no code here"), ask(P.WRONG)]  # answered before the stop
    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(ask, P.HANG) for _ in range(4)]
        deadline = time.monotonic() + 60
        while httpx.get(f"{url}/healthz").json()["in_flight"] < 4:
            assert time.monotonic() < deadline, "the hanging candidates never got in flight"
            time.sleep(0.2)
        took, below = stop(proc, signal.SIGTERM)
        answers = done + [f.result() for f in futures]  # a hang raises ReadTimeout here
    log = proc.stdout.read().decode()
    assert proc.returncode == 143, log[-2000:]
    assert took < 10, f"{took:.1f} s to exit"
    assert not alive(below)
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200, 200, 503, 503, 503, 503], [r.text for r in answers]
    refused = [r for r in answers if r.status_code == 503]
    assert all(r.headers["Retry-After"] and "stopping" in r.json()["error"] for r in refused)
    lines = [json.loads(line) for line in log.strip().splitlines()]
    assert all(set(obj) == {"time", "level", "stage", "event", "counts"} for obj in lines)
    assert any("Uvicorn running" in obj["event"] for obj in lines)
    assert lines[-1]["event"].startswith(
        "serve-verifier stopped by SIGTERM: 2 candidates answered, 4 in flight")
    print(f"serve-verifier exited {took:.2f} s after SIGTERM")


def _small_pipeline(tmp_path: Path) -> Path:
    shutil.copytree(SAMPLE / "repo", tmp_path / "repo")
    return write_pipeline(tmp_path / "p.yaml", PIPELINE)


def _env() -> dict:
    env = {**os.environ}
    env.pop("PREFECT_API_URL", None)  # its own temporary server
    return env


def _until(proc: subprocess.Popen, text: str) -> list[str]:
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"{text!r} never came:\n{''.join(lines)[-3000:]}")


def test_serve_waiting_for_its_schedule_stops_on_sigterm(tmp_path):
    pipe = _small_pipeline(tmp_path)
    proc = subprocess.Popen([*KCORPUS, "serve", str(pipe), "--workdir", str(tmp_path / "wd")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=_env(), start_new_session=True)
    _until(proc, "next rebuild of")
    took, below = stop(proc, signal.SIGTERM, group=True)  # as systemd does: the whole group
    rest = proc.stderr.read().strip().splitlines()
    assert proc.returncode == 143 and took < 10, (proc.returncode, took, rest)
    assert rest[-1].startswith("stopped by SIGTERM while waiting for the rebuild at ")
    assert "To serve again, run: kcorpus serve" in rest[-1]
    assert below and not alive(below)  # its temporary Prefect server ended with it


def test_a_rebuild_whose_prefect_api_went_away_ends_with_one_error(tmp_path):
    """The temporary server killed under a running rebuild: one error line, exit 1 within
    10 s, no retries, no traceback, nothing left running (resuming: tests/test_resume.py)."""
    pipe = _small_pipeline(tmp_path)
    args = [*KCORPUS, "rebuild", str(pipe), "--workdir", str(tmp_path / "wd")]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=_env(), start_new_session=True)
    _until(proc, "for flow 'kcorpus-problems'")
    [server] = [p for p in descendants(proc.pid) if b"flows.api_server" in
                Path(f"/proc/{p}/cmdline").read_bytes()]
    below = descendants(proc.pid)
    t0 = time.monotonic()
    os.kill(server, signal.SIGKILL)
    proc.wait(timeout=60)
    took = time.monotonic() - t0
    rest = proc.stderr.read()
    assert proc.returncode == 1 and took < 10, (proc.returncode, took, rest[-3000:])
    assert "Traceback" not in rest and rest.count("error:") == 1, rest[-3000:]
    line = rest.strip().splitlines()[-1]
    assert line.startswith("error: the temporary Prefect server exited") and "To resume" in line
    assert not alive(below)
    print(f"rebuild exited {took:.2f} s after its API server died")
