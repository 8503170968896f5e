"""Probes of one source sharing a child of the fork server (verify/shared_child.py): every job
still gets its own answer, as if it had run alone, and a job the shared child could not answer
runs again alone. The grouping is checked with a stand-in server; the answers, a crash inside
a group and a job that runs past its time, through the real fork server and probe on the CPU."""

from __future__ import annotations

import time

import pytest

from kcorpus.verify import sandbox, shared_child, stream
from kcorpus.verify import tricks as P


def _fake_run(log: list):
    """A stand-in for stream.run_stream: answers every job at once (each job of a group too,
    except those named 'lost' or 'oom'), queueing follow-ups as the real one does."""
    def run(first, follow):
        queue = list(first)
        while queue:
            job = queue.pop(0)
            log.append(job["id"])
            if job.get("kind") == shared_child.KIND:
                parts = [{"id": j["id"], "retry": True} if j["id"].startswith("oom") else
                         {"id": j["id"], "ok": True, "shared": True}
                         for j in job["jobs"] if not j["id"].startswith("lost")]
                answer = {"id": job["id"], "kind": shared_child.KIND, "answers": parts}
            else:
                answer = {"id": job["id"], "ok": True, "shared": False}
            queue.extend(follow(answer))
            yield answer
    return run


def _job(i: str, source: str) -> dict:
    return {"kind": "probe", "id": i, "source_id": source}


def test_jobs_of_one_source_share_a_child_and_each_gets_its_own_answer():
    log: list = []
    jobs = [_job("a1", "A"), _job("b1", "B"), _job("a2", "A"), _job("a3", "A"), _job("a4", "A")]
    got = list(shared_child.run_shared(jobs, lambda a: [], _fake_run(log), 3,
                                       key=lambda j: j["source_id"]))
    assert sorted(a["id"] for a in got) == ["a1", "a2", "a3", "a4", "b1"]
    assert log == ["shared:a1+2", "a4", "b1"]  # A's first three together; lone jobs alone
    assert {a["id"]: a["shared"] for a in got} == {"a1": True, "a2": True, "a3": True,
                                                   "a4": False, "b1": False}


def test_a_job_a_shared_child_did_not_answer_runs_again_alone_and_follow_ups_still_come():
    log: list = []
    jobs = [_job("c1", "C"), _job("lost2", "C"), _job("oom3", "C"), _job("c4", "C")]
    follow = lambda a: [_job("repair-c1", "C")] if a["id"] == "c1" else []  # noqa: E731
    got = {a["id"]: a for a in shared_child.run_shared(jobs, follow, _fake_run(log), 8,
                                                       key=lambda j: j["source_id"])}
    assert set(got) == {"c1", "lost2", "oom3", "c4", "repair-c1"}
    assert not got["lost2"]["shared"] and not got["oom3"]["shared"]  # answered alone
    assert got["c4"]["shared"] and got["c1"]["shared"]
    assert log[0] == "shared:c1+3" and sorted(log[1:]) == ["lost2", "oom3", "repair-c1"]


def test_a_group_killed_for_its_time_gives_that_verdict_to_the_job_it_was_running():
    """Alone, a job that hangs would only run out its time again: it keeps the group's verdict,
    and only the jobs after it run again."""
    group = {"id": "shared:t1+3", "kind": shared_child.KIND, "failure_code": "TIMEOUT",
             "message": "no verdict within 240s; killed", "answers": [{"id": "t1", "ok": True}]}
    jobs = [_job(f"t{i}", "T") for i in range(1, 5)]
    answers, again = shared_child.settle(group, jobs)
    assert [a["id"] for a in answers] == ["t1", "t2"]
    assert answers[1]["failure_code"] == "TIMEOUT" and answers[1]["shared_child"]
    assert [j["id"] for j in again] == ["t3", "t4"]


def test_a_crashed_group_runs_every_job_it_left_again():
    group = {"id": "shared:k1+2", "kind": shared_child.KIND, "failure_code": "CRASH",
             "answers": [{"id": "k1", "ok": True}, {"id": "k2", "retry": True}]}
    answers, again = shared_child.settle(group, [_job("k1", "K"), _job("k2", "K"), _job("k3", "K")])
    assert [a["id"] for a in answers] == ["k1"]
    assert [j["id"] for j in again] == ["k2", "k3"]


def test_one_child_size_is_the_plain_stream():
    log: list = []
    jobs = [_job("d1", "D"), _job("d2", "D")]
    got = list(shared_child.run_shared(jobs, lambda a: [], _fake_run(log), 1,
                                       key=lambda j: j["source_id"]))
    assert log == ["d1", "d2"] and len(got) == 2


_CRASH = P.PROBLEM.replace("def get_inputs():", "def get_inputs():\n    import os; os._exit(3)")
_HANG = P.PROBLEM.replace("def get_inputs():", "def get_inputs():\n    while True: pass")
_SLOW = P.PROBLEM.replace("    def forward(self, x):\n",
                          "    def forward(self, x):\n        __import__('time').sleep(0.5)\n")


def _probe(i: str, code: str, device: str = "cpu") -> dict:
    return {"kind": "probe", "id": i, "programs": [code], "device": device, "source_id": "S",
            "budget": {"seconds": 4.0, "memory_mb": 512}}


def _real(jobs: list[dict], size: int, timeout_s: float = 60) -> dict:
    limits = sandbox.Limits(timeout_s=timeout_s, parallel=2)
    device = jobs[0]["device"]
    run = lambda js, fol: stream.run_stream(js, fol, limits, device)  # noqa: E731
    return {a["id"]: a for a in shared_child.run_shared(jobs, lambda a: [], run, size,
                                                        key=lambda j: j["source_id"])}


def test_through_the_real_server_a_crash_in_a_group_costs_only_its_own_answer():
    """Four probes in one child; the third kills its process. The two before it keep the
    answers the shared child gave (no child of their own: no child_rss_mb), the crash and the
    one after it run alone, and every answer is what the job gives alone."""
    jobs = [_probe("s1", P.PROBLEM), _probe("s2", P.STRIDED_PROBLEM), _probe("s3", _CRASH),
            _probe("s4", P.PROBLEM)]
    got = _real(jobs, size=4)
    alone = _real(jobs, size=1)
    assert set(got) == set(alone) == {"s1", "s2", "s3", "s4"}
    for i in ("s1", "s2", "s4"):
        assert got[i]["ok"] == alone[i]["ok"] == 0, got[i]  # the first program won
        assert got[i]["input_signature"] == alone[i]["input_signature"]
    assert "child_rss_mb" not in got["s1"] and "child_rss_mb" not in got["s2"]  # shared
    assert "child_rss_mb" in got["s3"] and "child_rss_mb" in got["s4"]  # run again alone
    assert got["s3"].get("ok") is None and "exit" in got["s3"]["message"].lower(), got["s3"]


def test_a_group_has_each_jobs_time_limit_not_their_sum():
    """Three slow probes (each forward sleeps) then one that hangs, in one child with a limit
    each slow probe keeps to but the three together do not: each resets the deadline as it
    ends, so all three answer in the shared child; the hang gets the timeout, once."""
    slow = ["w1", "w2", "w3"]
    alone = _real([_probe("w0", _SLOW)], size=1)["w0"]
    limit = 1.3 * alone["seconds"]
    t = time.monotonic()
    got = _real([*(_probe(i, _SLOW) for i in slow), _probe("hang", _HANG)], size=4,
                timeout_s=limit)
    spent = time.monotonic() - t
    assert [got[i]["ok"] for i in slow] == [0] * 3
    assert sum(got[i]["seconds"] for i in slow) > limit  # together past the limit
    assert not any("child_rss_mb" in got[i] for i in slow)  # all from the one shared child
    assert got["hang"]["failure_code"] == "TIMEOUT" and got["hang"]["shared_child"], got["hang"]
    assert spent < sum(got[i]["seconds"] for i in slow) + 2 * limit  # not run out twice


@pytest.mark.gpu
def test_on_a_gpu_probes_sharing_a_child_answer_as_they_do_alone():
    """One CUDA context for four probes, one of them crashing its process: the same answers
    as four children of their own."""
    codes = [P.PROBLEM, P.STRIDED_PROBLEM, _CRASH, P.PROBLEM]
    jobs = [_probe(f"g{i}", code, "cuda") for i, code in enumerate(codes)]
    got, alone = _real(jobs, size=4), _real(jobs, size=1)
    for i in ("g0", "g1", "g3"):
        assert got[i]["ok"] == alone[i]["ok"] == 0, got[i]
        assert got[i]["checked_on"] == "cuda" and got[i]["figures"] == alone[i]["figures"]
    for crashed in (got["g2"], alone["g2"]):  # the server's verdict on a dead child: no `ok`
        assert crashed.get("ok") is None and "exit" in crashed["message"].lower(), crashed
