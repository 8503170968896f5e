"""Turns on a GPU, so that work sharing one never times kernels on it at once.

Every unit of work that runs candidates or references on a GPU (a verify stage's fork server,
a problems stage's probes, a Ray verification batch, the Inductor backend's worker) holds one
of the GPU's `slots` while it runs, through whatever holder is installed:

- by default, exclusive file locks (flock) in the system's temporary directory, named for the
  GPU's UUID, one file per slot: processes on one machine take turns, with no service;
- the Prefect flows install a holder that takes one slot of a Prefect global concurrency limit
  of the same name instead (flows/gpu_slots.py), which also covers Ray workers on other nodes.

On the CPU nothing is held: the interpreter's results carry no timing.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager

PREFIX = "kcorpus-gpu-"
POLL_S = 0.5
# (names, slots, timeout_s) -> a context manager holding one slot of each name
Holder = Callable[[list[str], int, float | None], AbstractContextManager]
_HOLDER: list[Holder] = []


def install(holder: Holder | None) -> None:
    """Use `holder` from now on (None: the file locks again)."""
    _HOLDER[:] = [holder] if holder else []


def limit_names(device: str) -> list[str]:
    """The limit of the GPU this process would use (CUDA device 0 of those visible to it)."""
    if device != "cuda":
        return []
    import torch

    if not torch.cuda.is_available():
        return []
    return [PREFIX + str(torch.cuda.get_device_properties(0).uuid)]


@contextmanager
def hold(names: list[str], slots: int = 1, timeout_s: float | None = None) -> Iterator[None]:
    """Hold one slot of each named limit for the duration."""
    if not names:
        yield
        return
    holder = _HOLDER[0] if _HOLDER else file_slots
    with holder(names, slots, timeout_s):
        yield


@contextmanager
def hold_gpu(device: str, slots: int = 1) -> Iterator[None]:
    with hold(limit_names(device), slots):
        yield


def lock_dir() -> str:
    return os.environ.get("KCORPUS_LOCK_DIR") or tempfile.gettempdir()


@contextmanager
def file_slots(names: list[str], slots: int = 1, timeout_s: float | None = None) -> Iterator[None]:
    """One of `slots` lock files per name, `<lock_dir>/<name>.<i>.lock`, held until the block
    ends; the kernel releases it if the process dies. TimeoutError past `timeout_s`."""
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    with ExitStack() as held:
        for name in names:
            held.enter_context(_one_slot(name, slots, deadline))
        yield


@contextmanager
def _one_slot(name: str, slots: int, deadline: float | None) -> Iterator[None]:
    paths = [os.path.join(lock_dir(), f"{name}.{i}.lock") for i in range(slots)]
    while True:
        for path in paths:
            f = open(path, "a")
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                f.close()
                continue
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
                f.close()
            return
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"no free slot of {name} ({slots}) in time")
        time.sleep(POLL_S)
