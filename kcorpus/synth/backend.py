"""The interface every synthesis backend implements, and the candidate row it leads to."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, UTC
from typing import Protocol

from kcorpus.ids import code_id, content_id
from kcorpus.synth.parse import extract_program


class BackendUnavailable(RuntimeError):
    """The backend cannot run here (a package or a device is missing); says how to get it."""


@dataclass
class Completion:
    """One completion for one problem, with the generator that produced it."""

    problem_id: str
    text: str
    backend: str
    model: str
    model_revision: str = ""
    prompt_template: str = ""
    prompt_hash: str = ""
    sampling: dict = field(default_factory=dict)
    turn: int = 0
    parent_candidate_id: str | None = None
    code: str | None = None  # the program, when it is not the one in the text (reverse pairs)


class Backend(Protocol):
    name: str

    def generate(self, problems: list[dict]) -> tuple[list[Completion], list[dict]]:
        """Completions for `problems` (rows of the problems table), and reject rows."""
        ...


def candidate_row(c: Completion) -> dict:
    code = c.code if c.code is not None else extract_program(c.text)
    cid = _code_id(code, c.problem_id) if code else content_id(c.problem_id, "raw", c.text)
    return {
        "candidate_id": cid,
        "problem_id": c.problem_id,
        "code": code,
        "completion": c.text,
        "backend": c.backend,
        "model": c.model,
        "model_revision": c.model_revision,
        "prompt_template": c.prompt_template,
        "prompt_hash": c.prompt_hash,
        "sampling": json.dumps(c.sampling, sort_keys=True),
        "turn": c.turn,
        "parent_candidate_id": c.parent_candidate_id,
        "created_at": datetime.now(UTC),
    }


def _code_id(code: str, problem_id: str) -> str:
    try:
        return code_id(code, problem_id)
    except (RecursionError, MemoryError):  # too deeply nested to normalise: the text as it is
        return content_id(problem_id, code.strip())
