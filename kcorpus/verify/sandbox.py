"""Start verification workers from the pipeline's process, always in a sandbox.

Every worker process gets a scrubbed environment (only an allowlist of variables passes: no
tokens or keys), a temporary working directory that is also its HOME, and its own process
group. Two ways to run:

- `run_jobs`: one fork server (worker.py) for many candidates; it forks a child per candidate,
  `parallel` at a time, with the per-candidate limits (pool.py). The pipeline's way.
- `run_job`: a fresh interpreter for one candidate (`worker.py --single`), killed at its time
  limit. This is what KernelBench-style harnesses do; it is kept as the baseline of
  `kcorpus bench verify` and for one-off checks.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from kcorpus import stopping
from kcorpus.verify import codes
from kcorpus.verify.pool import death_reason, failed_verdict

WORKER = Path(__file__).resolve().parent / "worker.py"
PASS_ENV = ("PATH", "LANG", "LC_ALL", "LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "CUDA_HOME",
            "TRITON_PTXAS_PATH", "TRITON_LIBCUDA_PATH", "TZ")


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 120.0
    memory_mb: int = 8192
    parallel: int = 2
    # torch.compile's cache for the reference baselines; None: private to each sandbox
    inductor_cache: str | None = None
    tune_budget_s: float = 300.0  # compiling and autotuning, apart from timeout_s
    isolate: bool = True  # Landlock and a network namespace per child (isolation.py)
    # another checkout's worker.py (an older verifier, for benchmarks): given only the flags
    # every version understands
    worker: str | None = None
    admit_mb: float = 0.0  # what jobs' `memory_mb` estimates may add up to at once (0: any)

    @classmethod
    def from_config(cls, cfg, device: str = "cpu") -> Limits:
        """The limits a pipeline's `verify:` section sets (a VerifyConfig), with jobs on
        `device` admitted by their memory estimates (admission.py)."""
        from kcorpus.verify import admission

        return cls(cfg.timeout_s, cfg.memory_mb, cfg.workers, tune_budget_s=cfg.tune_budget_s,
                   admit_mb=admission.budget_mb(device, cfg.host_memory_mb))


def scrubbed_env(workdir: Path, device: str, inductor_cache: str | None = None,
                 visible_devices: str | None = None) -> dict[str, str]:
    env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
    if visible_devices is not None:
        env["CUDA_VISIBLE_DEVICES"] = visible_devices
    env.update(HOME=str(workdir), TMPDIR=str(workdir), TRITON_CACHE_DIR=str(workdir / "triton"),
               TORCHINDUCTOR_CACHE_DIR=inductor_cache or str(workdir / "inductor"),
               TORCHINDUCTOR_COMPILE_THREADS="1",
               PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0", OMP_NUM_THREADS="1",
               KCORPUS_WORKER_THREADS="1")
    if device == "cpu":
        env["TRITON_INTERPRET"] = "1"
        env["CUDA_VISIBLE_DEVICES"] = ""
    else:  # torch.cuda.is_available() through NVML: the fork server stays fork-safe (worker.py)
        env["PYTORCH_NVML_BASED_CUDA_CHECK"] = "1"
    return env


def _popen(args: list[str], workdir: str, device: str, memory_mb: int | None,
           inductor_cache: str | None, visible_devices: str | None = None,
           worker: str | None = None):
    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if memory_mb is not None and device == "cpu":  # CUDA reserves huge virtual ranges
            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    stopping.check()  # no new sandbox once a stop was asked for
    proc = subprocess.Popen([sys.executable, "-I", worker or str(WORKER), *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=workdir, env=scrubbed_env(Path(workdir), device, inductor_cache,
                                                          visible_devices),
                            start_new_session=True,
                            preexec_fn=limits)
    stopping.register(proc)  # a SIGTERM kills it, with the children it forked
    return proc


def run_jobs(jobs: Iterable[dict], limits: Limits, device: str,
             visible_devices: str | None = None, budget_s: float | None = None,
             deadline_s: float | None = None, window: int | None = None) -> Iterator[dict]:
    """Verdicts from one fork server, in completion order. Jobs without a verdict (the server
    itself died) are not yielded: they stay pending for the next run. `visible_devices` pins
    the server to those GPUs (CUDA_VISIBLE_DEVICES); by default it sees what this process sees.

    `budget_s`: no job starts after that many seconds; the jobs already started finish (so
    the call lasts at most budget_s + timeout_s) and the rest are not yielded (pending, as
    above). Jobs are then fed one per free slot (`Pacer`): a job queued in the server would
    start after the deadline.

    `deadline_s`: at that many seconds the server is killed with the jobs it still runs; they
    are not yielded either, so the call ends by then (set it above `budget_s`: a job cut short
    has spent its time for nothing)."""
    if budget_s is None and deadline_s is not None:
        budget_s = deadline_s  # nothing starts after the deadline either
    pacer = Pacer(window or limits.parallel, budget_s) if budget_s is not None else None
    with tempfile.TemporaryDirectory(prefix="kcorpus-sandbox-") as tmp:
        proc = _popen(["--parallel", str(limits.parallel), "--timeout", str(limits.timeout_s),
                       "--memory-mb", str(limits.memory_mb), "--device", device,
                       *_new_flags(limits)],
                      tmp, device, None, limits.inductor_cache, visible_devices, limits.worker)
        feeder = threading.Thread(target=_feed, daemon=True,
                                  args=(proc, pacer.paced(jobs) if pacer else jobs))
        feeder.start()
        drain = threading.Thread(target=proc.stderr.read, daemon=True)  # never let it block
        drain.start()
        cutter = threading.Timer(deadline_s, _kill_group, args=(proc,)) if deadline_s else None
        if cutter:
            cutter.daemon = True
            cutter.start()
        try:
            for line in proc.stdout:
                if line.startswith(b"{"):
                    yield json.loads(line)
                    if pacer:  # after the caller has seen it: what it queues goes next
                        pacer.done()
        finally:
            if pacer:
                pacer.close()
            if cutter:
                cutter.cancel()
            _kill_group(proc)
            proc.wait()


class Pacer:
    """Feeds jobs at most `parallel` ahead of the verdicts, and none after `budget_s`.

    A slot waits for the feeder only the moment between a verdict and the next job; the jobs
    still unfed at the deadline stay with the caller, unstarted."""

    def __init__(self, parallel: int, budget_s: float):
        self.deadline = time.monotonic() + budget_s
        self.window = threading.Semaphore(max(1, parallel))
        self.fed = 0
        self.closed = False

    def paced(self, jobs: Iterable[dict]) -> Iterator[dict]:
        """A job is taken from `jobs` only once a slot is free, so a stream that reorders its
        jobs meanwhile (stream.JobStream) decides which goes next."""
        jobs = iter(jobs)
        while True:
            while not self.window.acquire(timeout=1.0) and self._open():
                pass
            if not self._open() or (job := next(jobs, None)) is None:
                return
            self.fed += 1
            yield job

    def _open(self) -> bool:
        return not self.closed and time.monotonic() <= self.deadline

    def done(self) -> None:
        self.window.release()

    def close(self) -> None:
        self.closed = True


def _feed(proc: subprocess.Popen, jobs: Iterable[dict]) -> None:
    try:
        for job in jobs:
            proc.stdin.write(json.dumps(job).encode() + b"\n")
            proc.stdin.flush()
        proc.stdin.close()
    except (BrokenPipeError, ValueError):
        pass


def run_job(job: dict, limits: Limits) -> dict:
    """One job in a fresh sandboxed interpreter; always returns a verdict."""
    device = job.get("device", "cpu")
    with tempfile.TemporaryDirectory(prefix="kcorpus-sandbox-") as tmp:
        proc = _popen(["--single", *_new_flags(limits)[4:]], tmp, device, limits.memory_mb,
                      limits.inductor_cache, worker=limits.worker)
        try:
            out, err = proc.communicate(json.dumps(job).encode() + b"\n", timeout=limits.timeout_s)
            stopping.unregister(proc)
            stopping.check()  # killed by a stop: no verdict, the job stays pending
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            return failed_verdict(job, codes.TIMEOUT,
                           f"no verdict within {limits.timeout_s:.0f}s; the process was killed")
        for line in out.decode(errors="replace").splitlines():
            if line.startswith("{"):
                return json.loads(line)
        log = Path(tmp) / "stderr.log"
        log.write_bytes(err)
        return failed_verdict(job, *death_reason(proc.returncode, log))


def _new_flags(limits: Limits) -> list[str]:
    """--tune-budget S [--no-isolate]; nothing for another checkout's worker."""
    if limits.worker:
        return []
    return (["--tune-budget", str(limits.tune_budget_s), "--admit-mb", str(limits.admit_mb)]
            + ([] if limits.isolate else ["--no-isolate"]))


def _kill_group(proc: subprocess.Popen) -> None:
    stopping.unregister(proc)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
