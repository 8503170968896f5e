"""`kcorpus rebuild` and `kcorpus serve` as a scheduler runs them: the flow in a thread of its
own, its temporary API server kept until the flow's last state is reported, and a clean stop on
SIGTERM or SIGINT (kcorpus/stopping.py).

A stop kills the sandboxes at once; the stage that was running writes what it finished, the
flows end Cancelled, and `kcorpus` exits 143 (SIGTERM) or 130 (SIGINT) after one line saying
what was finished and how to resume. A stage that does not end by itself within the grace, or
a second signal, is stopped at once: its Prefect runs are set Cancelled through the API, every
process below this one is killed, and the process exits with the same code. If the API goes
away meanwhile, the run ends at once with one error line (exit 1) instead of retrying it.
"""

from __future__ import annotations

import functools
import os
import shlex
import signal
import sys
import time
from datetime import datetime
from zoneinfo import ZoneInfo

from flows import api_server
from kcorpus import logs, stopping

API_GONE_EXIT = 1
_WAITING: dict = {"until": None}  # `serve` between runs: the next run's time


class RebuildStopped(Exception):
    def __init__(self, code: int, line: str):
        super().__init__(line)
        self.code, self.line = code, line


def rebuild(pipeline: str, workdir: str, refresh_cache: bool = False) -> dict[str, dict]:
    """The rebuild's {stage: counts}; `RebuildStopped` after a stop, `api_server.ApiGone` when
    the API went away before it began."""
    _json_logs()
    with api_server.temporary_api() as api:
        state = _until_stopped(api, lambda: _flow(pipeline, workdir, refresh_cache))
    _raise_if_stopped()
    return state.result()


def serve(pipeline: str, workdir: str) -> None:
    """Rebuild on the pipeline's cron schedule until stopped (`RebuildStopped`); a run that
    fails is reported in one line and the next runs on time."""
    from prefect._vendor.croniter import croniter

    from kcorpus.config import load_config

    _json_logs()
    schedule = load_config(pipeline).schedule
    zone = ZoneInfo(schedule.timezone)
    ticks = croniter(schedule.cron, datetime.now(zone))
    with api_server.temporary_api() as api:
        while True:
            at = ticks.get_next(datetime)
            _until_stopped(api, functools.partial(_sleep_until, at, pipeline))
            _raise_if_stopped()
            state = _until_stopped(api, lambda: _flow(pipeline, workdir, False))
            _raise_if_stopped()
            if not state.is_completed():
                logs.event("ERROR", None, f"the rebuild ended {state.name}: {state.message}",
                           human=f"error: the rebuild ended {state.name}: {state.message}")


def _flow(pipeline: str, workdir: str, refresh_cache: bool):
    from flows import rebuild as flow

    return flow.rebuild(pipeline, workdir, refresh_cache, return_state=True)


def _until_stopped(api: api_server.Api, work):
    """`work()` under stopping.run_until_stopped, with this module's force and API watch."""
    def force(signum: int) -> None:
        _cancel_open_runs(f"stopped by {signal.Signals(signum).name} at once")
        api.close()
        _exit(stopping.exit_code(signum), stopped_line(signum, at_once=True))

    def watch() -> None:
        why = api.gone()
        if why is not None:
            _exit(API_GONE_EXIT, api_gone_line(why))

    return stopping.run_until_stopped(work, force, watch=watch)


def _raise_if_stopped() -> None:
    signum = stopping.requested()
    if signum is not None:
        raise RebuildStopped(stopping.exit_code(signum), stopped_line(signum))


def _sleep_until(at: datetime, pipeline: str) -> None:
    _WAITING["until"] = at
    logs.event("INFO", None, f"next rebuild at {at.isoformat()}",
               human=f"kcorpus serve: next rebuild of {pipeline} at {at.isoformat()}")
    try:
        while stopping.requested() is None and datetime.now(at.tzinfo) < at:
            time.sleep(0.2)
    finally:
        if stopping.requested() is None:  # else the stop's line says what it was waiting for
            _WAITING["until"] = None


def _json_logs() -> None:
    import flows.rebuild  # noqa: F401 - Prefect's log handlers exist once it is imported

    if logs.current() == "json":
        logs.route_to_json()


def stopped_line(signum: int, at_once: bool = False) -> str:
    from flows.rebuild import CURRENT

    if _WAITING["until"] is not None:
        return (f"stopped by {signal.Signals(signum).name} while waiting for the rebuild at "
                f"{_WAITING['until'].isoformat()}; none was running. To serve again, run: "
                f"{resume_command()}")
    done = ", ".join(CURRENT.finished) or "no stage"
    where = f" during {CURRENT.stage}" if CURRENT.stage else ""
    how = "at once " if at_once else ""
    return (f"stopped {how}by {signal.Signals(signum).name}{where}: finished {done}; what "
            f"the catalog holds is kept. To resume, run: {resume_command()}")


def api_gone_line(why: str) -> str:
    from flows.rebuild import CURRENT

    where = f" during {CURRENT.stage}" if CURRENT.stage else ""
    return (f"error: {why}{where}; the catalog keeps what was finished "
            f"({', '.join(CURRENT.finished) or 'no stage'}). To resume, run: {resume_command()}")


def resume_command() -> str:
    return "kcorpus " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _cancel_open_runs(message: str) -> None:
    """Set the flow and task runs still open Cancelled (best effort: a quick, single try)."""
    from prefect.client.orchestration import get_client
    from prefect.settings import (PREFECT_API_REQUEST_TIMEOUT, PREFECT_CLIENT_MAX_RETRIES,
                                  temporary_settings)
    from prefect.states import Cancelled

    from flows.rebuild import CURRENT

    with temporary_settings(updates={PREFECT_CLIENT_MAX_RETRIES: 0,
                                     PREFECT_API_REQUEST_TIMEOUT: 2.0}):
        with get_client(sync_client=True) as client:
            for kind, run_id in reversed(list(CURRENT.open_runs)):
                setter = client.set_flow_run_state if kind == "flow" else client.set_task_run_state
                try:
                    setter(run_id, Cancelled(message=message), force=True)
                except Exception:  # noqa: BLE001  (the stop goes on without the API)
                    pass


def _exit(code: int, line: str) -> None:
    """End now: no child left, one line said."""
    stopping.request(signal.SIGKILL)  # no new sandbox may start meanwhile
    stopping.kill_descendants()
    logs.event("ERROR" if code == API_GONE_EXIT else "WARNING", None, line, human=line)
    sys.stderr.flush()
    os._exit(code)
