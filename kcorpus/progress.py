"""Progress bars for long stages (rich, on stderr; silent when KCORPUS_PROGRESS=0)."""

from __future__ import annotations

import os
from contextlib import contextmanager
from collections.abc import Iterator

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


class _Bar:
    def __init__(self, progress: Progress | None, task):
        self._p, self._t = progress, task

    def advance(self, n: int = 1) -> None:
        if self._p is not None:
            self._p.advance(self._t, n)


@contextmanager
def bar(description: str, total: int | None = None) -> Iterator[_Bar]:
    if os.environ.get("KCORPUS_PROGRESS", "1") == "0":
        yield _Bar(None, None)
        return
    cols = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeElapsedColumn())
    with Progress(*cols, console=Console(stderr=True), transient=False) as p:
        yield _Bar(p, p.add_task(description, total=total))
