"""What the model backends (transformers, vllm, openai) share: chat requests built from a prompt
template, prompts rendered with the model's chat template, and completions carrying their
generator's metadata. A backend only implements `complete`: one list of `n` texts per request,
or the error that request ended with.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass

from kcorpus.rejects import reject_row
from kcorpus.synth.backend import BackendUnavailable, Completion  # noqa: F401 (re-exported)
from kcorpus.synth.prompts import Template, load_template


class GenerationError(Exception):
    """One request failed (after its retries); the others go on."""


@dataclass
class Request:
    problem_id: str
    messages: list[dict]
    turn: int = 0
    parent_candidate_id: str | None = None
    code: str | None = None  # the candidate's program when it is not the completion's (reverse)


class ChatBackend(abc.ABC):
    """The part of a model backend that does not depend on the engine; each engine implements
    `complete`."""

    name = "chat"

    def __init__(self, spec):
        self.spec = spec
        self.template: Template = load_template(spec.template)
        self.model = spec.model
        self.revision = getattr(spec, "revision", None) or ""

    @property
    def sampling(self) -> dict:
        return self.spec.sampling.model_dump()

    @abc.abstractmethod
    def complete(self, requests: list[Request]) -> list[list[str] | GenerationError]:
        """One list of `n` texts per request, or the error that request ended with."""

    def requests(self, problems: list[dict], done: set[str] = frozenset()) -> list[Request]:
        """Turn-0 requests for the first `max_problems` problems (all when unset) in the given
        order, less those in `done`: the cap is on the problems covered, so a rebuild adds
        nothing once they are."""
        chosen = problems if self.spec.max_problems is None else problems[: self.spec.max_problems]
        return [Request(p["problem_id"], self.template.chat(reference=p["code"]))
                for p in chosen if p["problem_id"] not in done]

    def generate(self, problems: list[dict], done: set[str] = frozenset()
                 ) -> tuple[list[Completion], list[dict]]:
        return self.run(self.requests(problems, done))

    def run(self, requests: list[Request], template: Template | None = None
            ) -> tuple[list[Completion], list[dict]]:
        """Complete the requests; each text becomes a Completion, each failure a reject."""
        template = template or self.template
        completions, rejects = [], []
        for req, result in zip(requests, self.complete(requests) if requests else []):
            if isinstance(result, Exception):
                rejects.append(reject_row("synth", "", req.problem_id,
                                          f"{self.name}/{self.model}/turn {req.turn}",
                                          "generation_failed", str(result)))
                continue
            completions += [Completion(req.problem_id, text, self.name, self.model, self.revision,
                                       template.id, template.hash, self.sampling, req.turn,
                                       req.parent_candidate_id, req.code) for text in result]
        return completions, rejects


def render_prompts(tokenizer, requests: list[Request]) -> list[str]:
    """Each request's chat as the model's own prompt text (its chat template)."""
    return [tokenizer.apply_chat_template(r.messages, tokenize=False, add_generation_prompt=True)
            for r in requests]


def batched(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i: i + size]
