"""The rebuild flow: every stage in order, each a subflow, and a markdown artifact of counts."""

from __future__ import annotations

import re
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact
from prefect.settings import temporary_settings

from kcorpus.config import load_config
from kcorpus.stages import STAGES, run_stage


# stages that talk to the network (GitHub, git remotes, model servers, the Hub) are retried
RETRIES = {"mine": 2, "synth": 2, "publish": 2}


def _stage_flow(name: str):
    @flow(name=f"kcorpus-{name}", log_prints=True, retries=RETRIES.get(name, 0),
          retry_delay_seconds=30)
    def stage(pipeline: str, workdir: str) -> dict:
        return run_stage(name, load_config(pipeline), Path(workdir))

    return stage


STAGE_FLOWS = {name: _stage_flow(name) for name in STAGES}


@flow(name="kcorpus-rebuild", log_prints=True)
def rebuild(pipeline: str, workdir: str) -> dict[str, dict]:
    cfg = load_config(pipeline)
    # Stage subflows run in this process, so the parent's heartbeat already tells a server that
    # they are alive; their own heartbeat threads would only add a join (up to 1 s) per stage.
    with temporary_settings(updates={"flows.heartbeat_frequency": None}):
        results = {name: sub(pipeline, workdir) for name, sub in STAGE_FLOWS.items()}
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
    """The rebuild as a deployment on the pipeline's cron schedule (`kcorpus serve`)."""
    cfg = load_config(pipeline)
    if cfg.schedule is None:
        raise ValueError(f"{pipeline}: no schedule: add `schedule: {{cron: '0 3 * * *'}}`")
    from prefect.client.schemas.schedules import CronSchedule

    cron = CronSchedule(cron=cfg.schedule.cron, timezone=cfg.schedule.timezone)
    return rebuild.to_deployment(name=f"kcorpus-{cfg.name}", schedules=[cron],
                                 parameters={"pipeline": str(Path(pipeline).resolve()),
                                             "workdir": str(Path(workdir).resolve())})
