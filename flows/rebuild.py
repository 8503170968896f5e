"""The rebuild flow: every stage in order, each a subflow, and a markdown artifact of counts."""

from __future__ import annotations

import re
from pathlib import Path

from prefect import flow
from prefect.artifacts import create_markdown_artifact

from kcorpus.config import load_config
from kcorpus.stages import STAGES, run_stage


def _stage_flow(name: str):
    @flow(name=f"kcorpus-{name}", log_prints=True)
    def stage(pipeline: str, workdir: str) -> dict:
        return run_stage(name, load_config(pipeline), Path(workdir))

    return stage


STAGE_FLOWS = {name: _stage_flow(name) for name in STAGES}


@flow(name="kcorpus-rebuild", log_prints=True)
def rebuild(pipeline: str, workdir: str) -> dict[str, dict]:
    cfg = load_config(pipeline)
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
            lines.append(f"| {stage} | {key} | {value} |")
    return "\n".join(lines) + "\n"
