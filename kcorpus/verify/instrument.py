"""Run-time observation of a candidate's forward (torch and triton only).

- `LaunchCounter` counts Triton kernel launches, compiled (`JITFunction.run`) or interpreted
  (`InterpretedFunction.run`).
- `OpRecorder` records the ATen ops dispatched during forward outside Triton launches, so torch
  compute done under names built at run time is still seen.
"""

from __future__ import annotations

import functools
import signal
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode, _disable_current_modes

# ATen ops that allocate, view, copy or describe tensors: a Triton program needs them
LAYOUT_ATEN = {
    "empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "zeros",
    "zeros_like", "new_zeros", "ones", "ones_like", "new_ones", "full", "full_like", "new_full",
    "fill", "fill_", "zero_", "view", "_unsafe_view", "reshape", "_reshape_alias", "permute",
    "transpose", "t", "expand", "contiguous", "clone", "copy_", "_to_copy", "to", "as_strided",
    "squeeze", "unsqueeze", "flatten", "unflatten", "select", "slice", "split", "split_with_sizes",
    "chunk", "unbind", "narrow", "detach", "alias", "lift_fresh", "lift_fresh_copy", "arange",
    "set_", "resize_", "is_same_size", "_local_scalar_dense", "scalar_tensor", "movedim",
    "view_as", "expand_as", "numpy_T", "item", "is_nonzero", "unfold",
}


class LaunchCounter:
    """Counts Triton launches while installed, and the time spent inside launches, compiles and
    autotuning; pauses op recording during each launch."""

    def __init__(self):
        self.count = 0
        self.depth = 0
        self.launch_seconds = 0.0
        self._entered = 0.0
        self._patched: list[tuple[type, object]] = []

    def install(self, inductor: bool = False) -> LaunchCounter:
        """Patch Triton's launch paths; with `inductor`, also Inductor's own launcher
        (CachingAutotuner runs compiled kernels without going through JITFunction.run)."""
        from triton.runtime.autotuner import Autotuner, Heuristics
        from triton.runtime.jit import JITFunction

        kernels = [JITFunction]
        if inductor:
            from torch._inductor.runtime.triton_heuristics import CachingAutotuner
            kernels.append(CachingAutotuner)
        try:
            from triton.runtime.interpreter import InterpretedFunction
            kernels.append(InterpretedFunction)
        except ImportError:  # very old triton: no interpreter
            pass
        for cls, counts in [(k, True) for k in kernels] + [(Autotuner, False), (Heuristics, False)]:
            original = cls.run
            self._patched.append((cls, original))
            cls.run = self._wrap(original, counts)
        return self

    def _wrap(self, original, counts: bool):
        counter = self

        @functools.wraps(original)
        def run(self, *args, **kwargs):
            if kwargs.get("warmup"):
                return original(self, *args, **kwargs)
            counter.count += counts
            counter._enter()
            try:
                with _disable_current_modes():
                    return original(self, *args, **kwargs)
            finally:
                counter._exit()

        return run

    def _enter(self) -> None:
        if self.depth == 0:
            self._entered = time.perf_counter()
        self.depth += 1

    def _exit(self) -> None:
        self.depth -= 1
        if self.depth == 0:
            self.launch_seconds += time.perf_counter() - self._entered

    def launch_time(self) -> float:
        """Seconds spent in launches so far, the one in progress included."""
        running = time.perf_counter() - self._entered if self.depth else 0.0
        return self.launch_seconds + running

    def uninstall(self) -> None:
        for cls, original in self._patched:
            cls.run = original
        self._patched.clear()


class CandidateHang(Exception):
    """forward ran too long in its own Python, outside Triton launches and compiles."""


class ForwardWatchdog:
    """Raises CandidateHang inside forward once it has spent `limit_s` seconds of its own
    Python outside Triton launches (compiles and autotuning count as launches). A loop that
    never ends is caught in seconds instead of at the sandbox's time limit."""

    def __init__(self, counter: LaunchCounter, limit_s: float, tick_s: float = 0.25):
        self.counter, self.limit_s, self.tick_s = counter, limit_s, tick_s

    def __enter__(self) -> ForwardWatchdog:
        self.start, self.launch0 = time.perf_counter(), self.counter.launch_time()
        self.previous = signal.signal(signal.SIGALRM, self._tick)
        signal.setitimer(signal.ITIMER_REAL, self.tick_s, self.tick_s)
        return self

    def _tick(self, *_) -> None:
        if self.counter.depth:
            return
        own = time.perf_counter() - self.start - (self.counter.launch_time() - self.launch0)
        if own > self.limit_s:
            raise CandidateHang(f"forward ran {own:.1f}s of its own Python outside Triton "
                                f"launches (limit {self.limit_s:.0f}s): a loop that never ends?")

    def __exit__(self, *exc) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, self.previous)


class OpRecorder(TorchDispatchMode):
    """Records the ATen op names dispatched while active (Triton launches excluded)."""

    def __init__(self):
        super().__init__()
        self.ops: set[str] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.add(func._schema.name.split("::")[-1])
        return func(*args, **(kwargs or {}))

    def compute_ops(self) -> list[str]:
        return sorted(op for op in self.ops if op.rstrip("_") not in LAYOUT_ATEN
                      and op not in LAYOUT_ATEN)


def no_grad_forward(model: torch.nn.Module, inputs: list):
    with torch.no_grad():
        return model(*inputs)
