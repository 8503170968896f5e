"""`kcorpus serve-verifier`: the pipeline's verifier behind HTTP, as a reward for RL trainers.

A Starlette app on uvicorn in front of one warm sandboxed fork server (pool_client.py) with
`workers` children at a time, on the GPU when there is one, else Triton's CPU interpreter.

- `GET /healthz` -> `{"ok": true, "device", "verifier_version", "in_flight", "queue"}`
- `POST /v1/verify` `{"problem_code" | "problem_id", "candidate", "lenient"?, "model"?}` -> the
  object `kcorpus verify --json` prints, plus `reward` (reward.py's shaping); with `--catalog`
  every verdict is also stored there (rollouts.py) and the answer names its `candidate_id`
- `POST /v1/verify/batch` `{"items": [...]}` -> `{"results": [...]}`, in request order
- `POST /v1/openrlhf` `{"query": [...], "prompts": [...], "labels": [...]}` -> `{"rewards"}`:
  OpenRLHF's `--remote_rm_url` protocol; each label is a problem_id (or a reference program),
  each query the prompt followed by the completion (the prompt is cut off when it is a prefix)

Errors are `{"error": "..."}`: 400 malformed JSON or a missing or mistyped field, 401 without
the bearer token (`--token-env NAME` names the variable holding it), 404 an unknown
`problem_id`, 413 a body over `max_body_bytes`, 429 with `Retry-After` when accepting the
request would put more than `queue` candidates in flight, 503 with `Retry-After` once the
service is stopping (SIGTERM or SIGINT, serving.py): the candidates still in flight get it
too. A candidate that crashes, hangs or exhausts memory ends its own forked child only; its
request gets that verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from kcorpus.rl.pool_client import PoolClient
from kcorpus.rl.reward import Shaping, reward
from kcorpus.verify import sandbox
from kcorpus.verify.codes import VERIFIER_VERSION
from kcorpus.verify.single import make_job, result


@dataclass
class ServiceConfig:
    device: str = "cpu"  # resolved: cpu or cuda
    workers: int = 2
    queue: int = 64  # candidates in flight (running or waiting for a child) at most
    timeout_s: float = 120.0
    trials: int = 5
    max_body_bytes: int = 1 << 20
    token: str | None = None
    problems: dict[str, str] = field(default_factory=dict)  # problem_id -> reference program
    shaping: Shaping = field(default_factory=Shaping)
    catalog: Path | None = None  # every verdict appended there (rollouts.py)


class BadRequest(Exception):
    def __init__(self, status: int, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status, self.headers = status, headers or {}


class ServiceStopping(Exception):
    """A candidate in flight when the service was told to stop."""


def _stopping() -> BadRequest:
    return BadRequest(503, "the service is stopping; send the request again to a running one",
                      {"Retry-After": "5"})


def load_release_problems(path: Path) -> dict[str, str]:
    """problem_id -> code from a release's `problems` config (a release directory)."""
    import pyarrow.parquet as pq

    files = sorted(Path(path).glob("problems/*.parquet"))
    if not files:
        raise ValueError(f"{path}: no problems/*.parquet here (a release directory?)")
    return {r["problem_id"]: r["code"] for f in files
            for r in pq.read_table(f, columns=["problem_id", "code"]).to_pylist()}


class Verifier:
    """Requests to verdicts: admission against the queue, then the fork server."""

    def __init__(self, cfg: ServiceConfig):
        self.cfg = cfg
        self.client = PoolClient(sandbox.Limits(timeout_s=cfg.timeout_s, parallel=cfg.workers),
                                 cfg.device)
        self.in_flight = 0
        self.stopping = False
        self.answered = self.refused = 0  # verdicts given; requests refused while stopping
        self.rollouts = None
        if cfg.catalog is not None:
            from kcorpus.rl.rollouts import Rollouts

            self.rollouts = Rollouts(cfg.catalog, cfg.device)

    def stop(self) -> None:
        """The service is stopping: candidates in flight and requests still to come are
        answered 503 at once, and the fork server with its children is killed."""
        self.stopping = True
        self.client.abandon(ServiceStopping())

    def admit(self, n: int) -> None:
        if self.stopping:
            raise _stopping()
        if self.in_flight + n > self.cfg.queue:
            raise BadRequest(429, f"{self.in_flight} candidates in flight; the queue holds "
                             f"{self.cfg.queue}", {"Retry-After": "1"})
        self.in_flight += n

    async def run(self, items: list, batch: bool = True) -> list[dict]:
        """Answers for `items`, in order. Every item is checked before any takes a place in
        the queue, so a bad one refuses the whole request and nothing runs."""
        jobs = [self.job(item, i if batch else None) for i, item in enumerate(items)]
        self.admit(len(jobs))
        return list(await asyncio.gather(*(self.verify(j, item) for j, item in zip(jobs, items))))

    async def verify(self, job: dict, item: dict) -> dict:
        try:
            verdict = await asyncio.wrap_future(self.client.submit(job))
        except ServiceStopping:
            self.refused += 1
            raise _stopping() from None
        finally:
            self.in_flight -= 1
        self.answered += 1
        out = result(verdict)
        out["reward"] = reward(out, self.cfg.shaping)
        if self.rollouts is not None:
            out["candidate_id"] = await asyncio.to_thread(
                self.rollouts.record, job["problem_code"], item.get("problem_id"),
                item["candidate"], str(item.get("model") or ""), verdict)
        return out

    def job(self, item: dict, index: int | None = None) -> dict:
        where = "" if index is None else f"items[{index}]: "
        if not isinstance(item, dict):
            raise BadRequest(400, f"{where}expected an object")
        candidate = item.get("candidate")
        if not isinstance(candidate, str):
            raise BadRequest(400, f"{where}'candidate' (a string) is required")
        lenient = item.get("lenient", False)
        if not isinstance(lenient, bool):
            raise BadRequest(400, f"{where}'lenient' must be true or false")
        return make_job("request", self.problem(item, where), candidate, self.cfg.device,
                        lenient, self.cfg.trials)

    def problem(self, item: dict, where: str = "") -> str:
        code, pid = item.get("problem_code"), item.get("problem_id")
        if isinstance(code, str) and code.strip():
            return code
        if isinstance(pid, str):
            if pid not in self.cfg.problems:
                raise BadRequest(404, f"{where}unknown problem_id {pid!r}"
                                 + ("" if self.cfg.problems else " (no --release was given)"))
            return self.cfg.problems[pid]
        raise BadRequest(400, f"{where}'problem_code' or 'problem_id' (a string) is required")


def create_app(cfg: ServiceConfig) -> Starlette:
    verifier = Verifier(cfg)

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "device": cfg.device, "verifier_version":
                             VERIFIER_VERSION, "in_flight": verifier.in_flight,
                             "queue": cfg.queue})

    async def verify_one(request: Request) -> JSONResponse:
        body = await _body(request, cfg)
        return JSONResponse((await verifier.run([body], batch=False))[0])

    async def verify_batch(request: Request) -> JSONResponse:
        body = await _body(request, cfg)
        items = body.get("items")
        if not isinstance(items, list) or not items:
            raise BadRequest(400, "'items' (a non-empty list) is required")
        return JSONResponse({"results": await verifier.run(items)})

    async def openrlhf(request: Request) -> JSONResponse:
        body = await _body(request, cfg)
        results = await verifier.run(openrlhf_items(body))
        return JSONResponse({"rewards": [r["reward"] for r in results]})

    app = Starlette(routes=[Route("/healthz", healthz), Route("/v1/verify", verify_one,
                                                             methods=["POST"]),
                            Route("/v1/verify/batch", verify_batch, methods=["POST"]),
                            Route("/v1/openrlhf", openrlhf, methods=["POST"])],
                    exception_handlers={BadRequest: _refused}, lifespan=_lifespan(verifier))
    app.state.verifier = verifier
    return app


def _lifespan(verifier: Verifier):
    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        verifier.client.close()  # the fork server and its children end with the service
        if verifier.rollouts is not None:
            verifier.rollouts.close()

    return lifespan


def openrlhf_items(body: dict) -> list[dict]:
    queries, labels = body.get("query"), body.get("labels")
    prompts = body.get("prompts") or [""] * len(queries or [])
    if not isinstance(queries, list) or not isinstance(labels, list) or len(queries) != len(labels):
        raise BadRequest(400, "'query' and 'labels' (lists of the same length) are required")
    items = []
    for q, p, label in zip(queries, prompts, labels):
        if not isinstance(q, str) or not isinstance(label, str):
            raise BadRequest(400, "each query and label must be a string")
        completion = q[len(p):] if isinstance(p, str) and p and q.startswith(p) else q
        key = "problem_code" if "class Model" in label else "problem_id"
        items.append({"candidate": completion, key: label})
    return items


async def _body(request: Request, cfg: ServiceConfig) -> dict:
    _authorise(request, cfg)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > cfg.max_body_bytes:
        raise BadRequest(413, f"body of {declared} bytes; the limit is {cfg.max_body_bytes}")
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > cfg.max_body_bytes:
            raise BadRequest(413, f"body over the limit of {cfg.max_body_bytes} bytes")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise BadRequest(400, f"malformed JSON: {e}") from None
    if not isinstance(body, dict):
        raise BadRequest(400, "the body must be a JSON object")
    return body


def _authorise(request: Request, cfg: ServiceConfig) -> None:
    if cfg.token is None:
        return
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {cfg.token}".encode()):
        raise BadRequest(401, "a bearer token is required (Authorization: Bearer ...)",
                         {"WWW-Authenticate": "Bearer"})


async def _refused(request: Request, exc: BadRequest) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=exc.status, headers=exc.headers)


def token_from_env(name: str | None) -> str | None:
    if name is None:
        return None
    value = os.environ.get(name)
    if not value:
        raise ValueError(f"--token-env {name}: the variable is not set")
    return value
