"""The temporary Prefect API server of a `kcorpus rebuild` or `kcorpus serve`, made to outlive
the flows that use it.

Prefect's own temporary server is a child in the caller's process group: a SIGTERM or Ctrl-C
sent to the group ended it before the flow, which then retried against a dead API for minutes.
This one runs in a session of its own and ignores SIGTERM and SIGINT; it ends when its owner
closes it (stdin closed and SIGUSR1, after the flow's last state is reported) or dies (the
pipe closes then).
With PREFECT_API_URL set, that server is used and none is started.

`python -m flows.api_server PORT` is the server process itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass

STARTUP_S = float(os.environ.get("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "60"))
CLOSE_SIGNAL = signal.SIGUSR1  # the owner closes the server (schedulers send TERM and INT)
SHUTDOWN_S = 1.0  # the server's own shutdown, after its owner closed it, at most
HEALTH_FAILURES = 3  # a health check fails this many times in a row: the API went away


class ApiGone(RuntimeError):
    pass


@dataclass
class Api:
    url: str
    proc: subprocess.Popen | None = None  # None: a server we did not start
    failures: int = 0
    checked_at: float = 0.0

    def gone(self) -> str | None:
        """Why the API can no longer be used, or None. Our own server: it exited. Another:
        its health check failed HEALTH_FAILURES times in a row (checked every 2 s)."""
        if self.proc is not None:
            code = self.proc.poll()
            return None if code is None else f"the temporary Prefect server exited ({code})"
        if time.monotonic() - self.checked_at < 2.0:
            return None
        self.checked_at = time.monotonic()
        self.failures = 0 if healthy(self.url) else self.failures + 1
        return (f"the Prefect API at {self.url} stopped answering"
                if self.failures >= HEALTH_FAILURES else None)

    def close(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.stdin.close()
        # also SIGUSR1: a process forked meanwhile (a mining worker) may hold the pipe open
        self.proc.send_signal(CLOSE_SIGNAL)
        try:  # it exits SHUTDOWN_S after; under load it was seen to take longer
            self.proc.wait(timeout=SHUTDOWN_S + 1)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as r:
            return r.status == 200
    except OSError:
        return False


@contextlib.contextmanager
def temporary_api() -> Iterator[Api]:
    """The API flows report to: PREFECT_API_URL's, else a temporary server for the duration,
    whose URL is set in PREFECT_API_URL meanwhile."""
    if os.environ.get("PREFECT_API_URL"):
        yield Api(os.environ["PREFECT_API_URL"])
        return
    api = start()
    os.environ["PREFECT_API_URL"] = api.url
    try:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings(updates={PREFECT_API_URL: api.url}):
            yield api
    finally:
        drain()  # logs and events still queued go out while the server is up
        os.environ.pop("PREFECT_API_URL", None)
        api.close()


def drain(timeout: float = 5.0) -> None:
    """Send what Prefect's log and event workers still hold (they would retry it at exit,
    against a server that is gone, for a minute)."""
    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker

    for worker in (APILogWorker, EventsWorker):
        worker.drain_all(timeout=timeout)


def start() -> Api:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1",
           "PREFECT__SERVER_FINAL": "1", "PYTHONPATH": _root() + os.pathsep +
           os.environ.get("PYTHONPATH", "")}
    proc = subprocess.Popen([sys.executable, "-m", "flows.api_server", str(port)],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env,
                            start_new_session=True)
    api = Api(f"http://127.0.0.1:{port}/api", proc)
    deadline = time.monotonic() + STARTUP_S
    while not healthy(api.url, timeout=1.0):
        if proc.poll() is not None or time.monotonic() > deadline:
            api.close()
            raise ApiGone(f"the temporary Prefect server did not start within {STARTUP_S:.0f} s "
                          f"(exit code {proc.poll()}); set PREFECT_API_URL to use another")
        time.sleep(0.2)
    return api


def _root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _serve(port: int) -> None:
    """The server process: uvicorn without its signal handlers, ended by stdin's end."""
    import uvicorn

    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, signal.SIG_IGN)
    config = uvicorn.Config("prefect.server.api.server:create_app", factory=True,
                            host="127.0.0.1", port=port, log_level="error", lifespan="on",
                            timeout_graceful_shutdown=1)  # clients keep connections open
    server = uvicorn.Server(config)
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]

    def end() -> None:
        server.should_exit = True
        # the requests are answered by now; Prefect's services take seconds more to stop,
        # and what they hold is in the database already
        time.sleep(SHUTDOWN_S)
        os._exit(0)

    def owner_gone() -> None:
        sys.stdin.buffer.read()
        end()

    threading.Thread(target=owner_gone, daemon=True).start()
    signal.signal(CLOSE_SIGNAL, lambda *_: threading.Thread(target=end, daemon=True).start())
    server.run()


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
