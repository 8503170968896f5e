"""Confirm mined kernels flagged `standalone` under Triton's interpreter, in sandboxed children.

Extraction (kernels.py) flags a kernel `standalone` when its closure reads only names it defines
and imports only torch, triton and the standard library. That is checked here for real, never in
the pipeline's process: each candidate's code is loaded and its JIT functions compiled by the
interpreter (`TRITON_INTERPRET=1`) in a child of the CPU fork server (verify/kernel_check.py).
Steps: check each candidate's code (with its launchers where extraction joined them); where that
fails and there is a kernel-only closure, check that; settle `code`, `launch_site`, `standalone`,
`needs` and the id. A kernel that fails is `needs_repo`, the child's message in `needs`.
"""

from __future__ import annotations

from dataclasses import dataclass

from kcorpus.ids import code_id
from kcorpus.mine.canonical import KERNEL_ONLY
from kcorpus.verify import sandbox


@dataclass(frozen=True)
class CheckConfig:
    workers: int = 2
    timeout_s: float = 60.0
    memory_mb: int = 4096


def check_kernels(rows: list[dict], cfg: CheckConfig = CheckConfig()) -> int:
    """Check and settle kernel rows in place (every row goes through here before it is
    stored); returns how many are standalone."""
    todo = [r for r in rows if r["standalone"]]
    failed = _run(todo, lambda r: r["code"], cfg)
    retry = [r for r in failed if r.get(KERNEL_ONLY)]
    for r in retry:
        r["code"], r["launch_site"] = r[KERNEL_ONLY]
        r["kernel_id"] = code_id(r["code"], r["name"])  # its code is now the kernel alone
    failed_again = set(map(id, _run(retry, lambda r: r["code"], cfg)))
    for r in failed:
        if r.get(KERNEL_ONLY) is None or id(r) in failed_again:
            r["standalone"] = False
        else:
            r["needs"] = ""
    for r in rows:
        r.pop(KERNEL_ONLY, None)
    return sum(r["standalone"] for r in rows)


def _run(rows: list[dict], code, cfg: CheckConfig) -> list[dict]:
    """The rows whose code fails the check, `needs` set to why."""
    if not rows:
        return []
    jobs = [{"kind": "kernel_check", "id": str(i), "code": code(r), "name": r["name"],
             "device": "cpu"} for i, r in enumerate(rows)]
    limits = sandbox.Limits(timeout_s=cfg.timeout_s, memory_mb=cfg.memory_mb,
                            parallel=cfg.workers)
    why = {str(i): "no answer from the sandbox" for i in range(len(rows))}
    for answer in sandbox.run_jobs(jobs, limits, "cpu"):
        key = str(answer.get("id"))
        if key in why:
            if answer.get("ok"):
                del why[key]
            else:
                why[key] = answer.get("message") or answer.get("failure_code", "")
    for key, message in why.items():
        rows[int(key)]["needs"] = f"kernel_check: {message}"[:2000]
    return [rows[int(k)] for k in why]
