"""The stages in pipeline order, each run against the catalog of a work directory.

The Prefect flow (flows/rebuild.py) and the CLI both go through `run_stage`; neither holds logic
of its own.
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Callable

from kcorpus.catalog import Catalog
from kcorpus.config import PipelineConfig
from kcorpus.dedup import dedup
from kcorpus.mine.stage import mine
from kcorpus.problems import check_problems
from kcorpus.publish.stage import publish
from kcorpus.synth.refine import refine
from kcorpus.synth.stage import synth
from kcorpus.verify.stage import verify

STAGES: dict[str, Callable[[Catalog, PipelineConfig, Path], dict]] = {
    "mine": lambda cat, cfg, wd: mine(cat, cfg, wd),
    "problems": lambda cat, cfg, wd: check_problems(cat, cfg.verify),
    "synth": lambda cat, cfg, wd: synth(cat, cfg),
    "verify": lambda cat, cfg, wd: verify(cat, cfg.verify),
    "refine": lambda cat, cfg, wd: refine(cat, cfg),
    "dedup": lambda cat, cfg, wd: dedup(cat, cfg.dedup),
    "publish": lambda cat, cfg, wd: publish(cat, cfg, wd),
}


def catalog_path(workdir: Path) -> Path:
    return Path(workdir) / "catalog.duckdb"


def run_stage(name: str, cfg: PipelineConfig, workdir: Path) -> dict:
    with Catalog(catalog_path(workdir)) as catalog:
        return STAGES[name](catalog, cfg, Path(workdir))
