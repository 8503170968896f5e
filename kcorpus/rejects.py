"""Rows of the `rejects` table: what a stage dropped and why."""

from __future__ import annotations

from kcorpus.ids import content_id


def reject_row(stage: str, source_id: str, path: str, item: str, reason: str, detail: str) -> dict:
    return {
        "reject_id": content_id(stage, source_id, path, item, reason),
        "stage": stage,
        "source_id": source_id,
        "path": path,
        "item": item,
        "reason": reason,
        "detail": detail[:2000],
    }
