"""Log lines for people (the default) or for log collectors (`--log-format json`).

In JSON every line on stderr is one object: `time` (UTC, ISO 8601), `level`, `stage` (the
pipeline stage it concerns, or null), `event` (what happened, in words) and `counts` (numbers
that go with it: a stage's counts when it finishes, done and total for progress). Prefect's
own log records and uvicorn's come out in the same shape; the stage of a Prefect record is
its flow's (`kcorpus-verify` is stage `verify`).

The format is chosen once per process (`configure`, or KCORPUS_LOG_FORMAT for processes the
CLI starts).
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

FORMATS = ("human", "json")
ENV = "KCORPUS_LOG_FORMAT"


def current() -> str:
    return os.environ.get(ENV, "human")


def configure(fmt: str) -> None:
    """Use `fmt` from now on, here and in processes started from here."""
    if fmt not in FORMATS:
        raise ValueError(f"--log-format {fmt!r}: expected one of {', '.join(FORMATS)}")
    os.environ[ENV] = fmt
    if fmt == "json":
        route_to_json()


def line(level: str, stage: str | None, event: str, counts: dict | None = None,
         when: datetime | None = None) -> str:
    return json.dumps({"time": (when or datetime.now(UTC)).isoformat(timespec="milliseconds"),
                       "level": level, "stage": stage, "event": event,
                       "counts": _numbers(counts or {})}, default=str)


def event(level: str, stage: str | None, what: str, counts: dict | None = None,
          human: str | None = None) -> None:
    """One line on stderr: JSON in json mode, else `human` (nothing when it is None)."""
    text = line(level, stage, what, counts) if current() == "json" else human
    if text is not None:  # not print(): a flow with log_prints would log it once more
        sys.stderr.write(text + "\n")
        sys.stderr.flush()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info:
            message += "\n" + self.formatException(record.exc_info)
        flow = getattr(record, "flow_name", None) or ""
        stage = flow.removeprefix("kcorpus-") if flow.startswith("kcorpus-") else None
        return line(record.levelname, None if stage == "rebuild" else stage, message,
                    getattr(record, "counts", None),
                    datetime.fromtimestamp(record.created, UTC))


def route_to_json() -> None:
    """Every logging handler that writes to a terminal stream writes JSON lines instead
    (Prefect's console handlers are replaced: they wrap long lines)."""
    loggers = [logging.getLogger()] + [lg for lg in logging.root.manager.loggerDict.values()
                                       if isinstance(lg, logging.Logger)]
    for logger in loggers:
        streams = [h for h in logger.handlers if _console(h)]
        for h in streams:
            logger.removeHandler(h)
        if streams:
            logger.addHandler(json_handler())


def json_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    return handler


def uvicorn_config() -> dict:
    """uvicorn's `log_config` for JSON lines."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {"version": 1, "disable_existing_loggers": False,
            "formatters": {"json": {"()": JsonFormatter}},
            "handlers": {"json": handler},
            "loggers": {name: {"handlers": ["json"], "level": "INFO", "propagate": False}
                        for name in ("uvicorn", "uvicorn.error", "uvicorn.access")}}


def _console(handler: logging.Handler) -> bool:
    # the flows' orchestrator installs its own console handler class (named ...ConsoleHandler)
    console_class = type(handler).__name__.endswith("ConsoleHandler")
    return console_class or (isinstance(handler, logging.StreamHandler)
                            and getattr(handler, "stream", None) in (sys.stderr, sys.stdout))


def _numbers(counts: dict) -> dict:
    """Counts keep numbers, flags and short strings (a release's version); nested values go."""
    return {k: v for k, v in counts.items() if isinstance(v, (int, float, bool, str))}
