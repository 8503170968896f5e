"""The stages in pipeline order, each run against the catalog of a work directory.

The Prefect flow (flows/rebuild.py) and the CLI both go through `run_stage`; neither holds logic
of its own. Each stage declares what it reads and writes in the catalog, the config it depends
on. A stage that is a pure function of those (dedup, publish) is
`cacheable`: the flow runs it as a Prefect task cached on them (stage_cache.py). The others read
the world outside the catalog (repositories, model servers, the GPU) and are made incremental by
the catalog instead: each keys its work on content ids and skips what is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kcorpus import progress, stopping
from kcorpus.catalog import Catalog
from kcorpus.config import PipelineConfig
from kcorpus.dedup import dedup
from kcorpus.mine.stage import mine
from kcorpus.problems import check_problems
from kcorpus.publish.stage import publish
from kcorpus.synth.refine import refine
from kcorpus.synth.stage import synth
from kcorpus.verify.stage import verify

EVERY_TABLE = ("*",)


@dataclass(frozen=True)
class Stage:
    run: Callable[[Catalog, PipelineConfig, Path], dict]
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    config: tuple[str, ...] = ()  # config sections; () with cacheable: the whole config
    cacheable: bool = False


STAGES: dict[str, Stage] = {
    "mine": Stage(lambda cat, cfg, wd: mine(cat, cfg, wd), writes=(
        "sources", "problems", "kernels", "guesses", "rejects"), config=("sources", "mine")),
    "problems": Stage(lambda cat, cfg, wd: check_problems(cat, cfg.verify), reads=("problems",),
                      writes=("problems", "probes", "rejects"), config=("verify",)),
    "synth": Stage(lambda cat, cfg, wd: synth(cat, cfg), reads=("problems", "kernels"),
                   writes=("candidates", "problems", "rejects", "verdicts"),
                   config=("synth", "verify")),  # verdicts: synth.backends[].verify_as_made
    "verify": Stage(lambda cat, cfg, wd: verify(cat, cfg.verify), reads=("candidates",),
                    writes=("verdicts",), config=("verify",)),
    "refine": Stage(lambda cat, cfg, wd: refine(cat, cfg), reads=("candidates", "verdicts"),
                    writes=("candidates", "verdicts", "rejects"), config=("synth", "verify")),
    "dedup": Stage(lambda cat, cfg, wd: dedup(cat, cfg.dedup), cacheable=True,
                   reads=("problems", "candidates", "kernels", "verdicts"),
                   writes=("dedup", "contamination"), config=("dedup",)),
    "publish": Stage(lambda cat, cfg, wd: publish(cat, cfg, wd), cacheable=True,
                     reads=EVERY_TABLE, writes=("releases",)),
}


def catalog_path(workdir: Path) -> Path:
    return Path(workdir) / "catalog.duckdb"


def progress_path(workdir: Path) -> Path:
    """Where the running stage's progress is written (read by `kcorpus status`)."""
    return Path(workdir) / "progress.json"


def run_stage(name: str, cfg: PipelineConfig, workdir: Path) -> dict:
    """The stage's counts; `stopping.Stopped` instead once a stop was asked for (before it
    began, or while it ran: then what it finished is written and the rest waits)."""
    stopping.check()
    with Catalog(catalog_path(workdir)) as catalog, progress.tracking(progress_path(workdir), name):
        counts = STAGES[name].run(catalog, cfg, Path(workdir))
    stopping.check()
    return counts
