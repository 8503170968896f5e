"""Compile caches in the fork server (pool.py, caches.py). A child that runs candidate code writes
only caches of its own, so nothing one candidate plants reaches another. Before a problem's first
candidate on a GPU, the server runs one trusted `baseline` job (the reference alone through
torch.compile). Each candidate of that problem then starts with a copy of that job's caches, so
the torch.compile baseline is compiled once per problem and not once per candidate.

The jobs here run in the real fork server with a stand-in for the worker's job function. The
stand-in writes and lists the cache directories the server gives each child. Nothing compiles
on the CPU. The last test runs the real baseline on a GPU, and is skipped without one."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from kcorpus.verify import isolation, sandbox
from kcorpus.verify import tricks as P
from kcorpus.verify.pool import ForkPool, PoolConfig


def _stand_in(log: Path):
    def run_job(job, lock, report) -> dict:
        triton = Path(os.environ["TRITON_CACHE_DIR"])
        inductor = Path(os.environ["TORCHINDUCTOR_CACHE_DIR"])
        if job.get("kind") == "baseline":
            with log.open("a") as f:
                f.write(job["problem_code"] + "\n")
            time.sleep(0.3)
            if job["problem_code"] == "broken":
                return {"id": job["id"], "ok": False, "error": "RuntimeError: no compile"}
            (inductor / "fxgraph").write_text(job["problem_code"])
            (triton / "kernel.cubin").write_text("compiled")
            return {"id": job["id"], "ok": True}
        seen = sorted(p.name for d in (triton, inductor) if d.is_dir() for p in d.iterdir())
        if job.get("plant"):  # a candidate that plants artifacts for whoever comes next
            (triton / "planted.cubin").write_text("slow")
            (inductor / "planted").write_text("slow")
        return {"id": job["id"], "seen": seen, "triton": str(triton)}
    return run_job


def _candidate(i: str, problem: str, **extra) -> dict:
    return {"id": i, "problem_code": problem, "candidate_code": "class ModelNew: ...",
            "device": "cuda", **extra}


def _run(tmp_path: Path, jobs: list[dict], parallel: int) -> tuple[dict, list[str]]:
    log = tmp_path / "baselines.log"
    log.touch()
    pool = ForkPool(PoolConfig(parallel=parallel, timeout_s=30, isolate=False), _stand_in(log))
    try:
        got = {v["id"]: v for v in pool.run(jobs)}
    finally:
        pool.close()
    return got, log.read_text().split()


def test_candidates_start_from_their_problems_baseline_and_never_see_each_others_files(tmp_path):
    jobs = [_candidate("a1", "A", plant=True), _candidate("a2", "A"), _candidate("b1", "B"),
            _candidate("a3", "A"), _candidate("b2", "B", plant=True), _candidate("b3", "B")]
    got, baselines = _run(tmp_path, jobs, parallel=1)  # one slot: every child follows another
    assert set(got) == {"a1", "a2", "a3", "b1", "b2", "b3"}  # the baselines are not answers
    assert sorted(baselines) == ["A", "B"]  # one per problem
    for job_id, verdict in got.items():
        assert verdict["seen"] == ["fxgraph", "kernel.cubin"], job_id  # seeded, nothing planted
    assert len({v["triton"] for v in got.values()}) == len(got)  # a directory of its own each


def test_a_failed_baseline_leaves_candidates_to_compile_their_own(tmp_path):
    jobs = [_candidate("c1", "broken"), _candidate("c2", "broken")]
    got, baselines = _run(tmp_path, jobs, parallel=2)
    assert baselines == ["broken"]
    assert got["c1"]["seen"] == got["c2"]["seen"] == []


def test_no_baseline_where_nothing_times_torch_compile(tmp_path):
    """The CPU has no timing, a job can leave the compile baseline out, and a job without
    candidate code (a probe, Inductor's source) keeps the server's shared caches."""
    jobs = [_candidate("cpu", "A", device="cpu"),
            _candidate("nocompile", "A", timing={"compile_baseline": False}),
            {"id": "probe", "problem_code": "A", "device": "cuda"}]
    got, baselines = _run(tmp_path, jobs, parallel=2)
    assert baselines == []
    assert got["cpu"]["seen"] == got["nocompile"]["seen"] == []
    assert Path(got["probe"]["triton"]).name.startswith("triton-")  # the slot's, shared


def _paths_stand_in(job, lock, report) -> dict:
    """A baseline that stores a kernel's absolute path in its graph, as Inductor's cached graphs
    name their cubins; a candidate that follows that path, reads it and tries to overwrite it."""
    triton = Path(os.environ["TRITON_CACHE_DIR"])
    inductor = Path(os.environ["TORCHINDUCTOR_CACHE_DIR"])
    if job.get("kind") == "baseline":
        (triton / "kernel.cubin").write_text("compiled")
        (inductor / "graph").write_text(str(triton / "kernel.cubin"))
        return {"id": job["id"], "ok": True}
    cubin = Path((inductor / "graph").read_text())
    got = {"id": job["id"], "read": cubin.read_text(), "own": str(triton)}
    for name, target in (("overwrite", cubin), ("plant", cubin.with_name("planted.cubin"))):
        try:
            target.write_text("slow")
            got[name] = "written"
        except PermissionError:
            got[name] = "denied"
    return got


def test_a_seeded_candidate_reads_the_kernels_its_cache_names_and_cannot_write_them():
    """Under the real sandbox (Landlock): the absolute paths a baseline's caches hold still lead
    to its kernels for every candidate of the problem, read-only."""
    if isolation.landlock_abi() < 1:
        pytest.skip("this kernel has no Landlock")
    pool = ForkPool(PoolConfig(parallel=2, timeout_s=30), _paths_stand_in)
    try:
        got = {v["id"]: v for v in pool.run([_candidate(f"p{i}", "P") for i in range(3)])}
    finally:
        pool.close()
    assert set(got) == {"p0", "p1", "p2"}
    for v in got.values():
        assert (v["read"], v["overwrite"], v["plant"]) == ("compiled", "denied", "denied"), v
    assert len({v["own"] for v in got.values()}) == 3


@pytest.mark.gpu
def test_on_a_gpu_candidates_compile_the_baseline_from_their_problems_cache(tmp_path):
    """The real baseline job: two honest candidates of one problem through the fork server,
    each compiling torch.compile's baseline from the seeded caches, against one candidate in a
    fresh interpreter (no seed) compiling it from nothing."""
    job = {"problem_code": P.PROBLEM, "candidate_code": P.HONEST, "device": "cuda", "trials": 2,
           "timing": {"budget_s": 0.2}}
    limits = sandbox.Limits(timeout_s=180, parallel=2)
    seeded = list(sandbox.run_jobs([{**job, "id": f"c{i}"} for i in range(2)], limits, "cuda"))
    fresh = sandbox.run_job({**job, "id": "fresh"}, limits)
    for v in [*seeded, fresh]:  # compiled from the seeded caches, not again without them
        assert v["passed"], v
        assert not {"torch_compile_failed", "torch_compile_uncached"} & set(v["flags"]), v
    cold = fresh["phase_seconds"]["torch_compile"]
    assert all(v["phase_seconds"]["torch_compile"] < cold for v in seeded), (seeded, cold)
