"""The rebuild flow: every stage in order, each a subflow, and a markdown artifact of counts.

Each subflow runs its stage as one task: network stages (mine, synth, publish) with retries
and exponential backoff, and the stages that are pure functions of the catalog (dedup, publish)
cached on their inputs (kcorpus/stage_cache.py), so an unchanged rebuild skips them. Importing
it installs what the library leaves to the flows: a GPU's turns as a Prefect concurrency limit
(flows/gpu_slots.py) and the Ray runner for verification (flows/ray_runner.py).
"""

from __future__ import annotations

import contextlib
import contextvars
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import NO_CACHE, CachePolicy
from prefect.artifacts import (create_markdown_artifact, create_progress_artifact,
                               update_progress_artifact)
from prefect.settings import temporary_settings
from prefect.states import Cancelled
from prefect.tasks import exponential_backoff
from prefect.transactions import get_transaction

from flows import gpu_slots, ray_runner  # noqa: F401 - the GPU's turns, and `runner: ray`
from kcorpus import logs, progress
from kcorpus.config import load_config
from kcorpus.stage_cache import cache_key
from kcorpus.stages import STAGES, run_stage
from kcorpus.stopping import Stopped

gpu_slots.install()


# stages that talk to the network (GitHub, git remotes, model servers, the Hub) are retried,
# with exponential backoff (30 s, then 60 s); every stage is idempotent, so a retry redoes nothing
RETRIES = {"mine": 2, "synth": 2, "publish": 2}
KEEP_WHEN_CACHED = ("version", "location", "local_path")  # still true of a skipped publish


@dataclass
class RunRecord:
    """What the running rebuild has done, read by the CLI when it stops (flows/stoppable.py):
    stages finished, the stage running, and the Prefect runs still open (to cancel when a stop
    is forced before they end by themselves)."""
    finished: dict[str, dict] = field(default_factory=dict)
    stage: str | None = None
    open_runs: list[tuple[str, object]] = field(default_factory=list)  # ("flow"|"task", id)


CURRENT = RunRecord()


@contextlib.contextmanager
def _open_run(kind: str):
    from prefect import runtime

    run_id = (runtime.flow_run if kind == "flow" else runtime.task_run).id
    CURRENT.open_runs.append((kind, run_id))
    try:
        yield
    finally:
        CURRENT.open_runs.remove((kind, run_id))


@task(name="kcorpus-stage", cache_policy=NO_CACHE)
def stage_task(name: str, pipeline: str, workdir: str) -> dict:
    with _open_run("task"):
        try:
            return run_stage(name, load_config(pipeline), Path(workdir))
        except Stopped as e:  # a stop asked for by a signal: Cancelled, and never retried
            transaction = get_transaction()
            if transaction is not None:  # nor cached: Prefect would keep it as the result
                transaction.write_on_commit = False
            return Cancelled(message=f"{e} during {name}")


def _stage_key(context, parameters: dict) -> str:
    return cache_key(parameters["name"], load_config(parameters["pipeline"]),
                     Path(parameters["workdir"]))


# a cacheable stage, skipped while everything its result depends on is unchanged
cached_stage_task = stage_task.with_options(
    name="kcorpus-cached-stage", cache_policy=CachePolicy.from_cache_key_fn(_stage_key),
    persist_result=True)


def _progress_artifact(name: str):
    """A progress listener that keeps one Prefect progress artifact of stage `name` up to date.
    It is called from the stage's progress thread too, so it runs in this flow's context."""
    ctx, lock, made = contextvars.copy_context(), threading.Lock(), {}

    def listen(snap: dict) -> None:
        if snap.get("stage") != name or not snap.get("total"):
            return
        pct = min(100.0, 100.0 * snap["done"] / snap["total"])
        with lock:
            if "id" not in made:
                made["id"] = ctx.run(create_progress_artifact, pct, key=f"kcorpus-{name}-progress",
                                     description=progress.describe(snap))
            else:
                ctx.run(update_progress_artifact, made["id"], pct, description=progress.describe(snap))

    return listen


def _stage_flow(name: str):
    @flow(name=f"kcorpus-{name}", log_prints=True)
    def stage(pipeline: str, workdir: str, refresh_cache: bool = False) -> dict:
        run = stage_task
        if STAGES[name].cacheable:
            run = cached_stage_task.with_options(refresh_cache=refresh_cache or None)
        if name in RETRIES:
            run = run.with_options(retries=RETRIES[name],
                                   retry_delay_seconds=exponential_backoff(backoff_factor=30))
        t0 = time.perf_counter()
        listener = _progress_artifact(name)
        progress.LISTENERS.append(listener)
        CURRENT.stage = name
        try:
            with _open_run("flow"):
                state = run(name, pipeline, workdir, return_state=True)
        finally:
            progress.LISTENERS.remove(listener)
        if state.is_cancelled():
            return Cancelled(message=state.message)
        result = state.result()
        if state.name == "Cached":
            result = {"cached": True, **{k: result[k] for k in KEEP_WHEN_CACHED if k in result},
                      **({"new": False} if "new" in result else {})}
        result = {**result, "seconds": round(time.perf_counter() - t0, 2)}
        logs.event("INFO", name, "stage finished", result)
        return result

    return stage


STAGE_FLOWS = {name: _stage_flow(name) for name in STAGES}


@flow(name="kcorpus-rebuild", log_prints=True)
def rebuild(pipeline: str, workdir: str, refresh_cache: bool = False) -> dict[str, dict]:
    cfg = load_config(pipeline)
    CURRENT.__init__()
    # Stage subflows run in this process, so the parent's heartbeat already tells a server that
    # they are alive; their own heartbeat threads would only add a join (up to 1 s) per stage.
    with temporary_settings(updates={"flows.heartbeat_frequency": None}), _open_run("flow"):
        for name, sub in STAGE_FLOWS.items():
            state = sub(pipeline, workdir, refresh_cache, return_state=True)
            if state.is_cancelled():
                return Cancelled(message=state.message)
            CURRENT.finished[name] = state.result()
        CURRENT.stage = None
    results = dict(CURRENT.finished)
    create_markdown_artifact(
        key=re.sub(r"[^a-z0-9-]", "-", f"rebuild-{cfg.name}".lower()),
        markdown=summary_markdown(cfg.name, results),
        description=f"kcorpus rebuild of {cfg.name}",
    )
    return results


def summary_markdown(name: str, results: dict[str, dict]) -> str:
    lines = [f"# kcorpus rebuild: {name}", "", "| stage | count | value |", "|---|---|---:|"]
    for stage, counts in results.items():
        for key, value in counts.items():
            if not isinstance(value, dict):
                lines.append(f"| {stage} | {key} | {value} |")
    release = results.get("publish", {})
    if release.get("location"):
        new = "new" if release.get("new") else "unchanged, not republished"
        lines += ["", f"Release **{release.get('version')}** ({new}): "
                      f"[{release['location']}]({release['location']})"]
    return "\n".join(lines) + "\n"


def deployment(pipeline: str, workdir: str):
    """The rebuild as a deployment on the pipeline's cron schedule (what `prefect deploy` makes
    of prefect.yaml; `kcorpus serve` keeps the same schedule in one process)."""
    cfg = load_config(pipeline)
    if cfg.schedule is None:
        raise ValueError(f"{pipeline}: no schedule: add `schedule: {{cron: '0 3 * * *'}}`")
    from prefect.client.schemas.schedules import CronSchedule

    cron = CronSchedule(cron=cfg.schedule.cron, timezone=cfg.schedule.timezone)
    return rebuild.to_deployment(name=f"kcorpus-{cfg.name}", schedules=[cron],
                                 parameters={"pipeline": str(Path(pipeline).resolve()),
                                             "workdir": str(Path(workdir).resolve())})
