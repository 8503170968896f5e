"""How much memory a sandboxed job may expect to use, so that the fork server admits on one GPU
only as many at once as fit (pool.PoolConfig.admit_mb).

A job's estimate comes from its problem's probe (figures.Figures, counted at the given size):

    memory_mb = BASE_MB + factor * peak / 2**20

with `factor` per kind of job: a verification holds the reference, the candidate, the
torch.compile baseline and fresh inputs for timing (VERIFY_FACTOR); a probe runs the reference
alone (PROBE_FACTOR). An Inductor generation runs nothing but the autotuning of templates
(inductor_gen.py): it holds the weights and the inputs, plus, in a template mode, the
benchmark tensors Inductor draws for one op at a time, which the peak bounds:

    inductor_mb = BASE_MB + HELD_FACTOR * (weights + given) / 2**20 [+ peak / 2**20 in a template mode]
 BASE_MB is a child's CUDA context and allocator slack. The budget is ADMIT_SHARE
of the smaller of the GPU's memory and the host's (inputs are drawn on the host first). The
host's is MemTotal unless the config gives it (`verify.host_memory_mb`): on a VM whose memory is
ballooned (the Firecracker H200 machines), MemTotal starts at a tenth of the limit and grows only
as memory is used, so the budget it gives admits a few jobs where sixteen fit.
On the CPU nothing is admitted by memory here: each child has its own address-space limit.

The factors are estimates (a verdict records the child's real peak, `gpu_peak_mb`, beside the
`memory_mb` it was admitted with): a job that runs out of memory while others ran beside it is
run again alone (pool.ForkPool), so an estimate that is too low costs time, never a verdict.
Inputs are drawn on the GPU (correctness.draw_inputs), so the host holds little more than the
weights while they are built.
"""

from __future__ import annotations

import json
import os

BASE_MB = 1024
VERIFY_FACTOR = 3
HELD_FACTOR = 1.2
PROBE_FACTOR = 3
ADMIT_SHARE = 0.8


def job_mb(figures: str | dict | None, factor: float) -> float:
    """The estimate for a job on a problem whose probe counted `figures` (JSON or a dict)."""
    fig = json.loads(figures) if isinstance(figures, str) else (figures or {})
    return round(BASE_MB + factor * float(fig.get("peak") or 0) / 2**20, 1)


def inductor_mb(figures: str | dict | None, templates: bool) -> float:
    """The estimate for an Inductor job on a problem whose probe counted `figures`."""
    fig = json.loads(figures) if isinstance(figures, str) else (figures or {})
    held = float(fig.get("weights") or 0) + float(fig.get("given") or 0)
    if not held:  # figures from before `weights`/`given` were counted: the peak bounds both
        held = float(fig.get("peak") or 0)
    tuned = float(fig.get("peak") or 0) if templates else 0.0
    return round(BASE_MB + (HELD_FACTOR * held + tuned) / 2**20, 1)


def budget_mb(device: str, host_mb: float | None = None) -> float:
    """What the running jobs' estimates may add up to on `device` (0: no admission), with the
    host's memory `host_mb` (None: MemTotal)."""
    if device != "cuda":
        return 0.0
    import torch

    gpu = torch.cuda.get_device_properties(0).total_memory / 2**20
    host = host_mb or os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20
    return round(ADMIT_SHARE * min(gpu, host), 1)
