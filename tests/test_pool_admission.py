"""The fork server admits jobs by their memory estimates: jobs that would not fit together on
one GPU never run at once, smaller ones that fit go ahead, and one job always may run alone."""

from __future__ import annotations

import time

from kcorpus.verify.pool import ForkPool, PoolConfig


def _sleepy(job, lock, report) -> dict:
    start = time.time()
    time.sleep(job["sleep"])
    return {"id": job["id"], "start": start, "end": time.time()}


def _run(jobs: list[dict], admit_mb: float) -> dict[str, dict]:
    pool = ForkPool(PoolConfig(parallel=4, timeout_s=30, isolate=False, admit_mb=admit_mb), _sleepy)
    try:
        return {v["id"]: v for v in pool.run(jobs)}
    finally:
        pool.close()


def _overlap(a: dict, b: dict) -> bool:
    return a["start"] < b["end"] and b["start"] < a["end"]


def test_jobs_that_do_not_fit_together_take_turns_and_small_ones_go_ahead():
    jobs = [{"id": "big1", "memory_mb": 700, "sleep": 1.0},
            {"id": "big2", "memory_mb": 700, "sleep": 1.0},
            {"id": "small", "memory_mb": 200, "sleep": 0.3},
            {"id": "huge", "memory_mb": 5000, "sleep": 0.3}]  # over the budget: runs alone
    got = _run(jobs, admit_mb=1000)
    assert set(got) == {"big1", "big2", "small", "huge"}
    assert not _overlap(got["big1"], got["big2"])
    assert _overlap(got["big1"], got["small"])  # it fit beside the first big one
    assert not any(_overlap(got["huge"], got[k]) for k in ("big1", "big2", "small"))


def test_without_a_budget_every_slot_is_used():
    jobs = [{"id": f"j{i}", "memory_mb": 700, "sleep": 0.5} for i in range(4)]
    got = _run(jobs, admit_mb=0)
    assert all(_overlap(got["j0"], got[f"j{i}"]) for i in range(1, 4))


def _short_of_memory(job, lock, report) -> dict:
    """Runs out of memory unless it runs alone (`always`: even then)."""
    start = time.time()
    time.sleep(0.3)
    oom = job.get("always") or not job.get("alone")
    return {"id": job["id"], "start": start, "end": time.time(), "alone": bool(job.get("alone")),
            "passed": not oom, "failure_code": "OOM" if oom else "", "message": ""}


def test_a_job_that_ran_out_of_memory_beside_others_runs_again_alone():
    jobs = [{"id": "tight", "memory_mb": 300, "sleep": 0.3},
            {"id": "neighbour", "memory_mb": 300, "sleep": 1.0}]
    pool = ForkPool(PoolConfig(parallel=4, timeout_s=30, isolate=False, admit_mb=1000),
                    lambda job, lock, report: (_short_of_memory(job, lock, report)
                                               if job["id"] == "tight" else _sleepy(job, lock, report)))
    try:
        got = {v["id"]: v for v in pool.run(jobs)}
    finally:
        pool.close()
    assert got["tight"]["passed"] and got["tight"]["alone"]  # the verdict is the lone run's
    assert not _overlap(got["tight"], got["neighbour"])


def test_a_job_out_of_memory_alone_keeps_its_verdict():
    pool = ForkPool(PoolConfig(parallel=4, timeout_s=30, isolate=False, admit_mb=1000),
                    _short_of_memory)
    try:
        got = list(pool.run([{"id": "lone", "memory_mb": 300, "always": True}]))
    finally:
        pool.close()
    assert [v["failure_code"] for v in got] == ["OOM"] and not got[0]["alone"]


def test_an_inductor_job_is_admitted_by_what_it_holds_and_a_template_mode_by_its_peak_too():
    """Inductor jobs make source only (nothing runs), so they hold the weights and the inputs;
    a template mode also benchmarks one op's tensors, bounded by the forward's peak."""
    from kcorpus.verify import admission

    mb = 2**20
    fig = {"peak": 10_000 * mb, "weights": 1_000 * mb, "given": 3_000 * mb}
    default = admission.inductor_mb(fig, templates=False)
    assert default == admission.BASE_MB + admission.HELD_FACTOR * 4_000
    assert admission.inductor_mb(fig, templates=True) == default + 10_000
    # figures probed before weights and inputs were counted: the peak bounds what is held
    assert admission.inductor_mb({"peak": 500 * mb}, templates=False) == (
        admission.BASE_MB + admission.HELD_FACTOR * 500)
    assert admission.inductor_mb(None, templates=True) == admission.BASE_MB
