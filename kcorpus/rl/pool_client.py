"""One long-lived sandboxed fork server (worker.py) that many threads submit jobs to.

`sandbox.run_jobs` feeds a fixed list of jobs and ends with them; a service needs one warm
server for its whole life, jobs arriving at any time and each answer going back to whoever
asked. `PoolClient.submit(job)` writes the job to the server's stdin and returns a Future that
the reader thread resolves with the verdict carrying the job's id. If the server itself dies,
every job in flight gets a CRASH verdict and the next `submit` starts a new server: a candidate
that crashes or hangs ends only its own forked child, and even a dead server costs only the
jobs it held.
"""

from __future__ import annotations

import json
import tempfile
import threading
import uuid
from concurrent.futures import Future

from kcorpus.verify import codes, sandbox
from kcorpus.verify.pool import failed_verdict


class PoolClient:
    def __init__(self, limits: sandbox.Limits, device: str):
        self.limits, self.device = limits, device
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[Future, dict, object]] = {}
        self._proc = None
        self._tmp = None
        self._closed = False

    def submit(self, job: dict) -> Future:
        """The verdict of `job`, later; its `id` is replaced by a unique one and put back."""
        future: Future = Future()
        wire = {**job, "id": uuid.uuid4().hex}
        with self._lock:
            if self._closed:
                future.set_exception(RuntimeError("the sandbox server was stopped"))
                return future
            self._ensure_started()
            self._pending[wire["id"]] = (future, job, self._proc)
            try:
                self._proc.stdin.write(json.dumps(wire).encode() + b"\n")
                self._proc.stdin.flush()
            except (BrokenPipeError, OSError):
                self._pending.pop(wire["id"], None)
                future.set_result(failed_verdict(job, codes.CRASH, "the sandbox server is gone"))
        return future

    def in_flight(self) -> int:
        return len(self._pending)

    def abandon(self, error: BaseException) -> None:
        """Stop for good (the service is stopping): every job in flight fails with `error`
        instead of a verdict, the server and its children are killed, no new job is taken."""
        with self._lock:
            self._closed = True
            lost = list(self._pending.values())
            self._pending.clear()
        for future, _, _ in lost:
            future.set_exception(error)
        self.close()

    def close(self) -> None:
        with self._lock:
            proc, self._proc = self._proc, None
        if proc is not None:
            sandbox._kill_group(proc)
            proc.wait()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    # -- the server ------------------------------------------------------------------------------
    def _ensure_started(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            return
        self._tmp = self._tmp or tempfile.TemporaryDirectory(prefix="kcorpus-service-")
        lim = self.limits
        self._proc = sandbox._popen(
            ["--parallel", str(lim.parallel), "--timeout", str(lim.timeout_s), "--memory-mb",
             str(lim.memory_mb), "--device", self.device, *sandbox._new_flags(lim)],
            self._tmp.name, self.device, None, lim.inductor_cache)
        threading.Thread(target=self._read, args=(self._proc,), daemon=True).start()
        threading.Thread(target=self._proc.stderr.read, daemon=True).start()

    def _read(self, proc) -> None:
        for line in proc.stdout:
            if not line.startswith(b"{"):
                continue
            verdict = json.loads(line)
            with self._lock:
                entry = self._pending.pop(verdict.get("id"), None)
            if entry is not None:
                future, job, _ = entry
                future.set_result({**verdict, "id": job.get("id")})
        with self._lock:  # the server ended: whatever it held gets a verdict
            if self._proc is proc:
                self._proc = None
            lost = [k for k, (_, _, p) in self._pending.items() if p is proc]
            lost = [self._pending.pop(k) for k in lost]
        for future, job, _ in lost:
            future.set_result(failed_verdict(job, codes.CRASH,
                                             "the sandbox server died; the service restarts it"))
