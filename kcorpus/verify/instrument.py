"""Run-time observation of a candidate's forward (torch and triton only).

- `LaunchCounter` counts Triton kernel launches, compiled (`JITFunction.run`) or interpreted
  (`InterpretedFunction.run`).
- `OpRecorder` records the ATen ops dispatched during forward outside Triton launches, so torch
  compute done under names built at run time is still seen.
"""

from __future__ import annotations

import functools

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
    """Counts Triton launches while installed; pauses op recording during each launch."""

    def __init__(self):
        self.count = 0
        self._patched: list[tuple[type, object]] = []

    def install(self) -> LaunchCounter:
        from triton.runtime.jit import JITFunction

        classes = [JITFunction]
        try:
            from triton.runtime.interpreter import InterpretedFunction
            classes.append(InterpretedFunction)
        except ImportError:  # very old triton: no interpreter
            pass
        for cls in classes:
            original = cls.run
            self._patched.append((cls, original))
            cls.run = self._wrap(original)
        return self

    def _wrap(self, original):
        counter = self

        @functools.wraps(original)
        def run(self, *args, grid, warmup, **kwargs):
            if warmup:
                return original(self, *args, grid=grid, warmup=warmup, **kwargs)
            counter.count += 1
            with _disable_current_modes():
                return original(self, *args, grid=grid, warmup=warmup, **kwargs)

        return run

    def uninstall(self) -> None:
        for cls, original in self._patched:
            cls.run = original
        self._patched.clear()


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
