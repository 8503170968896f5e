"""Progress of long stages, visible wherever a user looks:

- a rich bar on stderr when stderr is a terminal;
- otherwise one plain line on stderr at least every `KCORPUS_PROGRESS_INTERVAL` seconds (10),
  also while nothing finishes: `progress problems: 12/400 (3%) 0.5/s, 12m56s left`;
- a small JSON file (`<workdir>/progress.json`, set by `tracking`) rewritten as work advances,
  which `kcorpus status` reads while a rebuild holds the catalog's lock;
- listeners called with the same snapshot (the Prefect flow registers one that updates a
  progress artifact; this package knows no Prefect).

KCORPUS_PROGRESS=0 turns the bar and the lines off; the file and the listeners stay.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from kcorpus import logs

LISTENERS: list[Callable[[dict], None]] = []
_TRACK: dict = {"file": None, "stage": None}
FILE_EVERY_S = 1.0  # the progress file is rewritten at most this often


def interval_s() -> float:
    return float(os.environ.get("KCORPUS_PROGRESS_INTERVAL", "10"))


@contextmanager
def tracking(path: Path, stage: str) -> Iterator[None]:
    """Stage `stage` runs: bars inside it write `path`; on leaving, the file says it ended."""
    _TRACK.update(file=Path(path), stage=stage)
    _write(Path(path), {"stage": stage, "state": "running", "pid": os.getpid(),
                        "started_at": _now(), "updated_at": _now()})
    try:
        yield
    finally:
        _write(Path(path), {"stage": stage, "state": "finished", "pid": os.getpid(),
                            "updated_at": _now()})
        _TRACK.update(file=None, stage=None)


def read(path: Path) -> dict | None:
    """The last snapshot written at `path`, or None."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def describe(snap: dict) -> str:
    """One line: `problems: 12/400 (3%) 0.5/s, 12m56s left`."""
    total, done = snap.get("total"), snap.get("done", 0)
    head = f"{snap.get('description') or snap.get('stage')}: {done}" + (f"/{total}" if total else "")
    if total:
        head += f" ({100 * done // max(total, 1)}%)"
    rate = snap.get("rate_per_s")
    if rate:
        head += f" {rate:.2g}/s"
    if snap.get("eta_s") is not None:
        head += f", {_clock(snap['eta_s'])} left"
    return head


class _Bar:
    def __init__(self, description: str, total: int | None, rich_progress: Progress | None, task):
        self.description, self.total, self.done = description, total, 0
        self._p, self._t = rich_progress, task
        self._start = time.monotonic()
        self._last_line, self._last_file = self._start, float("-inf")  # the file: at once
        self._lines = rich_progress is None and os.environ.get("KCORPUS_PROGRESS", "1") != "0"
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        self._ticker.start()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self._p is not None:
            self._p.advance(self._t, n)
        self._report(final=False)

    def snapshot(self) -> dict:
        elapsed = time.monotonic() - self._start
        rate = self.done / elapsed if elapsed > 0 and self.done else None
        eta = (self.total - self.done) / rate if rate and self.total else None
        return {"stage": _TRACK["stage"], "description": self.description, "done": self.done,
                "total": self.total, "rate_per_s": rate, "eta_s": eta, "elapsed_s": elapsed,
                "state": "running", "pid": os.getpid(), "updated_at": _now()}

    def close(self) -> None:
        self._stop.set()
        self._ticker.join(timeout=1)
        self._report(final=True)

    def _tick(self) -> None:
        while not self._stop.wait(min(interval_s(), 1.0)):
            self._report(final=False)

    def _report(self, final: bool) -> None:
        now = time.monotonic()
        snap = None
        if _TRACK["file"] is not None and (final or now - self._last_file >= FILE_EVERY_S):
            snap = self.snapshot()
            _write(_TRACK["file"], snap)
            self._last_file = now
        if final or now - self._last_line >= interval_s():
            snap = snap or self.snapshot()
            self._last_line = now
            if self._lines:
                counts = {k: snap[k] for k in ("done", "total", "rate_per_s", "eta_s")}
                logs.event("INFO", snap["stage"], f"progress {snap['description']}", counts,
                           human=f"progress {describe(snap)}")
            for listener in LISTENERS:
                try:
                    listener(snap)
                except Exception:  # a broken listener never stops the stage
                    pass


@contextmanager
def bar(description: str, total: int | None = None) -> Iterator[_Bar]:
    rich_bar = (os.environ.get("KCORPUS_PROGRESS", "1") != "0" and sys.stderr.isatty()
                and logs.current() != "json")
    if not rich_bar:
        b = _Bar(description, total, None, None)
        try:
            yield b
        finally:
            b.close()
        return
    cols = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn())
    with Progress(*cols, console=Console(stderr=True), transient=False) as p:
        b = _Bar(description, total, p, p.add_task(description, total=total))
        try:
            yield b
        finally:
            b.close()


def _write(path: Path, snap: dict) -> None:
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(snap, default=str))
        os.replace(tmp, path)
    except OSError:
        pass


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _clock(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"
