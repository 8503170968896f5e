"""One batch of verification jobs on one device: the unit of work a scale-out task runs.

Standard library and the sandbox only, so that it runs wherever a GPU is (Ray workers, GPU nodes
without Prefect). The batch goes to one sandboxed fork server; `visible_devices`, when given,
pins that server to those GPUs (CUDA_VISIBLE_DEVICES), otherwise it inherits the caller's (Ray
sets it for a task that asked for a GPU).
"""

from __future__ import annotations

import os
import socket
import time

from kcorpus.verify import sandbox


def run_batch(jobs: list[dict], limits: sandbox.Limits, device: str,
              visible_devices: str | None = None) -> dict:
    """The batch's verdicts, and where and how fast they were produced."""
    t0 = time.perf_counter()
    verdicts = list(sandbox.run_jobs(jobs, limits, device, visible_devices))
    gpus = visible_devices if visible_devices is not None else os.environ.get(
        "CUDA_VISIBLE_DEVICES", "")
    return {"verdicts": verdicts, "pid": os.getpid(), "host": socket.gethostname(),
            "gpus": gpus, "seconds": round(time.perf_counter() - t0, 3)}


def chunks(jobs: list[dict], size: int) -> list[list[dict]]:
    return [jobs[i:i + size] for i in range(0, len(jobs), size)]
