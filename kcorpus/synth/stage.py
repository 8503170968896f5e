"""The synth stage: each configured backend's completions into `candidates`, and the refine
stage: verifier feedback turns for model backends that ask for them.

A model backend prompts only problems it has no first-turn candidate for under the same model,
prompt template (by hash) and sampling, so a rebuild generates only for new problems. Backends
are built once per process and reused by the refine stage (a local model loads once).
"""

from __future__ import annotations

import json

from kcorpus import schema
from kcorpus.catalog import Catalog
from kcorpus.config import MODEL_BACKENDS, PipelineConfig
from kcorpus.config import InductorBackend as InductorSpec
from kcorpus.config import OpenAIBackend as OpenAISpec
from kcorpus.config import ReplayBackend as ReplaySpec
from kcorpus.config import TransformersBackend as TransformersSpec
from kcorpus.config import VllmBackend as VllmSpec
from kcorpus.mine.sources import source_name
from kcorpus.problems import check_problems
from kcorpus.progress import bar
from kcorpus.synth.backend import Backend, candidate_row
from kcorpus.synth.chat import ChatBackend
from kcorpus.synth.inductor import settled
from kcorpus.synth.replay import ReplayBackend
from kcorpus.synth.reverse import pending_kernels, reverse
from kcorpus.verify.stage import Verifications

_BUILT: dict[str, Backend] = {}


def make_backend(spec, cfg: PipelineConfig | None = None) -> Backend:
    key = spec.model_dump_json()
    if key not in _BUILT:
        _BUILT[key] = _build(spec, cfg)
    return _BUILT[key]


def _build(spec, cfg):
    if isinstance(spec, ReplaySpec):
        return ReplayBackend(spec.path)
    if isinstance(spec, TransformersSpec):
        from kcorpus.synth.local_hf import TransformersBackend
        return TransformersBackend(spec)
    if isinstance(spec, OpenAISpec):
        from kcorpus.synth.openai_api import OpenAIBackend
        return OpenAIBackend(spec)
    if isinstance(spec, VllmSpec):
        from kcorpus.synth.vllm_engine import VllmBackend
        return VllmBackend(spec)
    if isinstance(spec, InductorSpec):
        from kcorpus.synth.inductor import InductorBackend
        return InductorBackend(spec, cfg.verify if cfg is not None else None)
    raise ValueError(f"unknown synthesis backend {spec.kind!r}")


def synth(catalog: Catalog, cfg: PipelineConfig) -> dict[str, int]:
    """Reverse pairs first (their references are probed), then every backend's forward pass,
    so the new references are prompted forward in the same run."""
    counts = {"candidates": 0, "rejects": 0, "reverse_problems": 0}
    for spec in cfg.synth.backends:
        if isinstance(spec, MODEL_BACKENDS) and spec.reverse:
            backend = make_backend(spec, cfg)
            kernels = pending_kernels(catalog, backend, spec.max_kernels)
            probs, comps, rejects = reverse(kernels, backend, spec.reverse_template)
            counts["reverse_problems"] += _store(catalog, counts, probs,
                                                 [candidate_row(c) for c in comps], rejects)
    if counts["reverse_problems"]:
        check_problems(catalog, cfg.verify)
    problems = _in_source_order(catalog, cfg)
    with bar("synth", total=len(cfg.synth.backends)) as progress:
        for spec in cfg.synth.backends:
            backend = make_backend(spec, cfg)
            if isinstance(backend, ChatBackend):
                completions, rejects = backend.generate(problems, _prompted(catalog, backend))
            elif isinstance(spec, InductorSpec):
                _inductor(catalog, cfg, spec, backend, problems, counts)
                progress.advance()
                continue
            else:
                completions, rejects = backend.generate(problems)
            _store(catalog, counts, [], [candidate_row(c) for c in completions], rejects)
            progress.advance()
    return counts


def _inductor(catalog: Catalog, cfg: PipelineConfig, spec: InductorSpec, backend,
              problems: list[dict], counts: dict) -> None:
    """The Inductor backend's candidates for the problems it has none for under this torch;
    with `verify_as_made`, their verdicts too, written after the candidates."""
    made = catalog.rows("SELECT problem_id, prompt_template FROM candidates WHERE "
                        "backend = 'inductor' AND model = ?", [backend.model])
    failed = catalog.rows("SELECT path, item, reason, detail FROM rejects WHERE stage = 'synth' "
                          "AND item LIKE 'inductor/%'")
    done = {(r["problem_id"], r["prompt_template"]) for r in made}
    done |= settled(failed, backend.model, spec.timeout_s)
    verifier = Verifications(catalog, cfg.verify, batch=0) if spec.verify_as_made else None
    completions, rejects = backend.generate(problems, done, verifier)
    _log_answers(catalog, backend.answers)
    if backend.left:
        counts["inductor_left_for_next_run"] = backend.left
    _store(catalog, counts, [], [candidate_row(c) for c in completions], rejects)
    if verifier is not None:
        for verdict in backend.verdicts:
            verifier.record(verdict)
        made = verifier.close()
        counts.update(verdicts_as_made=made["verdicts"], passed_as_made=made["passed"])


def _in_source_order(catalog: Catalog, cfg: PipelineConfig) -> list[dict]:
    """Sound problems, those of the pipeline's first source first (then by id): where a budget
    cuts a backend short, the sources listed first are the ones covered."""
    rows = catalog.rows("SELECT problem_id, origin_path, entry_point, code, probes.figures, "
                        "probes.aten_ops, s.repo_name FROM problems "
                        "JOIN probes USING (problem_id) LEFT JOIN sources s USING (source_id) "
                        "WHERE probes.ok ORDER BY problem_id")
    rank: dict[str, int] = {}
    for i, spec in enumerate(cfg.sources):
        if (name := source_name(spec)) is not None:
            rank.setdefault(name, i)
    for r in rows:
        r["source_rank"] = rank.get(r.pop("repo_name"), len(rank))
    rows.sort(key=lambda r: r["source_rank"])  # stable: ids within
    return rows


def _log_answers(catalog: Catalog, answers: list[dict]) -> None:
    """Each Inductor job's cost, appended to `inductor_jobs.jsonl` beside the catalog: what the
    compile took per attempt and why a job gave no program (kcorpus.bench.corpus sums it)."""
    path = catalog.path.parent / "inductor_jobs.jsonl"
    with path.open("a") as f:
        for a in answers:
            f.write(json.dumps({"id": a.get("id"), "seconds": a.get("seconds"),
                                "child_rss_mb": a.get("child_rss_mb"),
                                "gpu_peak_mb": a.get("gpu_peak_mb"), "memory_mb": a.get("memory_mb"),
                                "error": (a.get("error") or a.get("message") or "")[:200],
                                "failure_code": a.get("failure_code")}) + "\n")


def _prompted(catalog: Catalog, backend: ChatBackend) -> set[str]:
    rows = catalog.rows("SELECT DISTINCT problem_id FROM candidates WHERE backend = ? AND "
                        "model = ? AND prompt_hash = ? AND sampling = ? AND turn = 0",
                        [backend.name, backend.model, backend.template.hash,
                         json.dumps(backend.sampling, sort_keys=True)])
    return {r["problem_id"] for r in rows}


def _store(catalog: Catalog, counts: dict, problems: list, candidates: list, rejects: list) -> int:
    with catalog.transaction():
        added = catalog.insert_new("problems", schema.table("problems").to_arrow(problems))
        counts["candidates"] += catalog.insert_new(
            "candidates", schema.table("candidates").to_arrow(candidates))
        counts["rejects"] += catalog.insert_new("rejects", schema.table("rejects").to_arrow(rejects))
    return added
