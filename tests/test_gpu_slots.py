"""A GPU's turns: file locks by default (the library), a Prefect global concurrency limit when
the flows install theirs, against Prefect's real (temporary) server.

There is no GPU here, so the limits are named explicitly; on a GPU the name is the device's
UUID (gpu_slots.limit_names).
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

import pytest

from flows import gpu_slots as prefect_slots
from kcorpus.verify import gpu_slots


@pytest.fixture
def prefect_holder():
    prefect_slots.install()
    yield
    gpu_slots.install(None)


def _intervals(name: str, holders: int, hold_s: float = 1.0) -> list[tuple[float, float]]:
    spans: list[tuple[float, float]] = []

    def work() -> None:
        with gpu_slots.hold([name], slots=1, timeout_s=60):
            start = time.monotonic()
            time.sleep(hold_s)
            spans.append((start, time.monotonic()))

    # The API is up before the holders start, as it is in a flow: three threads starting
    # Prefect's temporary server at once race each other (one sees "did not start").
    with get_client(sync_client=True):
        pass
    threads = [threading.Thread(target=work) for _ in range(holders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(spans)


def _overlap(spans: list[tuple[float, float]]) -> bool:
    return any(b[0] < a[1] for a, b in zip(spans, spans[1:]))


def test_one_slot_per_gpu_makes_holders_take_turns(prefect_holder):
    name = gpu_slots.PREFIX + uuid.uuid4().hex
    spans = _intervals(name, holders=3)
    assert len(spans) == 3 and not _overlap(spans)
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(name)
    assert limit.limit == 1 and limit.active_slots == 0  # created on first use, all released


def test_a_limit_the_operator_set_is_kept(prefect_holder):
    name = gpu_slots.PREFIX + uuid.uuid4().hex
    with get_client(sync_client=True) as client:
        client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=2))
    spans = _intervals(name, holders=2)
    assert _overlap(spans)  # two slots: both ran at once
    with get_client(sync_client=True) as client:
        assert client.read_global_concurrency_limit_by_name(name).limit == 2


def test_nothing_is_held_on_the_cpu():
    asked = []

    @contextlib.contextmanager
    def recording(names, slots, timeout_s):
        asked.append(names)
        yield

    gpu_slots.install(recording)
    try:
        assert gpu_slots.limit_names("cpu") == []
        with gpu_slots.hold_gpu("cpu"), gpu_slots.hold_gpu("cpu"):  # no limit asked for at all
            assert asked == []
        with gpu_slots.hold(["kcorpus-gpu-x"]):  # while a named GPU's limit is
            assert asked == [["kcorpus-gpu-x"]]
    finally:
        gpu_slots.install(None)


def test_without_prefect_processes_take_turns_through_file_locks(tmp_path, monkeypatch):
    """The library alone: one lock file per slot; other processes wait for it, then hold it."""
    import subprocess
    import sys

    monkeypatch.setenv("KCORPUS_LOCK_DIR", str(tmp_path))
    gpu_slots.install(None)
    name = gpu_slots.PREFIX + uuid.uuid4().hex
    other = [sys.executable, "-c", "import time; from kcorpus.verify import gpu_slots\n"
             f"with gpu_slots.hold([{name!r}], 1, timeout_s=30): print(time.monotonic())"]
    with gpu_slots.hold([name], slots=1):
        proc = subprocess.Popen(other, stdout=subprocess.PIPE, text=True,
                                env={**__import__("os").environ, "KCORPUS_LOCK_DIR": str(tmp_path)})
        time.sleep(1.5)
        released = time.monotonic()
    got = float(proc.communicate(timeout=60)[0])
    assert got >= released  # it held the slot only after this process let it go
    with gpu_slots.hold([name], slots=2), gpu_slots.hold([name], slots=2, timeout_s=0.5):
        with pytest.raises(TimeoutError):  # two slots: two holders at once, and no third
            with gpu_slots.hold([name], slots=2, timeout_s=0.5):
                pass
    with gpu_slots.hold([name], slots=1), pytest.raises(TimeoutError):
        with gpu_slots.hold([name], slots=1, timeout_s=0.5):
            pass
