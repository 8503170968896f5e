"""A clean stop on SIGTERM and SIGINT, for work that runs in a thread of its own.

`run_until_stopped(work)` runs `work` in a thread while the main thread waits for it and takes
the signals. On the first SIGTERM or SIGINT every sandbox server registered here (sandbox.py
registers each one it starts) is killed with its process group, so a fork server and its
forked children end at once and no verdict is written for a candidate that was still running;
no new sandbox may start after it. Work that was blocked on a sandbox then ends at the next
`check()` (run_stage calls it after every stage) by raising `Stopped`, and its caller reports
the stop. Work that does not get there within `grace_s` (a long in-process step), or a second
signal, ends the process at once through `force`: the catalog survives that as it survives
SIGKILL (tests/test_resume.py).

A process stopped by signal N exits with 128 + N: 143 for SIGTERM, 130 for SIGINT.
"""

from __future__ import annotations

import contextvars
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable

SIGNALS = (signal.SIGTERM, signal.SIGINT)
GRACE_S = 5.0  # then the stop is forced; with the force's own work it stays within 10 s

_lock = threading.Lock()
_state: dict = {"signum": None, "at": None}
_servers: set[subprocess.Popen] = set()


class Stopped(Exception):
    """The process was asked to stop (by `signum`); what was finished is in the catalog."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by {signal.Signals(signum).name}")
        self.signum = signum


def requested() -> int | None:
    """The signal that asked for a stop, or None."""
    return _state["signum"]


def check() -> None:
    """Raise `Stopped` once a stop was asked for."""
    if _state["signum"] is not None:
        raise Stopped(_state["signum"])


def exit_code(signum: int) -> int:
    return 128 + signum


def register(proc: subprocess.Popen) -> None:
    """A sandbox server to kill on a stop; killed at once if the stop came first."""
    with _lock:
        stopping = _state["signum"] is not None
        if not stopping:
            _servers.add(proc)
    if stopping:
        _kill_group(proc.pid)
        raise Stopped(_state["signum"])


def unregister(proc: subprocess.Popen) -> None:
    with _lock:
        _servers.discard(proc)


def request(signum: int) -> None:
    """Ask for a stop as the signal would: mark it and kill every sandbox server."""
    with _lock:
        if _state["signum"] is None:
            _state.update(signum=signum, at=time.monotonic())
        servers = list(_servers)
    for proc in servers:
        _kill_group(proc.pid)


def reset() -> None:
    """Forget a stop (a long-lived caller, such as `kcorpus serve`, between runs)."""
    with _lock:
        _state.update(signum=None, at=None)


def run_until_stopped(work: Callable[[], object], force: Callable[[int], None],
                      grace_s: float = GRACE_S, watch: Callable[[], None] | None = None):
    """`work()`'s result, run in a thread; signals handled as the module says. `force(signum)`
    must end the process: it is called on a second signal, after `grace_s`, and on any signal
    after the work ended (the caller is only winding down then). `watch`, if given, is called
    about every 0.2 s in the main thread while the work runs (it may end the process itself,
    e.g. when a server the work needs has gone). For the main thread of a command line."""
    box: dict = {}
    seen: list[int] = []
    context = contextvars.copy_context()  # the caller's settings hold in the thread too

    def target() -> None:
        try:
            box["result"] = context.run(work)
        except BaseException as e:  # handed to the main thread, raised there
            box["error"] = e

    def on_signal(signum, _frame) -> None:
        seen.append(signum)
        if len(seen) > 1:
            force(seen[0])
        request(signum)

    for s in SIGNALS:
        signal.signal(s, on_signal)
    thread = threading.Thread(target=target, name="kcorpus-work", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(0.2)
        if seen and time.monotonic() - _state["at"] > grace_s:
            force(seen[0])
        if watch is not None and thread.is_alive():
            watch()
    # from here on (the caller winding down, or reporting), a signal ends it at once
    for s in SIGNALS:
        signal.signal(s, lambda signum, _: force(seen[0] if seen else signum))
    if "error" in box:
        raise box["error"]
    return box.get("result")


def kill_descendants() -> None:
    """SIGKILL every process below this one (Linux: /proc): sandboxes, git, mining workers."""
    for pid in _descendants(os.getpid()):
        _kill_group(pid)


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for kids in _children_files(parent):
            try:
                with open(kids) as f:
                    found = [int(p) for p in f.read().split()]
            except OSError:
                continue
            out += found
            todo += found
    return out


def _children_files(pid: int) -> list[str]:
    try:
        return [f"/proc/{pid}/task/{t}/children" for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


def _kill_group(pid: int) -> None:
    """Its process group when it leads one (sandbox servers do), else the process alone."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, signal.SIGKILL)
            return
    except (ProcessLookupError, PermissionError):
        pass
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
