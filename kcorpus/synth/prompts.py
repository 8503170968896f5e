"""Versioned prompt templates (`kcorpus/synth/templates/NAME_vN.yaml`) and the chats built from them.

A template has a system prompt, few-shot turns written by the team, a user message with a
`{reference}` (or `{kernel}`) slot, and a `refine` message with a `{feedback}` slot. Its id is
`NAME_vN` and its hash is the sha256 of the file's bytes, both recorded on every candidate.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import yaml

TEMPLATES = Path(__file__).parent / "templates"


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Template:
    name: str
    version: int
    system: str
    few_shot: tuple[tuple[str, str], ...]
    user: str
    refine: str
    hash: str

    @property
    def id(self) -> str:
        return f"{self.name}_v{self.version}"

    def chat(self, **slots: str) -> list[dict]:
        """System prompt, few-shot turns, then the user message with its slots filled."""
        msgs = [{"role": "system", "content": self.system.strip()}]
        for user, assistant in self.few_shot:
            msgs += [{"role": "user", "content": user.strip()},
                     {"role": "assistant", "content": assistant.strip()}]
        return msgs + [{"role": "user", "content": _fill(self.user, self.id, slots).strip()}]

    def refine_chat(self, previous: list[dict], completion: str, feedback: str) -> list[dict]:
        """The previous chat, the model's answer, and the verifier's feedback on it."""
        return previous + [{"role": "assistant", "content": completion.strip()},
                           {"role": "user", "content": _fill(self.refine, self.id,
                                                             {"feedback": feedback}).strip()}]


def _fill(text: str, tid: str, slots: dict[str, str]) -> str:
    out = text
    for key, value in slots.items():
        if "{" + key + "}" not in out:
            raise TemplateError(f"template {tid} has no {{{key}}} slot")
        out = out.replace("{" + key + "}", value.strip("\n"))
    return out


def load_template(ref: str) -> Template:
    """A template by id (`triton_v1`, from the package) or by the path of a YAML file."""
    path = Path(ref) if ref.endswith((".yaml", ".yml")) else TEMPLATES / f"{ref}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in TEMPLATES.glob("*.yaml"))
        raise TemplateError(f"prompt template {ref!r} not found (known: {', '.join(known)})")
    data = path.read_bytes()
    try:
        raw = yaml.safe_load(data)
        shots = tuple((s["user"], s["assistant"]) for s in raw.get("few_shot") or [])
        return Template(raw["name"], int(raw["version"]), raw["system"], shots, raw["user"],
                        raw["refine"], hashlib.sha256(data).hexdigest()[:16])
    except (yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise TemplateError(f"{path}: not a prompt template ({type(e).__name__}: {e})") from None
