"""A fork server: warm isolation, one forked child per candidate (standard library only).

The server process has imported torch and triton but never touched CUDA, so a forked child
starts with both loaded and initialises CUDA on its own in a fraction of a second, instead of
the seconds a fresh interpreter needs. Up to `parallel` children compile and check candidates at
once; timing takes a per-GPU file lock (released by the kernel if the child dies). Each child
has its own working directory, an address-space limit on the CPU and a wall-clock limit that
does not count time spent waiting for the GPU lock. A child that runs a candidate's code has
compile caches of its own, seeded with its problem's: the server runs each problem's reference
through torch.compile once, in a `baseline` job before its first candidate, which writes the
problem's caches (caches.py). Other jobs share a per-slot Triton cache and one Inductor cache. A crash, hang,
CUDA fault or out-of-memory ends that child only and becomes its verdict.

Children report on a pipe, one JSON object per line: {"phase": "wait"|"run"} while they wait
for and hold the GPU lock, {"phase": "tune"|"tuned"} around compiling and autotuning (which
have their own budget, `tune_budget_s`, apart from the wall-clock limit), then {"verdict": {...}}.
The server adds the child's peak resident set to its verdict (`child_rss_mb`).
Each child is confined by isolation.py (Landlock, a network namespace, an audit hook) before
it runs the job.
"""

from __future__ import annotations

import fcntl
import json
import os
import queue
import resource
import selectors
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from kcorpus.verify import caches, codes, shared_child


@dataclass(frozen=True)
class PoolConfig:
    parallel: int = 4
    timeout_s: float = 120.0
    memory_mb: int = 8192
    device: str = "cpu"
    tune_budget_s: float = 300.0  # compiling and autotuning, apart from timeout_s
    isolate: bool = True  # Landlock and a network namespace per child (isolation.py)
    # MB that the children's jobs may expect to use at once (their `memory_mb` estimates);
    # 0: no admission by memory
    admit_mb: float = 0.0


@dataclass
class _Child:
    job: dict
    slot: int
    fd: int
    deadline: float
    buffer: bytes = b""
    waiting_since: float | None = None
    tuning_since: float | None = None
    tuned_s: float = 0.0
    verdict: dict | None = None
    stderr_path: Path | None = None
    extra: dict = field(default_factory=dict)
    crowded: bool = False  # another child ran beside it at some point
    parts: list = field(default_factory=list)  # a shared child's answers so far (shared_child.py)


class GpuLock:
    """An exclusive lock on the GPU for timing, shared by every child of one server."""

    def __init__(self, path: Path):
        self.path = path

    @contextmanager
    def hold(self, report: Callable[[str], None]):
        report("wait")
        with open(self.path, "w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            report("run")
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)


class ForkPool:
    def __init__(self, cfg: PoolConfig, run_job: Callable[[dict, GpuLock, Callable], dict]):
        self.cfg = cfg
        self.run_job = run_job
        self.root = Path(tempfile.mkdtemp(prefix="kcorpus-pool-"))
        self.lock = GpuLock(self.root / "gpu.lock")
        self.lock.path.touch()  # it must exist before a child's Landlock rules name it
        self.children: dict[int, _Child] = {}
        self.selector = selectors.DefaultSelector()
        self.baselines: dict[str, str] = {}  # problem key: queued, running, done or failed

    def close(self) -> None:
        for pid in list(self.children):
            _kill(pid)
        shutil.rmtree(self.root, ignore_errors=True)

    def run(self, jobs: Iterable[dict] | Feed) -> Iterator[dict]:
        """Verdicts in completion order, one for every job. Jobs come from a list or iterator
        (read as slots free up) or from a `Feed` (a stream: jobs are taken as they arrive,
        and a verdict is reported as soon as it is ready, whether or not more jobs come). With
        `admit_mb`, a job starts only while the running jobs' `memory_mb` and its own fit in
        it (one always may run alone); a job that does not fit yet waits, and later jobs that
        fit go first (up to LOOKAHEAD per slot read ahead)."""
        feed = jobs if isinstance(jobs, Feed) else None
        pending = None if feed else iter(jobs)
        if feed:
            self.selector.register(feed.wake_fd, selectors.EVENT_READ, None)
        free_slots = list(range(self.cfg.parallel))
        waiting: list[dict] = []
        exhausted = False
        while True:
            want = LOOKAHEAD * self.cfg.parallel if self.cfg.admit_mb else len(free_slots)
            want += sum(map(self._blocked, waiting))  # jobs waiting for their baseline
            while not exhausted and len(waiting) < want:
                job = feed.take(block=not self.children and not waiting) if feed else \
                    next(pending, _END)
                if job is None:  # nothing has arrived yet
                    break
                if job is _END:
                    exhausted = True
                    break
                waiting.extend(self._plan(job))
            while free_slots and (job := self._admissible(waiting)) is not None:
                waiting.remove(job)
                self._start(job, free_slots.pop())
                if job.get("kind") == "baseline":
                    self.baselines[job["problem_key"]] = "running"
            if not self.children:
                if exhausted and not waiting:
                    return
                continue
            for done in self._poll():
                free_slots.append(done.slot)
                if done.job.get("kind") == "baseline":  # the server's own job: no answer
                    ok = bool((done.verdict or {}).get("ok"))
                    self.baselines[done.job["problem_key"]] = "done" if ok else "failed"
                    continue
                if self._retry_alone(done):
                    waiting.insert(0, {**done.job, "alone": True})
                    continue
                yield done.verdict

    def _plan(self, job: dict) -> list[dict]:
        """The job, after its problem's baseline job when that is the first of the problem."""
        if not caches.needs_baseline(job):
            return [job]
        key = job["problem_key"] = caches.problem_key(job)
        if key in self.baselines:
            return [job]
        self.baselines[key] = "queued"
        return [{"kind": "baseline", "id": f"baseline:{key}", "problem_key": key,
                 "problem_code": job["problem_code"], "device": job["device"],
                 "memory_mb": job.get("memory_mb"), "timeout_s": job.get("timeout_s")}, job]

    def _blocked(self, job: dict) -> bool:
        """A candidate whose problem's baseline has not ended yet."""
        return job.get("kind") != "baseline" and \
            self.baselines.get(job.get("problem_key", ""), "") in ("queued", "running")

    def _admissible(self, waiting: list[dict]) -> dict | None:
        waiting = [j for j in waiting if not self._blocked(j)]
        if not self.cfg.admit_mb:
            return waiting[0] if waiting else None
        if any(c.job.get("alone") for c in self.children.values()):
            return None
        used = sum(_memory_mb(c.job) for c in self.children.values())
        fits = (j for j in waiting if not self.children or (
            not j.get("alone") and used + _memory_mb(j) <= self.cfg.admit_mb))
        return next(fits, None)

    def _retry_alone(self, child: _Child) -> bool:
        """Whether a job that ran out of memory beside others runs again, alone: admission's
        estimates are estimates, and a job's verdict must not depend on its neighbours."""
        return bool(self.cfg.admit_mb and child.crowded and not child.job.get("alone")
                    and child.job.get("kind") != "baseline" and _out_of_memory(child.verdict))

    # -- children ------------------------------------------------------------------------------
    def _start(self, job: dict, slot: int) -> None:
        read_fd, write_fd = os.pipe()
        workdir = self.root / f"job-{slot}-{time.monotonic_ns()}"
        workdir.mkdir()
        stderr_path = workdir / "stderr.log"
        pid = os.fork()
        if pid == 0:  # the child: never returns
            os.close(read_fd)
            self._child(job, slot, workdir, write_fd, stderr_path)
        os.close(write_fd)
        os.set_blocking(read_fd, False)
        child = _Child(job, slot, read_fd, time.monotonic() + _timeout_s(job, self.cfg),
                       stderr_path=stderr_path, crowded=bool(self.children))
        for other in self.children.values():
            other.crowded = True
        self.children[pid] = child
        self.selector.register(read_fd, selectors.EVENT_READ, pid)

    def _child(self, job: dict, slot: int, workdir: Path, write_fd: int, stderr_path: Path):
        code = 0
        try:
            os.setsid()  # its own process group: a timeout kills what it spawned too
            _die_with_parent()
            os.chdir(workdir)
            err = os.open(stderr_path, os.O_WRONLY | os.O_CREAT)
            os.dup2(err, 1)
            os.dup2(err, 2)
            triton_cache, inductor_cache, shown_at = self._caches(job, slot, workdir)
            if self.cfg.isolate:
                _confine(workdir, [triton_cache, inductor_cache], self.lock.path, shown_at)
            if shown_at is not None:
                triton_cache, inductor_cache = _seeded(triton_cache, inductor_cache, shown_at)
            os.environ.update(HOME=str(workdir), TMPDIR=str(workdir), TRITON_CACHE_DIR=str(triton_cache),
                              TORCHINDUCTOR_CACHE_DIR=str(inductor_cache))
            tempfile.tempdir = str(workdir)  # the server's cached answer is not the child's
            if self.cfg.device == "cpu":  # CUDA reserves huge virtual ranges: no AS limit there
                limit = self.cfg.memory_mb * 1024 * 1024
                resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            out = os.fdopen(write_fd, "w", buffering=1)

            def report(phase: str, **extra) -> None:
                out.write(json.dumps({"phase": phase, **extra}) + "\n")

            verdict = self.run_job(job, self.lock, report)
            out.write(json.dumps({"verdict": verdict}) + "\n")
            out.flush()
        except BaseException:  # the child must never return into the server's loop
            traceback.print_exc()
            code = 70
        finally:
            os._exit(code)

    def _caches(self, job: dict, slot: int, workdir: Path) -> tuple[Path, Path, Path | None]:
        """(Triton's, Inductor's) cache directory for a child, and where its problem's caches
        are when they were copied into its own: its own where candidate code runs, the
        problem's where its baseline is made, else the server's."""
        if job.get("kind") == "baseline":
            own = caches.baseline(self.root, job["problem_key"])
            return own["triton"], own["inductor"], None
        if job.get("candidate_code") is not None:
            own = caches.private(workdir)
            key = job.get("problem_key")
            seeded = bool(key) and caches.seed(self.root, key, own)
            return own["triton"], own["inductor"], caches.problem_dir(self.root, key) if seeded else None
        shared = os.environ.get("TORCHINDUCTOR_CACHE_DIR") or str(self.root / "inductor")
        return self.root / f"triton-{slot}", Path(shared), None

    def _poll(self) -> list[_Child]:
        now = time.monotonic()
        timeout = max(0.0, min((c.deadline for c in self.children.values()
                                if c.waiting_since is None and c.tuning_since is None),
                               default=now + 1.0) - now)
        for key, _ in self.selector.select(timeout=min(timeout, 1.0)):
            if key.data is None:  # a job arrived on the feed: go and take it
                _drain(key.fd)
                return []
            self._read(key.data)
        finished = []
        for pid, child in list(self.children.items()):
            status, rss_kb = _reaped(pid)
            expired = self._expired(child) if status is None else None
            if expired:
                _kill(pid)
                _, _, usage = os.wait4(pid, 0)
                child.verdict = failed_verdict(child.job, *expired)
                status, rss_kb = -1, usage.ru_maxrss
            if status is not None:
                self._read(pid)
                self._finish(pid, child, status)
                child.verdict["child_rss_mb"] = round(rss_kb / 1024, 1)
                if child.job.get("memory_mb"):
                    child.verdict["memory_mb"] = child.job["memory_mb"]
                finished.append(child)
        return finished

    def _expired(self, child: _Child) -> tuple[str, str] | None:
        """(code, message) once a child ran past its time limit or its tuning budget."""
        now = time.monotonic()
        if child.tuning_since is not None:
            if child.tuned_s + now - child.tuning_since > self.cfg.tune_budget_s:
                return codes.AUTOTUNE_TIMEOUT, (f"compiling and autotuning took over "
                                                f"{self.cfg.tune_budget_s:.0f}s; killed")
            return None
        if child.waiting_since is None and now > child.deadline:
            return codes.TIMEOUT, f"no verdict within {_timeout_s(child.job, self.cfg):.0f}s; killed"
        return None

    def _read(self, pid: int) -> None:
        child = self.children.get(pid)
        if child is None:
            return
        try:
            while chunk := os.read(child.fd, 65536):
                child.buffer += chunk
        except BlockingIOError:
            pass
        *lines, child.buffer = child.buffer.split(b"\n")
        for line in lines:
            self._message(child, json.loads(line))

    def _message(self, child: _Child, msg: dict) -> None:
        if msg.get("phase") == "wait":
            child.waiting_since = time.monotonic()
        elif msg.get("phase") == "run" and child.waiting_since is not None:
            child.deadline += time.monotonic() - child.waiting_since  # waiting is not its time
            child.waiting_since = None
        elif msg.get("phase") == "tune" and child.tuning_since is None:
            child.tuning_since = time.monotonic()
        elif msg.get("phase") == "tuned" and child.tuning_since is not None:
            spent = time.monotonic() - child.tuning_since  # tuning has its own budget
            child.tuned_s += spent
            child.deadline += spent
            child.tuning_since = None
        elif msg.get("phase") == "part":  # one job of a shared child ended: the next has its time
            child.parts.append(msg["answer"])
            child.deadline = time.monotonic() + _timeout_s(child.job, self.cfg)
            child.tuned_s = 0.0
        elif "verdict" in msg and child.verdict is None:
            child.verdict = msg["verdict"]

    def _finish(self, pid: int, child: _Child, status: int) -> None:
        self.selector.unregister(child.fd)
        os.close(child.fd)
        del self.children[pid]
        if child.verdict is None:
            child.verdict = failed_verdict(child.job, *death_reason(status, child.stderr_path))
        if child.job.get("kind") == shared_child.KIND:
            child.verdict.update(kind=shared_child.KIND, answers=child.parts)
        workdir = child.stderr_path.parent
        if child.job.get("kind") == "baseline" and not child.verdict.get("ok"):
            caches.discard(self.root, child.job["problem_key"])
        shutil.rmtree(workdir, ignore_errors=True)


# jobs read ahead per slot, for admission by memory: on the H200, 4 per slot left 64 jobs of
# KernelBench level 1 (6-32 GB each, two or three fit) in the window while level 2's small ones
# waited behind them, and 3 to 5 of 16 slots ran (RESULTS.md, session 9)
LOOKAHEAD = 16
_END = object()


class Feed:
    """Jobs from a stream of JSON lines, read by a thread: the server takes what has arrived
    without blocking, and a wake-up pipe lets its select() notice a new job at once."""

    def __init__(self, lines):
        self._q: queue.Queue = queue.Queue()
        self.wake_fd, self._wake_w = os.pipe()
        os.set_blocking(self.wake_fd, False)
        threading.Thread(target=self._read, args=(lines,), daemon=True).start()

    def _read(self, lines) -> None:
        try:
            for line in lines:
                if line.strip():
                    self._q.put(json.loads(line))
                    os.write(self._wake_w, b"j")
        finally:  # a malformed line ends the feed (as it ended the server before): never a hang
            self._q.put(_END)
            os.write(self._wake_w, b"e")

    def take(self, block: bool):
        """The next job, _END after the last, or None when none has arrived (within 1 s)."""
        try:
            return self._q.get(timeout=1.0) if block else self._q.get_nowait()
        except queue.Empty:
            return None


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def _timeout_s(job: dict, cfg: PoolConfig) -> float:
    """The job's own time limit where it gives one (a server that runs Inductor jobs and
    verifications at once: stream.py), else the server's."""
    return float(job.get("timeout_s") or cfg.timeout_s)


def _memory_mb(job: dict) -> float:
    return float(job.get("memory_mb") or 0)


def _out_of_memory(verdict: dict | None) -> bool:
    """A verdict (or an Inductor job's answer) that says the job ran out of memory."""
    verdict = verdict or {}
    text = f"{verdict.get('error') or ''} {verdict.get('message') or ''}".lower()
    return verdict.get("failure_code") == codes.OOM or "out of memory" in text


def _confine(workdir: Path, cache_dirs: list[Path], lock: Path, shown_at: Path | None) -> None:
    """Isolate the child; a seeded child's own caches are shown where its problem's are."""
    from kcorpus.verify import isolation

    for d in cache_dirs:
        d.mkdir(parents=True, exist_ok=True)
    binds = [(str(cache_dirs[0].parent), str(shown_at))] if shown_at is not None else []
    isolation.confine(isolation.Paths(write=[str(workdir), *map(str, cache_dirs), str(lock)],
                                      binds=binds))


def _seeded(triton: Path, inductor: Path, shown_at: Path) -> tuple[Path, Path]:
    """A seeded child's cache directories: its copy of the problem's, at the problem's path
    (the paths inside the copy name files there). Where that bind could not be made, the copy
    is emptied instead, and the child compiles from nothing in its own."""
    from kcorpus.verify import isolation

    if isolation.BOUND:
        return shown_at / triton.name, shown_at / inductor.name
    for d in (triton, inductor):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    return triton, inductor


def _die_with_parent() -> None:
    """Linux: the child is killed if the server dies, so no hang outlives its watcher."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _reaped(pid: int) -> tuple[int | None, int]:
    """The child's exit status once it has ended (negative: killed by that signal), and its
    peak resident set in KiB."""
    done, status, usage = os.wait4(pid, os.WNOHANG)
    if done == 0:
        return None, 0
    code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    return code, usage.ru_maxrss


def _kill(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except (ProcessLookupError, PermissionError):
            pass


def death_reason(status: int, stderr_path: Path | None) -> tuple[str, str]:
    tail = ""
    if stderr_path is not None and stderr_path.exists():
        tail = stderr_path.read_text(errors="replace")[-1500:].strip()
    lowered = tail.lower()
    if "memoryerror" in lowered or "out of memory" in lowered:
        return codes.OOM, f"out of memory: {tail[-500:]}"
    if "illegal memory access" in lowered or "cuda error" in lowered:
        return codes.CRASH, f"CUDA fault: {tail[-500:]}"
    if status < 0:
        return codes.CRASH, f"the worker died of {signal.Signals(-status).name}: {tail[-500:]}"
    return codes.CRASH, f"the worker exited with code {status} without a verdict: {tail[-500:]}"


def failed_verdict(job: dict, code: str, message: str) -> dict:
    return {"id": job.get("id"), "passed": False, "stage": "compile", "failure_code": code,
            "message": message, "device": job.get("device", "cpu")}


def serve(cfg: PoolConfig, run_job: Callable, jobs_in=sys.stdin, verdicts_out=None) -> None:
    """Read jobs (JSON lines), write verdicts (JSON lines) as they complete."""
    out = verdicts_out or sys.stdout
    pool = ForkPool(cfg, run_job)
    try:
        for verdict in pool.run(Feed(jobs_in)):
            out.write(json.dumps(verdict) + "\n")
            out.flush()
    finally:
        pool.close()
