"""GPU timing of the reference (eager and torch.compile) and the candidate (torch only).

Method: the three run interleaved in one process, in a rotating order; before every timed call
the L2 cache is flushed by writing a buffer twice its size, the device is synchronised, and the
call is bracketed by CUDA events. After `warmup` untimed rounds, `trials` rounds are timed; the
median is the label and the 10th/90th percentiles, min and max are the spread.

Rounds within a budget: `trials` is an upper bound. The warmup rounds measure what one round
costs (the three calls, the flushes and the draw); the timed rounds are then as many as
`budget_s` holds, never fewer than `min_trials`: trials = clamp(budget_s / round_s, min_trials,
trials). A 1 ms kernel gets all 50 rounds in a fraction of a second; a 2 s convolution gets 10
(about 60 s under the GPU lock instead of 300 s). Warmup stops early, after one round, once it
has taken `budget_s / 4`. The rounds used are in the verdict's timing description.

Every round sees fresh input values: `get_inputs()` drawn again under the round's seed, on the
GPU (its default device set to cuda while it runs, so drawing costs microseconds), copied into
the same input buffers outside the timed region. A candidate that memoises outputs by input
address or by a few input values never sees a set twice; one that returns cached outputs is
caught because the outputs of `check_rounds` timed rounds, chosen at random, and of the last
round are returned for the caller to compare with the reference's on the same values. Where
`get_inputs()` cannot run on the GPU, up to `max_cpu_sets` sets are drawn on the CPU and
rotated (reported, so the verdict can flag it).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch

from kcorpus.verify.correctness import copy_into

SPEEDUP_AUDIT = 10.0


@dataclass(frozen=True)
class TimingConfig:
    warmup: int = 5
    trials: int = 50
    input_sets: int = 0  # kept for old jobs: every round now draws its own set
    check_rounds: int = 3
    max_cpu_sets: int = 16
    l2_flush_bytes: int = 256 * 1024 * 1024  # at least twice the L2 of an H100/H200 (50 MB)
    budget_s: float = 2.0  # timed rounds' wall time to aim for (see the module docstring)
    min_trials: int = 10
    compile_baseline: bool = True  # time torch.compile of the reference too (speedup_compile)


@dataclass
class Spread:
    median_ms: float
    p10_ms: float
    p90_ms: float
    min_ms: float
    max_ms: float


def fresh_inputs(draw_cpu: Callable[[int], list], rounds: int, device: str, max_cpu_sets: int = 16
                 ) -> tuple[Callable[[int], list], int]:
    """(draw, repeats): draw(round) gives that round's inputs on `device`; repeats is 0 when
    every round is fresh, else the number of sets rotated."""
    import torch

    def on_device(seed: int) -> list:
        with torch.device(device):
            xs = draw_cpu(seed)
        return [x.to(device) if isinstance(x, torch.Tensor) else x for x in xs]

    try:
        on_device(7_000_000)
        return (lambda rnd: on_device(7_000_000 + rnd)), 0
    except Exception:  # get_inputs() mixes devices or needs the CPU: rotate CPU-drawn sets
        t = time.perf_counter()
        first = draw_cpu(7_000_000)
        per_set = max(time.perf_counter() - t, 1e-3)
        n = max(3, min(rounds, max_cpu_sets, int(2.0 / per_set)))
        sets = [first] + [draw_cpu(7_000_000 + i) for i in range(1, n)]
        sets = [[x.to(device) if isinstance(x, torch.Tensor) else x for x in xs] for xs in sets]
        return (lambda rnd: sets[rnd % n]), n


def time_interleaved(fns: dict[str, Callable], draw: Callable[[int], list], cfg: TimingConfig,
                     check: Callable[[dict[str, object]], object]
                     ) -> tuple[dict[str, Spread], dict[int, object], int]:
    """Spreads per function, what `check` said of each sampled round's outputs (by function
    name; checked as the round ends, so no round's outputs outlive it: a GPU-sized problem's
    are gigabytes each), and the timed rounds."""
    flush = torch.empty(cfg.l2_flush_bytes // 4, dtype=torch.float32, device="cuda")
    buffers = [x.clone() if isinstance(x, torch.Tensor) else x for x in draw(0)]
    names = list(fns)
    t0, warm = time.perf_counter(), 0
    while warm < max(cfg.warmup, 1):
        _round(fns, names, warm, draw, buffers, flush, None)
        warm += 1
        if time.perf_counter() - t0 > cfg.budget_s / 4:
            break
    round_s = (time.perf_counter() - t0) / warm
    trials = min(cfg.trials, max(cfg.min_trials, int(cfg.budget_s / max(round_s, 1e-6))))
    rounds = warm + trials
    timed = range(warm, rounds)
    checked = set(random.SystemRandom().sample(timed, min(cfg.check_rounds, len(timed))))
    checked.add(rounds - 1)
    samples: dict[str, list[float]] = {n: [] for n in names}
    kept: dict[int, object] = {}
    for rnd in timed:
        times, outs = _round(fns, names, rnd, draw, buffers, flush, rnd in checked)
        for name in names:
            samples[name].append(times[name])
        if outs:
            kept[rnd] = check(outs)
            del outs
    return {n: _spread(s) for n, s in samples.items()}, kept, trials


def _round(fns, names, rnd, draw, buffers, flush, keep) -> tuple[dict, dict]:
    """One round, the functions in a rotating order: times (ms) and, if `keep`, outputs."""
    order = names[rnd % len(names):] + names[:rnd % len(names)]
    values = draw(rnd)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times, outs = {}, {}
    for name in order:
        copy_into(buffers, values)
        flush.zero_()
        torch.cuda.synchronize()
        start.record()
        out = fns[name](*buffers)
        end.record()
        torch.cuda.synchronize()
        times[name] = start.elapsed_time(end)
        if keep:
            outs[name] = _detached(out)
    return times, outs


def _detached(out):
    if isinstance(out, torch.Tensor):
        return out.detach().clone()
    if isinstance(out, (tuple, list)):
        return type(out)(_detached(x) for x in out)
    return out


def _spread(xs: list[float]) -> Spread:
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=10) if len(xs) >= 2 else [xs[0]] * 9
    return Spread(statistics.median(xs), q[0], q[-1], xs[0], xs[-1])


def describe(cfg: TimingConfig, spreads: dict[str, Spread], tf32: bool, trials: int) -> dict:
    return {"method": "cuda_events", "interleaved": True, "l2_flush_bytes": cfg.l2_flush_bytes,
            "warmup": cfg.warmup, "trials": trials, "max_trials": cfg.trials,
            "budget_s": cfg.budget_s, "fresh_inputs_per_round": True,
            "checked_rounds": cfg.check_rounds + 1,
            "tf32": tf32, "spread": {n: asdict(s) for n, s in spreads.items()}}


def fix_tf32(enabled: bool = False) -> bool:
    """Fix TF32 for matmuls and convolutions; returns the setting for the verdict."""
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
    return enabled
