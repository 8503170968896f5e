"""The verifier as an HTTP reward service: the real server (uvicorn, `kcorpus serve-verifier`)
on a free local port, called over HTTP with httpx."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from kcorpus.rl.reward import Shaping, reward
from kcorpus.rl.service import openrlhf_items
from kcorpus.verify import tricks as P
from kcorpus.verify.single import verify_files
from tests.conftest import ROOT

TOKEN = "s3cret-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _release(tmp: Path) -> Path:
    """A directory laid out as a release, with one problem in its `problems` config."""
    (tmp / "problems").mkdir(parents=True)
    pq.write_table(pa.table({"problem_id": ["relu-scale"], "code": [P.PROBLEM]}),
                   tmp / "problems" / "train-00000-of-00001.parquet")
    return tmp


def _start(*extra: str) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    env = {**os.environ, "KC_TEST_TOKEN": TOKEN}
    proc = subprocess.Popen([sys.executable, "-m", "kcorpus", "serve-verifier", "--port",
                             str(port), "--device", "cpu", "--workers", "2", "--timeout", "20",
                             "--trials", "2", "--token-env", "KC_TEST_TOKEN", *extra],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail(f"the service did not start: {proc.stdout.read().decode()[-2000:]}")
    return proc, url


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    release = _release(tmp_path_factory.mktemp("release"))
    proc, url = _start("--queue", "16", "--release", str(release))
    yield url
    proc.terminate()
    proc.wait(timeout=30)


def _post(url: str, path: str, body, **kw) -> httpx.Response:
    return httpx.post(f"{url}{path}", json=body, headers=AUTH, timeout=120, **kw)


def test_verdicts_equal_kcorpus_verify_on_the_same_pair(service, tmp_path):
    (tmp_path / "ref.py").write_text(P.PROBLEM)
    for name, code in (("honest", P.HONEST), ("wrong", P.WRONG), ("torch_ops", P.TORCH_OPS)):
        (tmp_path / f"{name}.py").write_text(f"Here it is:\n```python\n{code}\n```\n")
        local = verify_files(tmp_path / "ref.py", tmp_path / f"{name}.py", device="cpu", trials=2,
                             timeout_s=20)
        served = _post(service, "/v1/verify", {"problem_code": P.PROBLEM,
                                                "candidate": (tmp_path / f"{name}.py").read_text()})
        assert served.status_code == 200, served.text
        got = served.json()
        assert got.pop("reward") == reward(local)
        for key in ("seconds", "sandbox"):  # wall time; the sandbox report names a temp dir
            got.pop(key), local.pop(key)
        assert got == local, name
    by_id = _post(service, "/v1/verify", {"problem_id": "relu-scale", "candidate": P.HONEST})
    assert by_id.json()["passed"] and by_id.json()["reward"] == 1.0


def test_a_batch_answers_in_request_order(service):
    items = [{"problem_id": "relu-scale", "candidate": c} for c in (P.WRONG, P.HONEST, "no code")]
    got = _post(service, "/v1/verify/batch", {"items": items}).json()["results"]
    assert [r["passed"] for r in got] == [False, True, False]
    assert got[0]["failure_code"] == "MISMATCH" and got[2]["failure_code"] == "NO_CODE"
    assert [r["reward"] for r in got] == [0.1, 1.0, 0.0]


def test_bad_requests_get_their_codes_and_say_what_was_wrong(service):
    def post(content: bytes, headers=AUTH) -> httpx.Response:
        return httpx.post(f"{service}/v1/verify", content=content, headers=headers, timeout=30)

    cases = {
        400: [post(b"{not json"), post(b'{"problem_code": "x"}'), post(b'[1, 2]'),
              post(b'{"problem_code": "x", "candidate": "y", "lenient": "yes"}'),
              _post(service, "/v1/verify/batch", {"items": []})],
        401: [post(b'{"problem_code": "x", "candidate": "y"}', headers={}),
              post(b'{"problem_code": "x", "candidate": "y"}',
                   headers={"Authorization": "Bearer wrong"})],
        404: [post(b'{"problem_id": "no-such-problem", "candidate": "y"}')],
        413: [post(b"x" * (2 << 20))],
        429: [_post(service, "/v1/verify/batch",
                    {"items": [{"problem_id": "relu-scale", "candidate": "x"}] * 17})],
    }
    for status, responses in cases.items():
        for r in responses:
            assert r.status_code == status, (status, r.text)
            assert r.json()["error"]
    assert "no-such-problem" in cases[404][0].json()["error"]
    assert cases[429][0].headers["Retry-After"] == "1"
    assert cases[401][0].headers["WWW-Authenticate"] == "Bearer"


def test_a_crashing_and_a_hanging_candidate_do_not_take_the_service_down(service):
    items = [{"problem_code": P.PROBLEM, "candidate": c} for c in (P.SEGFAULT, P.HANG)]
    crash, hang = _post(service, "/v1/verify/batch", {"items": items}).json()["results"]
    assert crash["failure_code"] in ("CRASH", "RUNTIME_ERROR") and not crash["passed"]
    assert hang["failure_code"] == "TIMEOUT"
    assert httpx.get(f"{service}/healthz").json()["ok"]
    assert _post(service, "/v1/verify", {"problem_id": "relu-scale",
                                         "candidate": P.HONEST}).json()["passed"]


def test_many_concurrent_clients_lose_no_request(service):
    """300 requests from 32 clients, each retrying after a 429 as Retry-After says."""
    def one(i: int) -> tuple[int, float]:
        t0 = time.perf_counter()
        while True:
            r = _post(service, "/v1/verify", {"problem_id": "relu-scale",
                                              "candidate": f"no program here {i}"})
            if r.status_code != 429:
                return (r.status_code, r.json().get("failure_code")), time.perf_counter() - t0
            time.sleep(float(r.headers["Retry-After"]))

    with ThreadPoolExecutor(32) as pool:
        got = list(pool.map(one, range(300)))
    assert [answer for answer, _ in got] == [(200, "NO_CODE")] * 300
    latencies = sorted(s for _, s in got)
    print(f"p50 {statistics.median(latencies):.2f} s, p99 {latencies[296]:.2f} s")


def test_with_a_catalog_every_verdict_is_stored_as_a_rollout(tmp_path):
    from kcorpus.catalog import Catalog

    proc, url = _start("--catalog", str(tmp_path / "rl.duckdb"))
    try:
        items = [{"problem_code": P.PROBLEM, "candidate": c, "model": "policy-7b"}
                 for c in (P.HONEST, P.WRONG, P.HONEST)]  # the same completion twice
        got = _post(url, "/v1/verify/batch", {"items": items}).json()["results"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert got[0]["candidate_id"] == got[2]["candidate_id"] != got[1]["candidate_id"]
    with Catalog(tmp_path / "rl.duckdb", read_only=True) as cat:
        rows = cat.rows("SELECT c.candidate_id, c.backend, c.model, v.passed, v.failure_code "
                        "FROM candidates c JOIN verdicts v USING (candidate_id) ORDER BY v.passed")
        assert [(r["backend"], r["model"], r["passed"], r["failure_code"]) for r in rows] == [
            ("rl-service", "policy-7b", False, "MISMATCH"), ("rl-service", "policy-7b", True, "")]
        assert cat.scalar("SELECT count(*) FROM problems WHERE source_id = 'rl-service'") == 1


def test_openrlhf_requests_name_problems_by_label():
    items = openrlhf_items({"query": ["PROMPT```python\nx\n```"], "prompts": ["PROMPT"],
                            "labels": ["relu-scale"]})
    assert items == [{"candidate": "```python\nx\n```", "problem_id": "relu-scale"}]


def test_reward_shaping():
    s = Shaping()
    assert reward({"passed": True, "speedup_eager": 2.0}, s) == 1.5
    assert reward({"passed": True, "speedup_eager": 100.0, "flags": ["speedup_over_10x"]}) == 1.0
    assert reward({"passed": True, "speedup_eager": 64.0}, s) == 2.0  # capped at 4x
    assert reward({"passed": False, "stage": "static", "failure_code": "NO_CODE"}) == 0.0
    assert reward({"passed": False, "stage": "provenance",
                   "failure_code": "KERNEL_NOT_USED"}) == 0.0
    assert reward({"passed": False, "stage": "correctness", "failure_code": "MISMATCH"}) == 0.1
    assert reward({"passed": False, "stage": "compile", "failure_code": "TIMEOUT"}) == 0.1
    with pytest.raises(ValueError, match="unknown keys"):
        Shaping.of({"bonus": 1})
