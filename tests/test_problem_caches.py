"""Compile caches in the fork server (pool.py, caches.py). A child that runs candidate code writes
only caches of its own, so nothing one candidate plants reaches another. Before a problem's first
candidate on a GPU, the server runs one trusted `baseline` job (the reference alone through
torch.compile). Each candidate of that problem then starts with a copy of that job's caches, so
the torch.compile baseline is compiled once per problem and not once per candidate.

The jobs here run in the real fork server with a stand-in for the worker's job function. The
stand-in writes and lists the cache directories the server gives each child. Nothing compiles
on the CPU. The last test runs the real baseline on a GPU, and is skipped without one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from kcorpus.verify import isolation, sandbox
from kcorpus.verify import tricks as P
from kcorpus.verify.pool import ForkPool, PoolConfig


def _stand_in(job, lock, report) -> dict:
    triton = Path(os.environ["TRITON_CACHE_DIR"])
    inductor = Path(os.environ["TORCHINDUCTOR_CACHE_DIR"])
    if job.get("kind") == "baseline":
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


def _candidate(i: str, problem: str, **extra) -> dict:
    return {"id": i, "problem_code": problem, "candidate_code": "class ModelNew: ...",
            "device": "cuda", **extra}


def _run(jobs: list[dict], parallel: int, run_job=_stand_in, isolate=True,
         timeout_s: float = 30) -> tuple[dict, list]:
    """Verdicts by id, and the end state of each problem's baseline."""
    pool = ForkPool(PoolConfig(parallel=parallel, timeout_s=timeout_s, isolate=isolate), run_job)
    try:
        got = {v["id"]: v for v in pool.run(jobs)}
        return got, sorted(pool.baselines.values())
    finally:
        pool.close()


def _binds_here() -> bool:
    """Whether a forked child may make a private bind mount here (isolation._bind)."""
    pid = os.fork()
    if pid == 0:
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            os._exit(0 if isolation._unshare_network() and isolation._bind([(a, b)]) else 1)
    return os.waitpid(pid, 0)[1] == 0


needs_binds = pytest.mark.skipif(not _binds_here(), reason="no private mount namespace here")


@needs_binds
def test_candidates_start_from_their_problems_baseline_and_never_see_each_others_files():
    jobs = [_candidate("a1", "A", plant=True), _candidate("a2", "A"), _candidate("b1", "B"),
            _candidate("a3", "A"), _candidate("b2", "B", plant=True), _candidate("b3", "B")]
    got, baselines = _run(jobs, parallel=1)  # one slot: every child follows another
    assert set(got) == {"a1", "a2", "a3", "b1", "b2", "b3"}  # the baselines are not answers
    assert baselines == ["done", "done"]  # one per problem
    for job_id, verdict in got.items():
        assert verdict["seen"] == ["fxgraph", "kernel.cubin"], job_id  # seeded, nothing planted


def test_a_failed_baseline_leaves_candidates_to_compile_their_own():
    jobs = [_candidate("c1", "broken"), _candidate("c2", "broken")]
    got, baselines = _run(jobs, parallel=2)
    assert baselines == ["failed"]
    assert got["c1"]["seen"] == got["c2"]["seen"] == []


def test_without_a_sandbox_a_candidate_compiles_from_nothing():
    """Unconfined, a copy of the problem's caches could not be shown at the problem's path, and
    the paths inside it would lead into the problem's directory: the copy is not used."""
    got, baselines = _run([_candidate("u1", "A"), _candidate("u2", "A")], parallel=1, isolate=False)
    assert baselines == ["done"]
    assert got["u1"]["seen"] == got["u2"]["seen"] == []
    assert got["u1"]["triton"] != got["u2"]["triton"]


def test_no_baseline_where_nothing_times_torch_compile():
    """The CPU has no timing, a job can leave the compile baseline out, and a job without
    candidate code (a probe, Inductor's source) keeps the server's shared caches."""
    jobs = [_candidate("cpu", "A", device="cpu"),
            _candidate("nocompile", "A", timing={"compile_baseline": False}),
            {"id": "probe", "problem_code": "A", "device": "cuda"}]
    got, baselines = _run(jobs, parallel=2)
    assert baselines == []
    assert got["cpu"]["seen"] == got["nocompile"]["seen"] == []
    assert Path(got["probe"]["triton"]).name.startswith("triton-")  # the slot's, shared


def _paths_stand_in(job, lock, report) -> dict:
    """A baseline that stores a kernel's absolute path in its graph, as Inductor's cached graphs
    name their kernels' files (autotuning's best configs beside the kernel source); a candidate
    that follows that path, reads it and overwrites it, and plants a file beside it."""
    triton = Path(os.environ["TRITON_CACHE_DIR"])
    inductor = Path(os.environ["TORCHINDUCTOR_CACHE_DIR"])
    if job.get("kind") == "baseline":
        (triton / "kernel.cubin").write_text("compiled")
        (inductor / "graph").write_text(str(triton / "kernel.cubin"))
        return {"id": job["id"], "ok": True}
    cubin = Path((inductor / "graph").read_text())
    got = {"id": job["id"], "read": cubin.read_text(), "planted": sorted(os.listdir(cubin.parent))}
    cubin.write_text("slow")
    cubin.with_name("planted.cubin").write_text("slow")
    return got


@needs_binds
def test_the_paths_a_seeded_cache_holds_lead_to_the_candidates_own_copy():
    """Under the real sandbox: the absolute paths a baseline's caches hold lead, in every
    candidate, to its own copy, which it may write; what it writes no later candidate sees."""
    got, baselines = _run([_candidate(f"p{i}", "P") for i in range(3)], parallel=1,
                          run_job=_paths_stand_in)
    assert baselines == ["done"]
    assert set(got) == {"p0", "p1", "p2"}
    for v in got.values():
        assert (v["read"], v["planted"]) == ("compiled", ["kernel.cubin"]), v


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
    for v in [*seeded, fresh]:
        assert v["passed"], v
        assert "torch_compile_failed" not in v["flags"], (v["flags"], v.get("compile_error"))
    cold = fresh["phase_seconds"]["torch_compile"]
    assert all(v["phase_seconds"]["torch_compile"] < cold for v in seeded), (seeded, cold)


def _compile_stand_in(job, lock, report) -> dict:
    """Real Inductor on the CPU, in place of the GPU-only baseline and its candidates: the same
    small model compiled by each child, from whatever caches the server gave it."""
    import torch
    from torch._dynamo.utils import counters

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(32, 32), torch.nn.GELU(), torch.nn.Linear(32, 8))
    with torch.no_grad():
        out = torch.compile(model)(torch.ones(4, 32))
    if job.get("kind") == "baseline":
        return {"id": job["id"], "ok": True}
    return {"id": job["id"], "sum": round(float(out.sum()), 4),
            "hits": counters["inductor"]["fxgraph_cache_hit"],
            "misses": counters["inductor"]["fxgraph_cache_miss"]}


_IN_A_FRESH_SERVER = """
import json, sys
from tests.test_problem_caches import _candidate, _compile_stand_in, _run
got, baselines = _run([_candidate(f"r{i}", "R") for i in range(2)], parallel=2,
                      run_job=_compile_stand_in, timeout_s=240)
print(json.dumps({"got": got, "baselines": baselines}))
"""


@needs_binds
def test_real_inductor_compiles_from_the_seeded_copy_inside_the_sandbox(tmp_path):
    """torch.compile in confined children: the baseline's FX graph is found by every candidate
    in its own copy (a cache hit, no miss), and the compiled code runs. The server is a fresh
    interpreter, as the real one is: a test process that has run other compiles holds threads
    a forked child can deadlock on."""
    env = {**os.environ, "TORCHINDUCTOR_COMPILE_THREADS": "1", "OMP_NUM_THREADS": "1",
           "TORCHINDUCTOR_CACHE_DIR": str(tmp_path / "unused"), "TMPDIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", _IN_A_FRESH_SERVER], env=env, timeout=540,
                         capture_output=True, text=True, cwd=Path(__file__).parents[1])
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["baselines"] == ["done"], result
    got = result["got"]
    for v in got.values():
        assert (v.get("hits"), v.get("misses")) == (1, 0), v
    assert got["r0"]["sum"] == got["r1"]["sum"]
