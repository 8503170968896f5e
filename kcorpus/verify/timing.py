"""GPU timing of the reference (eager and torch.compile) and the candidate (torch only).

Method: the three run interleaved in one process, in a rotating order; before every timed call
the L2 cache is flushed by writing a buffer twice its size, the device is synchronised, and the
call is bracketed by CUDA events. After `warmup` untimed rounds, `trials` rounds are timed; the
median is the label and the 10th/90th percentiles, min and max are the spread. Before every
call the values of one of `input_sets` sets are copied into the same input buffers (outside the
timed region), so a candidate that caches results by input address returns stale outputs; the
outputs of the last round are returned for the caller to compare.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from kcorpus.verify.correctness import copy_into

SPEEDUP_AUDIT = 10.0


@dataclass(frozen=True)
class TimingConfig:
    warmup: int = 5
    trials: int = 50
    input_sets: int = 3
    l2_flush_bytes: int = 256 * 1024 * 1024  # at least twice the L2 of an H100/H200 (50 MB)


@dataclass
class Spread:
    median_ms: float
    p10_ms: float
    p90_ms: float
    min_ms: float
    max_ms: float


def time_interleaved(fns: dict[str, Callable], input_sets: list[list], cfg: TimingConfig
                     ) -> tuple[dict[str, Spread], dict[str, object]]:
    flush = torch.empty(cfg.l2_flush_bytes // 4, dtype=torch.float32, device="cuda")
    buffers = [x.clone() if isinstance(x, torch.Tensor) else x for x in input_sets[0]]
    names = list(fns)
    samples: dict[str, list[float]] = {n: [] for n in names}
    last: dict[str, object] = {}
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    rounds = cfg.warmup + cfg.trials
    for rnd in range(rounds):
        order = names[rnd % len(names):] + names[:rnd % len(names)]
        values = input_sets[rnd % len(input_sets)]
        for name in order:
            copy_into(buffers, values)
            flush.zero_()
            torch.cuda.synchronize()
            start.record()
            out = fns[name](*buffers)
            end.record()
            torch.cuda.synchronize()
            if rnd >= cfg.warmup:
                samples[name].append(start.elapsed_time(end))
            if rnd == rounds - 1:
                last[name] = out
    return {n: _spread(s) for n, s in samples.items()}, last


def _spread(xs: list[float]) -> Spread:
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=10) if len(xs) >= 2 else [xs[0]] * 9
    return Spread(statistics.median(xs), q[0], q[-1], xs[0], xs[-1])


def describe(cfg: TimingConfig, spreads: dict[str, Spread], tf32: bool) -> dict:
    return {"method": "cuda_events", "interleaved": True, "l2_flush_bytes": cfg.l2_flush_bytes,
            "warmup": cfg.warmup, "trials": cfg.trials, "input_sets": cfg.input_sets,
            "tf32": tf32, "spread": {n: asdict(s) for n, s in spreads.items()}}


def fix_tf32(enabled: bool = False) -> bool:
    """Fix TF32 for matmuls and convolutions; returns the setting for the verdict."""
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
    return enabled
