"""OS-level isolation of verification children (kcorpus/verify/isolation.py), through the same
sandboxed fork server the pipeline uses: a candidate that writes outside its directory, reads a
planted file elsewhere or connects to a local socket gets a verdict that says so, and the file
is neither written nor read, the connection never made.

Every candidate here catches the error the kernel gives it and then computes honestly, so it is
the audit of what was tried, not a crash, that fails it."""

from __future__ import annotations

import json
import socket
import threading

import pytest

from kcorpus.verify import codes, isolation, sandbox
from kcorpus.verify import tricks as P

SECRET = "kcorpus-planted-secret-7f3a"


def _attempt(body: str, at_import: bool = False, caught: bool = True) -> str:
    """The honest candidate, with `body` (which may raise) tried in forward or at import; the
    error it gets is caught unless `caught` is false."""
    guarded = "try:\n" + "".join(f"    {line}\n" for line in body.splitlines()) + (
        "except OSError:\n    pass\n" if caught else "finally:\n    pass\n")
    if at_import:
        return P.HONEST.replace("\nclass ModelNew", "\n" + guarded + "\n\nclass ModelNew", 1)
    indented = "".join(f"        {line}\n" for line in guarded.splitlines())
    return P.variant("        x = x.contiguous()\n", indented + "        x = x.contiguous()\n")


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    d = tmp_path_factory.mktemp("outside")
    (d / "secret.txt").write_text(SECRET)
    return d


@pytest.fixture(scope="module")
def listener():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    accepted: list = []
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                accepted.append(server.accept())
            except OSError:
                continue

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield server.getsockname()[1], accepted
    stop.set()
    t.join()
    server.close()


@pytest.fixture(scope="module")
def verdicts(planted, listener):
    port, _ = listener
    secret, written = planted / "secret.txt", planted / "written.txt"
    saved = planted / "saved.pt"
    cases = {
        "writes_outside": _attempt(f"open({str(written)!r}, 'w').write('x')"),
        "reads_planted_file": _attempt(f"raise RuntimeError('LEAK:' + open({str(secret)!r}).read())"),
        # torch.save opens its file in C++, where the audit hook cannot see: the kernel's refusal
        # itself (uncaught here) is the evidence; caught or not, nothing is written
        "torch_save_at_import": _attempt(f"torch.save(torch.ones(3), {str(saved)!r})", at_import=True,
                                         caught=False),
        "connects_to_local_socket": _attempt(
            f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)"),
        "reads_parent_environment": _attempt(
            "import os\nraise RuntimeError('LEAK:' + open(f'/proc/{os.getppid()}/environ').read())"),
        "honest": P.HONEST,
    }
    jobs = [{"id": name, "problem_code": P.PROBLEM, "candidate_code": code, "device": "cpu",
             "trials": 2, "seed": 5} for name, code in cases.items()]
    limits = sandbox.Limits(timeout_s=120, memory_mb=8192, parallel=2)
    return {v["id"]: v for v in sandbox.run_jobs(jobs, limits, "cpu")}


def _expected_label() -> str:
    return "landlock+netns" if isolation.landlock_abi() >= 1 else "netns"


@pytest.mark.parametrize("name, said", [
    ("writes_outside", "writes"), ("reads_planted_file", "reads"),
    ("torch_save_at_import", "Permission denied"), ("connects_to_local_socket", "connect"),
    ("reads_parent_environment", "reads")])
def test_an_escape_gets_a_verdict_that_says_so(verdicts, name, said):
    v = verdicts[name]
    assert not v["passed"] and v["failure_code"] == codes.SANDBOX_VIOLATION, v["message"]
    assert said in v["message"]
    assert v["sandbox"] == _expected_label()
    assert SECRET not in json.dumps(v) and "LEAK:" not in json.dumps(v)


def test_nothing_outside_was_written_or_reached(verdicts, planted, listener):
    _, accepted = listener
    assert not (planted / "written.txt").exists() and not (planted / "saved.pt").exists()
    assert accepted == []
    assert (planted / "secret.txt").read_text() == SECRET


def test_an_honest_candidate_passes_inside_the_sandbox(verdicts):
    v = verdicts["honest"]
    assert v["passed"], v["message"]
    assert v["sandbox"] == _expected_label()


def test_without_isolation_the_verdict_says_none():
    job = {"id": "x", "problem_code": P.PROBLEM, "candidate_code": P.HONEST, "device": "cpu",
           "trials": 1, "seed": 5}
    limits = sandbox.Limits(timeout_s=120, parallel=1, isolate=False)
    (v,) = list(sandbox.run_jobs([job], limits, "cpu"))
    assert v["passed"] and v["sandbox"] == "none"


def test_a_child_cannot_read_the_job_stream():
    """stdin is /dev/null in a child: the fork server's jobs cannot be stolen."""
    code = _attempt("import os\nraise RuntimeError('LEAK:' + repr(os.read(0, 4096)))")
    code = code.replace("except OSError:", "except RuntimeError as e:\n            if str(e) != "
                        "\"LEAK:b''\":\n                raise\n        except OSError:")
    jobs = [{"id": f"j{i}", "problem_code": P.PROBLEM, "candidate_code": code, "device": "cpu",
             "trials": 1, "seed": 5} for i in range(3)]
    got = {v["id"]: v for v in sandbox.run_jobs(jobs, sandbox.Limits(parallel=1), "cpu")}
    assert sorted(got) == ["j0", "j1", "j2"]
    assert all(v["passed"] for v in got.values()), [v["message"] for v in got.values()]
