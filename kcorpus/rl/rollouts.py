"""RL rollouts as data: every verdict the service gives, appended to a catalog
(`kcorpus serve-verifier --catalog PATH`).

Each request becomes a `candidates` row (backend `rl-service`, the request's `model` when it
names one, the raw completion kept) and a `verdicts` row, under the candidate's content id, so
the same completion for the same problem is stored once, with the verdict it first got. A
problem sent as code that the catalog does not hold yet becomes a `problems` row (source
`rl-service`). The service is the catalog's writer while it runs; rows are written from one
thread, a batch per request.
"""

from __future__ import annotations

import platform
import threading
from datetime import UTC, datetime
from pathlib import Path

from kcorpus import schema
from kcorpus.catalog import Catalog
from kcorpus.ids import code_id
from kcorpus.synth.backend import Completion, candidate_row
from kcorpus.verify.stage import verdict_row

BACKEND = "rl-service"


class Rollouts:
    def __init__(self, path: Path, device: str):
        self.catalog = Catalog(path)
        self.device = device
        self._lock = threading.Lock()

    def record(self, problem_code: str, problem_id: str | None, completion: str, model: str,
               verdict: dict) -> str:
        """Store one rollout; its candidate id."""
        pid = problem_id or code_id(problem_code)
        row = candidate_row(Completion(problem_id=pid, text=completion, backend=BACKEND,
                                       model=model or "unknown"))
        context = {"device": verdict.get("device") or self.device,
                   "gpu_arch": verdict.get("gpu_arch") or "cpu",
                   "gpu_name": verdict.get("gpu_name") or platform.machine()}
        with self._lock, self.catalog.transaction():
            if problem_id is None:
                self.catalog.insert_new("problems", schema.table("problems").to_arrow(
                    [_problem_row(pid, problem_code)]))
            self.catalog.insert_new("candidates", schema.table("candidates").to_arrow(
                [{**row, "created_at": datetime.now(UTC)}]))
            self.catalog.insert_new("verdicts", schema.table("verdicts").to_arrow(
                [verdict_row({**verdict, "id": row["candidate_id"]}, context)]))
        return row["candidate_id"]

    def close(self) -> None:
        self.catalog.close()


def _problem_row(pid: str, code: str) -> dict:
    row = {name: None for name in schema.table("problems").column_names}
    row.update(problem_id=pid, source_id=BACKEND, origin_path="", entry_point="Model", code=code,
               inputs_origin="given", op_types=[], degenerate_flags=[])
    return row
