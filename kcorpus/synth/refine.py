"""The refine stage: up to `refine_turns` more turns for each model backend's failed attempts.

Turn t prompts, for every turn t-1 candidate of the same model and template that failed
verification (or passed but ran slower than torch.compile) and has no child yet: the problem's
chat, the model's previous answer, and the verifier's feedback (failure code and message,
error statistics, or the times). Only the last attempt is shown, which keeps the prompt short
for small models. The new candidates link to their parent and are verified before the next
turn.
"""

from __future__ import annotations

from kcorpus.catalog import Catalog
from kcorpus.config import MODEL_BACKENDS, PipelineConfig
from kcorpus.synth.backend import candidate_row
from kcorpus.synth.chat import ChatBackend, Request
from kcorpus.verify.codes import VERIFIER_VERSION
from kcorpus.verify.stage import resolve_device, verify


def refine(catalog: Catalog, cfg: PipelineConfig) -> dict[str, int]:
    from kcorpus.synth.stage import _store, make_backend

    counts = {"candidates": 0, "rejects": 0, "turns": 0}
    arch = resolve_device(cfg.verify.device)[1]
    for spec in cfg.synth.backends:
        if not isinstance(spec, MODEL_BACKENDS) or spec.refine_turns == 0:
            continue
        backend = make_backend(spec, cfg)
        for turn in range(1, spec.refine_turns + 1):
            parents = failed_parents(catalog, backend, turn - 1, arch)
            if not parents:
                continue
            requests = [refine_request(backend, p, turn) for p in parents]
            completions, rejects = backend.run(requests)
            _store(catalog, counts, [], [candidate_row(c) for c in completions], rejects)
            verify(catalog, cfg.verify)
            counts["turns"] += 1
    return counts


def failed_parents(catalog: Catalog, backend: ChatBackend, turn: int, arch: str) -> list[dict]:
    return catalog.rows(
        "SELECT c.candidate_id, c.problem_id, c.completion, p.code AS problem_code, v.passed, "
        "v.stage, v.failure_code, v.message, v.max_abs_err, v.max_rel_err, v.candidate_ms, "
        "v.compile_ms, v.speedup_compile FROM candidates c JOIN problems p USING (problem_id) "
        "JOIN verdicts v USING (candidate_id) WHERE c.backend = ? AND c.model = ? AND "
        "c.prompt_hash = ? AND c.turn = ? AND v.verifier_version = ? AND v.gpu_arch = ? AND "
        "(NOT v.passed OR v.speedup_compile < 1) AND NOT EXISTS (SELECT 1 FROM candidates k "
        "WHERE k.parent_candidate_id = c.candidate_id) ORDER BY c.candidate_id",
        [backend.name, backend.model, backend.template.hash, turn, VERIFIER_VERSION, arch])


def refine_request(backend: ChatBackend, parent: dict, turn: int) -> Request:
    t = backend.template
    chat = t.refine_chat(t.chat(reference=parent["problem_code"]), parent["completion"],
                         feedback(parent))
    return Request(parent["problem_id"], chat, turn, parent["candidate_id"])


def feedback(v: dict) -> str:
    """What the verifier found, as the model will read it."""
    if v["passed"]:
        return (f"It is correct but slower than torch.compile: {v['candidate_ms']:.4f} ms against "
                f"{v['compile_ms']:.4f} ms ({v['speedup_compile']:.2f}x). Make it faster.")
    lines = [f"Failure {v['failure_code']} at the {v['stage']} stage."]
    if v["message"]:
        lines.append(v["message"][:1500])
    if v["max_abs_err"] is not None:
        lines.append(f"Largest absolute error {v['max_abs_err']:.3g}, largest relative error "
                     f"{v['max_rel_err']:.3g}.")
    return "\n".join(lines)
