"""Time-boxed stages: a budget stops new jobs, keeps what finished, and leaves the rest pending
for the next run; the Inductor backend covers the pipeline's sources in the order listed.

Candidates run in the real sandboxed fork server (Triton's interpreter on the CPU).
"""

from __future__ import annotations

import json
import threading
import time

import pytest

from kcorpus.catalog import Catalog
from kcorpus.config import PipelineConfig, VerifyConfig
from kcorpus.synth.stage import _in_source_order
from kcorpus.verify import tricks as P
from kcorpus.verify.sandbox import Pacer
from kcorpus.verify.stage import verify
from tests.conftest import table_rows



def test_the_pacer_feeds_a_window_ahead_and_nothing_after_its_budget():
    pacer = Pacer(parallel=2, budget_s=0.6)
    fed: list[int] = []
    feeder = threading.Thread(target=lambda: fed.extend(pacer.paced(iter(range(10)))))
    feeder.start()
    time.sleep(0.2)
    assert pacer.fed == 2  # one per slot: nothing waits in the server's queue
    pacer.done()  # one verdict: one more job
    time.sleep(0.2)
    assert pacer.fed == 3
    time.sleep(0.5)  # past the budget: a verdict frees a slot, but nothing new starts
    pacer.done()
    feeder.join(timeout=3)
    assert not feeder.is_alive() and fed == [0, 1, 2]


def test_a_verify_budget_keeps_its_verdicts_and_leaves_the_rest_for_the_next_run(tmp_path):
    problem = {"problem_id": "p1", "source_id": "s1", "origin_path": "m.py",
               "entry_point": "Model", "code": P.PROBLEM, "inputs_origin": "defined",
               "op_types": ["elementwise"], "degenerate_flags": []}
    names = ["a_hang", "b_honest", "c_honest", "d_honest"]
    codes = {"a_hang": P.HANG, "b_honest": P.HONEST, "c_honest": P.HONEST, "d_honest": P.HONEST}
    with Catalog(tmp_path / "c.duckdb") as cat:
        cat.insert_new("problems", table_rows("problems", [problem]))
        cat.insert_new("candidates", table_rows("candidates", [
            {"candidate_id": c, "problem_id": "p1", "code": codes[c], "completion": codes[c],
             "backend": "replay", "model": "m", "turn": 0} for c in names]))
        boxed = VerifyConfig(device="cpu", trials=2, timeout_s=4, forward_timeout_s=3, workers=1,
                             budget_s=1.0)
        t = time.monotonic()
        counts = verify(cat, boxed)
        assert time.monotonic() - t < 30  # the hang's time limit, not the whole queue's
        assert counts["left_for_next_run"] >= 1
        assert counts["verdicts"] + counts["left_for_next_run"] == 4
        first = {r["candidate_id"] for r in cat.rows("SELECT candidate_id FROM verdicts")}
        assert "a_hang" in first and len(first) == counts["verdicts"]
        rest = verify(cat, VerifyConfig(device="cpu", trials=2, timeout_s=20, workers=2))
        assert rest == {"verdicts": counts["left_for_next_run"],
                        "passed": counts["left_for_next_run"]}
        got = {r["candidate_id"]: r["passed"] for r in cat.rows("SELECT * FROM verdicts")}
        assert got == {"a_hang": False, "b_honest": True, "c_honest": True, "d_honest": True}


def test_a_deadline_cuts_what_still_runs_and_leaves_it_for_the_next_run(tmp_path):
    problem = {"problem_id": "p1", "source_id": "s1", "origin_path": "m.py",
               "entry_point": "Model", "code": P.PROBLEM, "inputs_origin": "defined",
               "op_types": ["elementwise"], "degenerate_flags": []}
    codes = {"a_hang": P.HANG, "b_honest": P.HONEST}
    with Catalog(tmp_path / "c.duckdb") as cat:
        cat.insert_new("problems", table_rows("problems", [problem]))
        cat.insert_new("candidates", table_rows("candidates", [
            {"candidate_id": c, "problem_id": "p1", "code": code, "completion": code,
             "backend": "replay", "model": "m", "turn": 0} for c, code in codes.items()]))
        cut = VerifyConfig(device="cpu", trials=2, timeout_s=120, forward_timeout_s=100,
                           workers=2, budget_s=1.0, deadline_s=15.0)
        t = time.monotonic()
        counts = verify(cat, cut)
        assert time.monotonic() - t < 40  # the deadline, not the hang's 120 s limit
        assert counts == {"verdicts": 1, "passed": 1, "left_for_next_run": 1}
        assert [r["candidate_id"] for r in cat.rows("SELECT candidate_id FROM verdicts")] == [
            "b_honest"]  # the hang has no verdict: it was cut, not judged


def test_a_budget_only_for_the_local_runner():
    with pytest.raises(ValueError, match="budget_s and deadline_s apply to the local runner"):
        VerifyConfig(runner="ray", budget_s=60)
    with pytest.raises(ValueError, match="deadline_s .3.0. is before budget_s .60"):
        VerifyConfig(budget_s=60, deadline_s=3)


def test_inductor_jobs_cover_the_sources_in_the_order_the_pipeline_lists_them(tmp_path):
    cfg = PipelineConfig.model_validate({
        "name": "t", "sources": [
            {"kind": "local", "path": str(tmp_path / "kb"), "name": "org/first"},
            {"kind": "local", "path": str(tmp_path / "second")},
            {"kind": "git", "url": "https://example.org/org/third.git"}]})
    sources = [("s1", "org/third"), ("s2", "second"), ("s3", "org/first"), ("s4", "unlisted")]
    problems = [(f"p{i}", sid) for i, sid in enumerate(["s1", "s4", "s2", "s3", "s1", "s3"])]
    with Catalog(tmp_path / "c.duckdb") as cat:
        cat.insert_new("sources", table_rows("sources", [
            {"source_id": s, "kind": "local", "url": n, "repo_name": n} for s, n in sources]))
        cat.insert_new("problems", table_rows("problems", [
            {"problem_id": p, "source_id": s, "origin_path": "m.py", "entry_point": "Model",
             "code": "x", "op_types": [], "degenerate_flags": []} for p, s in problems]))
        cat.insert_new("probes", table_rows("probes", [
            {"problem_id": p, "ok": p != "p5", "flags": [], "aten_ops": []}
            for p, _ in problems]))
        rows = _in_source_order(cat, cfg)
        order = [r["problem_id"] for r in rows]
    # org/first (p3), then second (p2), then org/third (p0, p4), then what no source names
    # (p1); p5 is not sound
    assert order == ["p3", "p2", "p0", "p4", "p1"]
    assert [r["source_rank"] for r in rows] == [0, 1, 2, 2, 3]  # what `cheapest` sorts within


def test_cheapest_order_puts_the_jobs_that_hold_least_memory_first():
    """`order: cheapest` (the GPU pipeline's): small problems first, source order among equals;
    max_problems still caps the sources' order before sorting."""
    from kcorpus.config import InductorBackend as Spec
    from kcorpus.synth.inductor import ordered

    mb = 2**20
    probs = [{"problem_id": "big", "figures": {"weights": 0, "given": 9000 * mb, "peak": 1}},
             {"problem_id": "small", "figures": {"weights": 10 * mb, "given": 10 * mb, "peak": 1}},
             {"problem_id": "unprobed", "figures": None},
             {"problem_id": "mid", "figures": json.dumps({"given": 500 * mb, "peak": 1})}]
    ids = lambda spec: [p["problem_id"] for p in ordered(probs, spec)]  # noqa: E731
    assert ids(Spec(kind="inductor")) == ["big", "small", "unprobed", "mid"]
    assert ids(Spec(kind="inductor", order="cheapest")) == ["unprobed", "small", "mid", "big"]
    assert ids(Spec(kind="inductor", order="cheapest", max_problems=2)) == ["small", "big"]


def test_cheapest_order_takes_the_sources_in_turn_each_cheapest_first():
    """A source whose problems are all large (KernelBench level 1) is not left for last: the
    sources take turns, in the order listed, each giving its cheapest problem left."""
    from kcorpus.config import InductorBackend as Spec
    from kcorpus.synth.inductor import ordered

    mb = 2**20
    fig = lambda n: {"weights": 0, "given": n * mb, "peak": 1}  # noqa: E731
    probs = [{"problem_id": "kb-huge", "source_rank": 0, "figures": fig(9000)},
             {"problem_id": "kb-big", "source_rank": 0, "figures": fig(2000)},
             {"problem_id": "timm-small", "source_rank": 1, "figures": fig(1)},
             {"problem_id": "timm-mid", "source_rank": 1, "figures": fig(50)},
             {"problem_id": "timm-large", "source_rank": 1, "figures": fig(900)},
             {"problem_id": "liger", "source_rank": 2, "figures": fig(5)}]
    got = [p["problem_id"] for p in ordered(probs, Spec(kind="inductor", order="cheapest"))]
    assert got == ["kb-big", "timm-small", "liger", "kb-huge", "timm-mid", "timm-large"]


def test_verify_runs_the_least_memory_first_when_told_and_the_biggest_first_otherwise():
    from kcorpus.verify.stage import in_order

    mb = 2**20
    todo = [{"candidate_id": c, "figures": json.dumps({"peak": peak * mb})}
            for c, peak in [("big", 9000), ("mid", 500), ("mid2", 500), ("small", 1)]]
    order = lambda cfg: [r["candidate_id"] for r in in_order(todo, cfg)]  # noqa: E731
    assert order(VerifyConfig()) == ["big", "mid", "mid2", "small"]
    assert order(VerifyConfig(order="cheapest")) == ["small", "mid", "mid2", "big"]
