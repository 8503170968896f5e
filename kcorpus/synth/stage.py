"""The synth stage: each configured backend's completions into `candidates`."""

from __future__ import annotations

from kcorpus import schema
from kcorpus.catalog import Catalog
from kcorpus.config import PipelineConfig, ReplayBackend as ReplaySpec
from kcorpus.progress import bar
from kcorpus.synth.backend import Backend, candidate_row
from kcorpus.synth.replay import ReplayBackend


def make_backend(spec) -> Backend:
    if isinstance(spec, ReplaySpec):
        return ReplayBackend(spec.path)
    raise ValueError(f"unknown synthesis backend {spec.kind!r}")


def synth(catalog: Catalog, cfg: PipelineConfig) -> dict[str, int]:
    problems = catalog.rows("SELECT problem_id, origin_path, entry_point, code FROM problems "
                            "JOIN probes USING (problem_id) WHERE probes.ok")
    counts = {"candidates": 0, "rejects": 0}
    with bar("synth", total=len(cfg.synth.backends)) as progress:
        for spec in cfg.synth.backends:
            completions, rejects = make_backend(spec).generate(problems)
            rows = [candidate_row(c) for c in completions]
            with catalog.transaction():
                counts["candidates"] += catalog.insert_new(
                    "candidates", schema.table("candidates").to_arrow(rows))
                counts["rejects"] += catalog.insert_new(
                    "rejects", schema.table("rejects").to_arrow(rejects))
            progress.advance()
    return counts
