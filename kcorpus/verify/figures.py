"""What one forward of a reference costs, counted without running it where torch allows.

`shape_pass` builds the model and draws its inputs under FakeTensorMode and runs forward there:
tensors carry shapes, dtypes and devices but no data, so a forward sized for a GPU costs
milliseconds and no memory. `real_pass` counts the same figures over a real forward, for the
programs the fake pass cannot run (data-dependent shapes, values read to the host, NumPy).

The figures (`Figures`):
- `aten_ops`: ATen compute ops the forward dispatched (layout ops and `prim::` left out);
- `flops`: torch.utils.flop_counter's count (matmuls, convolutions, attention); None if none;
- `bytes_moved`: bytes of the inputs, parameters, buffers and outputs, a lower bound of traffic;
- `traffic`: bytes every compute op read and wrote, summed (what bounds an elementwise forward);
- `peak`: the most tensor bytes alive at once: inputs, weights, and every op's fresh output
  until the tensor is freed (outputs that alias an argument, views and in-place ops, add none);
- `weights`: bytes of the parameters and buffers (what building the model writes);
- `given`: bytes of the inputs.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from kcorpus.verify.correctness import clone_all, flatten
from kcorpus.verify.instrument import LAYOUT_ATEN


@dataclass
class Figures:
    aten_ops: list[str]
    flops: int | None
    bytes_moved: int
    traffic: int
    peak: int
    weights: int
    given: int  # bytes of the inputs
    scalar_output: bool
    via: str  # "fake" or "real"

    def as_dict(self) -> dict:
        return asdict(self)


class Counter(TorchDispatchMode):
    """Counts compute ops, their traffic and the peak of live tensor bytes while active."""

    def __init__(self, live: int):
        super().__init__()
        self.ops: set[str] = set()
        self.traffic = 0
        self.live = self.peak = live

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        namespace, _, name = func._schema.name.partition("::")
        if namespace == "prim":
            return out
        if name.rstrip("_") not in LAYOUT_ATEN and name not in LAYOUT_ATEN:
            self.ops.add(name)
            self.traffic += sum(nbytes(t) for t in _tensors((args, kwargs, out)))
        returns = func._schema.returns
        fresh = [t for i, t in enumerate(out if isinstance(out, (tuple, list)) else [out])
                 if isinstance(t, torch.Tensor) and i < len(returns)
                 and returns[i].alias_info is None]
        for t in fresh:
            self._alloc(t)
        return out

    def _alloc(self, t: torch.Tensor) -> None:
        n = nbytes(t)
        self.live += n
        self.peak = max(self.peak, self.live)
        weakref.finalize(t, self._free, n)

    def _free(self, n: int) -> None:
        self.live -= n


def nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def _tensors(tree):
    if isinstance(tree, torch.Tensor):
        yield tree
    elif isinstance(tree, (tuple, list)):
        for x in tree:
            yield from _tensors(x)
    elif isinstance(tree, dict):
        for x in tree.values():
            yield from _tensors(x)


def count(model: torch.nn.Module, inputs: list, via: str) -> Figures:
    """One no-grad forward of `model` on `inputs`, counted."""
    from torch.utils.flop_counter import FlopCounterMode

    weights = sum(nbytes(t) for t in (*model.parameters(), *model.buffers()))
    given = sum(nbytes(t) for t in inputs if isinstance(t, torch.Tensor))
    counter = Counter(weights + given)
    with torch.no_grad(), FlopCounterMode(display=False) as flops, counter:
        outputs = flatten(model(*clone_all(inputs)))
    out_bytes = sum(nbytes(t) for t in outputs if isinstance(t, torch.Tensor))
    scalar = bool(outputs) and all(isinstance(y, torch.Tensor) and y.dim() == 0 for y in outputs)
    return Figures(sorted(counter.ops), flops.get_total_flops() or None,
                   weights + given + out_bytes, counter.traffic, counter.peak, weights, given, scalar,
                   via)


def shape_pass(build: Callable[[], tuple[torch.nn.Module, list]]) -> Figures:
    """`build()` (the model and its inputs) and one forward, all under FakeTensorMode."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    quiet()
    with FakeTensorMode(allow_non_fake_inputs=True):
        model, inputs = build()
        return count(model, inputs, "fake")


def quiet() -> None:
    """FakeTensorMode logs every op it cannot run at ERROR; a failed pass is an answer here."""
    logging.getLogger("torch._subclasses.fake_tensor").setLevel(logging.CRITICAL)


def real_pass(model: torch.nn.Module, inputs: list) -> Figures:
    return count(model, inputs, "real")
