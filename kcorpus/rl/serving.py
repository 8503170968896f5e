"""`kcorpus serve-verifier` under uvicorn, with a clean stop on SIGTERM and SIGINT.

The first signal closes the listening socket (uvicorn's shutdown) and stops the verifier at
once (service.Verifier.stop): every candidate in flight is answered 503 with Retry-After, the
fork server and its children are killed. Uvicorn then waits at most GRACE_S for the answers to
go out. The process exits 143 (SIGTERM) or 130 (SIGINT) after one line saying how many
requests were answered; a second signal ends it at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys

import uvicorn

from kcorpus import logs, stopping

GRACE_S = 3


class StoppingServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, verifier):
        super().__init__(config)
        self.verifier = verifier
        self.signum: int | None = None

    def handle_exit(self, sig: int, frame) -> None:
        if self.signum is not None:  # a second signal: now
            self.verifier.client.close()
            _say(self.line(at_once=True))
            os._exit(stopping.exit_code(self.signum))
        self.signum = sig
        self.verifier.stop()
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self):
        """Uvicorn's, without raising the signal again at the end: the CLI exits 128 + N."""
        previous = {s: signal.signal(s, self.handle_exit) for s in stopping.SIGNALS}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def line(self, at_once: bool = False) -> str:
        v = self.verifier
        how = "at once " if at_once else ""
        return (f"serve-verifier stopped {how}by {signal.Signals(self.signum).name}: "
                f"{v.answered} candidates answered, {v.refused} in flight answered 503; "
                "start it again to serve")


def serve(app, host: str, port: int) -> tuple[int, str] | None:
    """Serve `app` until stopped; (exit code, line) after a signal, None otherwise."""
    log_config = logs.uvicorn_config() if logs.current() == "json" else uvicorn.config.LOGGING_CONFIG
    server = StoppingServer(uvicorn.Config(app, host=host, port=port, log_level="info",
                                           log_config=log_config,
                                           timeout_graceful_shutdown=GRACE_S),
                            app.state.verifier)
    server.run()
    if server.signum is None:
        return None
    return stopping.exit_code(server.signum), server.line()


def _say(line: str) -> None:
    logs.event("WARNING", None, line, human=line)
    sys.stderr.flush()
