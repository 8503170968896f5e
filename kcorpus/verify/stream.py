"""One fork server for jobs that make more jobs: the Inductor backend's compiles and the
verification of each candidate they make, overlapped on one GPU.

Run one after the other, the two stages leave the card's slots half idle: synthesis holds few
children while the admission by memory waits for big problems, verification starts only once the
last compile ended. Here both kinds of job share the server's slots and its admission by memory:

    run_stream(first, follow, limits, device)

feeds the `first` jobs (Inductor compiles), and `follow(answer)` turns each answer into the jobs
that come of it (a candidate's verification), which go before any first job not yet fed: a
candidate is verified as soon as a slot frees, so a budget that runs out leaves whole pairs,
not candidates without verdicts. Jobs are fed one per free slot (sandbox.Pacer), which is what
lets the stream choose the next job at the moment a slot frees. The stream ends once every job
fed has been answered and no answer can make more. A budget or a deadline cuts it as it cuts
`sandbox.run_jobs`; the jobs not answered stay pending for the stages that own them.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator

from kcorpus.verify import sandbox


class JobStream:
    """The jobs of one server: follow-ups first, then the first jobs, until nothing is out."""

    def __init__(self, first: Iterable[dict]):
        self._first = iter(first)
        self._next: deque[dict] = deque()
        self._out = 0  # jobs handed out whose answers have not come back
        self._closed = False
        self._cond = threading.Condition()

    def __iter__(self) -> Iterator[dict]:
        while (job := self._take()) is not None:
            yield job

    def _take(self) -> dict | None:
        with self._cond:
            while not self._closed:
                job = self._next.popleft() if self._next else next(self._first, None)
                if job is not None:
                    self._out += 1
                    return job
                if self._out == 0:  # nothing queued, nothing out that could queue more
                    return None
                self._cond.wait(timeout=1.0)
            return None

    def answered(self, follow_ups: list[dict]) -> None:
        """One job's answer came back, and these jobs come of it."""
        with self._cond:
            self._next.extend(follow_ups)
            self._out -= 1
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


def run_stream(first: Iterable[dict], follow: Callable[[dict], list[dict]],
               limits: sandbox.Limits, device: str, budget_s: float | None = None,
               deadline_s: float | None = None, window: int | None = None) -> Iterator[dict]:
    """Every answer (of first jobs and follow-ups alike) in completion order; each one's
    follow-ups are queued before it is yielded. Jobs may carry their own `timeout_s` (the
    server's is `limits.timeout_s`) and `memory_mb` (admission). `window`: jobs fed ahead of
    the answers (default: one per slot, so a follow-up starts at the next free slot; more lets
    the server's admission by memory choose among them, for follow-ups that need no hurry)."""
    stream = JobStream(first)
    paced = math.inf if budget_s is None and deadline_s is None else budget_s
    try:
        for answer in sandbox.run_jobs(stream, limits, device, budget_s=paced,
                                       deadline_s=deadline_s, window=window):
            stream.answered(follow(answer))
            yield answer
    finally:
        stream.close()
