"""The replay backend: completions recorded elsewhere, one JSON object per line.

Each line names its problem by `problem_id`, or by `path` (the file inside the source) and
optionally `entry_point`, and carries `completion` and optionally `model` and `sampling`. Lines
that are not valid JSON, lack a field or name no known problem become rejects.
"""

from __future__ import annotations

import json
from pathlib import Path

from kcorpus.rejects import reject_row
from kcorpus.synth.backend import Completion

_FIELDS = {"problem_id", "path", "entry_point", "completion", "model", "sampling", "expect", "note"}
_TYPES = {"problem_id": str, "path": str, "entry_point": str, "model": str, "sampling": dict}


class ReplayBackend:
    name = "replay"

    def __init__(self, path: Path):
        self.path = Path(path)

    def generate(self, problems: list[dict]) -> tuple[list[Completion], list[dict]]:
        by_id = {p["problem_id"]: p for p in problems}
        by_path: dict[str, list[dict]] = {}
        for p in problems:
            by_path.setdefault(p["origin_path"], []).append(p)
        out, rejects = [], []
        for n, line in enumerate(self.path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            where = f"{self.path.name}:{n}"
            try:
                rec = _record(line)
                targets = _targets(rec, by_id, by_path)
            except ValueError as e:
                rejects.append(reject_row("synth", "", where, "", "bad_replay_record", str(e)))
                continue
            out += [Completion(p["problem_id"], rec["completion"], "replay",
                               rec.get("model", "unknown"), sampling=rec.get("sampling", {}),
                               prompt_template="replay")
                    for p in targets]
        return out, rejects


def _record(line: str) -> dict:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON: {e}") from None
    if not isinstance(rec, dict) or not isinstance(rec.get("completion"), str):
        raise ValueError("expected an object with a string 'completion'")
    if unknown := set(rec) - _FIELDS:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    for name, want in _TYPES.items():
        if name in rec and not isinstance(rec[name], want):
            raise ValueError(f"'{name}' must be {'an object' if want is dict else 'a string'}, "
                             f"got {json.dumps(rec[name])[:100]}")
    return rec


def _targets(rec: dict, by_id: dict, by_path: dict) -> list[dict]:
    if "problem_id" in rec:
        if rec["problem_id"] not in by_id:
            raise ValueError(f"no problem {rec['problem_id']}")
        return [by_id[rec["problem_id"]]]
    if "path" not in rec:
        raise ValueError("needs 'problem_id' or 'path'")
    found = [p for p in by_path.get(rec["path"], [])
             if rec.get("entry_point") in (None, p["entry_point"])]
    if not found:
        raise ValueError(f"no problem mined from {rec['path']}")
    return found
