"""The verify stage: a verdict for every candidate that has none for this verifier and device.
On the CPU, candidates are checked at the batch their problem's probe was checked at, and those
of problems too large for the CPU (`too_large_for_cpu`) wait for a GPU with no verdict.

Static checks run here (AST only); candidates that pass them go to one sandboxed fork server
that checks `workers` of them at a time, each in its own forked process, holding one of the
GPU's turns (gpu_slots.py). With `runner: ray` they go to the runner registered under that name
instead (`RUNNERS`; the flows register a Ray cluster, one task per GPU: flows/ray_runner.py).
Either way verdicts are written here, in small batches as they arrive, so a stage killed
half-way keeps what it finished and a rerun verifies only the rest.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
from collections.abc import Callable, Iterator
from datetime import datetime, UTC

from kcorpus import schema
from kcorpus.catalog import Catalog
from kcorpus.config import VerifyConfig
from kcorpus.progress import bar
from kcorpus.verify import admission, gpu_slots, sandbox, static
from kcorpus.verify.codes import VERIFIER_VERSION

BATCH = 8
# runner name -> (jobs, limits, device, cfg) -> verdicts in completion order; "local" is built in
Runner = Callable[[list[dict], sandbox.Limits, str, VerifyConfig], Iterator[dict]]
RUNNERS: dict[str, Runner] = {}
GENERATED = {"inductor": "inductor"}  # backends whose programs kcorpus generates itself


def resolve_device(device: str) -> tuple[str, str, str]:
    """(device, gpu_arch, gpu_name) for 'cpu', 'cuda' or 'auto'."""
    if device not in ("cpu", "cuda", "auto"):
        raise ValueError(f"device {device!r}: expected cpu, cuda or auto")
    if device == "cpu":  # no torch import: a rebuild with nothing new to verify stays cheap
        return "cpu", "cpu", platform.processor() or platform.machine()
    import torch

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("verify.device is 'cuda' but no CUDA GPU is visible")
        major, minor = torch.cuda.get_device_capability()
        return "cuda", f"sm_{major}{minor}", torch.cuda.get_device_name()
    return "cpu", "cpu", platform.processor() or platform.machine()


def pending(catalog: Catalog, arch: str) -> list[dict]:
    """Candidates without a verdict, the biggest problems (bytes their reference moved) first:
    longest jobs first keeps one slow candidate from running alone at the end of the stage."""
    return catalog.rows(
        "SELECT c.candidate_id, c.code, c.backend, p.code AS problem_code, pr.checked_on, "
        "pr.checked_inputs, pr.figures FROM candidates c "
        "JOIN problems p USING (problem_id) LEFT JOIN probes pr USING (problem_id) "
        "WHERE NOT EXISTS (SELECT 1 FROM verdicts v WHERE v.candidate_id = c.candidate_id "
        "AND v.verifier_version = ? AND v.gpu_arch = ?) "
        "ORDER BY pr.bytes_moved DESC NULLS LAST, c.candidate_id", [VERIFIER_VERSION, arch])


def in_order(todo: list[dict], cfg: VerifyConfig) -> list[dict]:
    """Pending candidates (biggest first) in the order `cfg.order` runs them."""
    if cfg.order == "cheapest":  # stable: biggest-first order within equal estimates
        return sorted(todo, key=lambda r: admission.job_mb(r["figures"], admission.VERIFY_FACTOR))
    return todo


def verify(catalog: Catalog, cfg: VerifyConfig) -> dict[str, int]:
    out = Verifications(catalog, cfg)
    todo = in_order(pending(catalog, out.arch), cfg)
    if out.device == "cpu":  # a problem the CPU could not check waits for a GPU, unverified
        waiting = [r for r in todo if r["checked_on"] == ""]
        todo = [r for r in todo if r["checked_on"] != ""]
    with bar(f"verify ({out.device})", total=len(todo)) as progress:
        jobs = []
        for row in todo:
            if (job := out.job(row)) is not None:
                jobs.append(job)
            else:
                progress.advance()
        answered = 0
        for verdict in _run(jobs, out.limits, out.device, cfg):
            out.record(verdict)
            answered += 1
            progress.advance()
    counts = out.close()
    if answered < len(jobs):  # a budget ran out (or the server died): the rest wait
        counts["left_for_next_run"] = len(jobs) - answered
    if out.device == "cpu" and waiting:
        counts["waiting_for_gpu"] = len(waiting)
    return counts


class Verifications:
    """Verdicts for one verifier and device, written in small batches as they arrive: the
    verify stage's, and those of candidates verified as they are made (synth/inductor.py)."""

    def __init__(self, catalog: Catalog, cfg: VerifyConfig, batch: int = BATCH):
        """`batch` verdicts are written at a time; 0: all at `close` (for a caller that stores
        the candidates first)."""
        self.catalog, self.cfg, self.batch = catalog, cfg, batch
        self.device, self.arch, gpu_name = resolve_device(cfg.device)
        self.context = _context(self.device, self.arch, gpu_name)
        self.limits = sandbox.Limits.from_config(cfg, self.device)
        self.counts = {"verdicts": 0, "passed": 0}
        self._rows: list[dict] = []

    def job(self, row: dict) -> dict | None:
        """The fork server's job for a pending candidate (a `pending` row), or None when its
        static checks failed: then that is its verdict, recorded here."""
        cfg = self.cfg
        generated = GENERATED.get(row["backend"], "")
        result = static.check(row["code"], lenient=cfg.lenient, generated=generated)
        if not result.passed:
            self.record({"id": row["candidate_id"], "passed": False, "stage": "static",
                         "failure_code": result.failure_code, "message": result.message,
                         "static_flags": result.flags, "torch_ops": result.torch_ops})
            return None
        return {"id": row["candidate_id"], "problem_code": row["problem_code"],
                "candidate_code": row["code"], "device": self.device,
                "trials": cfg.trials, "seed": 1, "lenient": cfg.lenient,
                "forward_timeout_s": cfg.forward_timeout_s,
                "timing": {"budget_s": cfg.timing_budget_s,
                           "compile_baseline": cfg.compile_baseline},
                "generated": generated, **_cut(row, self.device),
                "memory_mb": admission.job_mb(row["figures"], admission.VERIFY_FACTOR)}

    def record(self, verdict: dict) -> None:
        self._rows.append(verdict_row(verdict, self.context))
        self.counts["passed"] += bool(verdict.get("passed"))
        if self.batch and len(self._rows) >= self.batch:
            self.counts["verdicts"] += _flush(self.catalog, self._rows)

    def close(self) -> dict[str, int]:
        """Writes what is left; the counts."""
        self.counts["verdicts"] += _flush(self.catalog, self._rows)
        return dict(self.counts)


def _cut(row: dict, device: str) -> dict:
    """On the CPU, the smaller batch the problems stage checked the problem at (probe.Cut)."""
    if device != "cpu" or not row["checked_inputs"]:
        return {}
    return {"cut": json.loads(row["checked_inputs"])}


def _run(jobs: list[dict], limits: sandbox.Limits, device: str, cfg: VerifyConfig):
    """Verdicts in completion order: from a local fork server, or from a Ray cluster."""
    if not jobs:
        return
    if cfg.runner != "local":
        if cfg.runner not in RUNNERS:
            raise RuntimeError(f"verify.runner is {cfg.runner!r}, which only the flows provide: "
                               "run it through `kcorpus rebuild` (flows/rebuild.py)")
        yield from RUNNERS[cfg.runner](jobs, limits, device, cfg)
        return
    with gpu_slots.hold_gpu(device, cfg.gpu_slots):
        yield from sandbox.run_jobs(jobs, limits, device, budget_s=cfg.budget_s,
                                    deadline_s=cfg.deadline_s)


def _flush(catalog: Catalog, rows: list[dict]) -> int:
    n = catalog.insert_new("verdicts", schema.table("verdicts").to_arrow(rows))
    rows.clear()
    return n


def _context(device: str, arch: str, gpu_name: str) -> dict:
    return {"device": device, "gpu_arch": arch, "gpu_name": gpu_name,
            "interpreter": device == "cpu", "torch_version": _version("torch"),
            "triton_version": _version("triton"), "driver": "", "tf32": False}


def _version(package: str) -> str:
    """The installed version, read from package metadata rather than by importing it."""
    return importlib.metadata.version(package)


def verdict_row(v: dict, context: dict) -> dict:
    """A worker's verdict as a `verdicts` row; fields the worker did not report come from here."""
    row = {name: None for name in schema.table("verdicts").column_names}
    row.update(context)
    row.update({k: v[k] for k in row if k in v and v[k] is not None})
    row.update(candidate_id=v["id"], verifier_version=VERIFIER_VERSION,
               gpu_arch=context["gpu_arch"], verified_at=datetime.now(UTC))
    for name in ("static_flags", "torch_ops", "flags"):
        row[name] = row[name] or []
    if isinstance(row["phase_seconds"], dict):
        row["phase_seconds"] = json.dumps(row["phase_seconds"])
    return row
