"""One fork server for jobs that make more jobs (verify/stream.py, the Inductor backend's
`verify_as_made`): what an answer makes runs before the first jobs not yet fed, every job is
answered once, the stream ends by itself, and a job's own time limit holds.

The jobs are real verifications in the real sandboxed fork server (Triton's interpreter on the
CPU), built by the verify stage's own `Verifications.job`.
"""

from __future__ import annotations

import time

from kcorpus.catalog import Catalog
from kcorpus.config import VerifyConfig
from kcorpus.verify import tricks as P
from kcorpus.verify.stream import JobStream, run_stream
from kcorpus.verify.stage import Verifications

CFG = VerifyConfig(device="cpu", trials=2, timeout_s=60, forward_timeout_s=30, workers=1)


def _job(out: Verifications, cid: str, code: str) -> dict:
    return out.job({"candidate_id": cid, "code": code, "backend": "replay",
                    "problem_code": P.PROBLEM, "figures": None, "checked_on": "cpu",
                    "checked_inputs": None})


def test_an_answers_follow_ups_run_before_the_first_jobs_not_yet_fed(tmp_path):
    with Catalog(tmp_path / "c.duckdb") as cat:
        out = Verifications(cat, CFG)
        first = [_job(out, c, P.HONEST) for c in ("a", "b", "c")]
        makes = {"a": [_job(out, "a2", P.HONEST)], "a2": [_job(out, "a3", P.WRONG)]}
        t = time.monotonic()
        got = list(run_stream(first, lambda v: makes.get(v["id"], []), out.limits, "cpu"))
    assert time.monotonic() - t < 120  # it ended by itself once nothing was out
    # one slot: a's follow-up, then that one's, go before b and c, which were not yet fed
    assert [v["id"] for v in got] == ["a", "a2", "a3", "b", "c"]
    assert {v["id"]: v["passed"] for v in got} == {"a": True, "a2": True, "a3": False,
                                                   "b": True, "c": True}


def test_a_jobs_own_time_limit_holds_in_a_server_with_a_longer_one(tmp_path):
    with Catalog(tmp_path / "c.duckdb") as cat:
        out = Verifications(cat, CFG)
        hang = {**_job(out, "hang", P.HANG), "timeout_s": 4}
        t = time.monotonic()
        got = list(run_stream([hang], lambda v: [], out.limits, "cpu"))
    assert time.monotonic() - t < 40  # its 4 s, not the server's 60 s
    assert [(v["id"], v["failure_code"]) for v in got] == [("hang", "TIMEOUT")]
    assert "within 4s" in got[0]["message"]


def test_a_budget_ends_the_stream_with_the_unfed_jobs_unanswered(tmp_path):
    with Catalog(tmp_path / "c.duckdb") as cat:
        out = Verifications(cat, CFG)
        first = [_job(out, f"j{i}", P.HONEST) for i in range(6)]
        got = list(run_stream(first, lambda v: [], out.limits, "cpu", budget_s=0.5))
    assert [v["id"] for v in got] == ["j0"]  # one slot: the one job fed before the budget ran out


def test_the_stream_waits_for_answers_that_may_queue_more_and_is_closed_by_its_caller():
    stream = JobStream([{"id": "x"}])
    it = iter(stream)
    assert next(it)["id"] == "x"
    stream.answered([{"id": "y"}])  # x's answer made y
    assert next(it)["id"] == "y"
    stream.close()  # y's answer never comes (the server died): the caller closes it
    assert next(it, None) is None
