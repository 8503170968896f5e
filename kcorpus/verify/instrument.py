"""Run-time observation of a candidate's forward (torch and triton only).

- `LaunchCounter` patches Triton's launch paths while installed. It counts launches (compiled
  `JITFunction.run` or interpreted `InterpretedFunction.run`), tells the candidate's own kernels
  (JIT functions defined in its source file) from Inductor's and libraries', times compiles and
  autotuning (reported to the fork server, which gives them their own budget), and in `ghost`
  mode replaces every launch of an own kernel by one that poisons its tensor arguments and does
  no work (kernel ablation, DESIGN.md stage 4).
- Only Triton's own machinery runs with op recording off: the kernel launch itself and the
  autotuner's benchmarking. Everything a candidate hands Triton to call (autotune pre/post
  hooks, config pre-hooks, heuristics, config pruning and perf models, grid callables, JIT
  pre-run hooks) runs under the recorder, so torch work hidden there is seen.
- `OpRecorder` records the ATen ops dispatched during forward, and the traffic between the host
  and tensors: tensors built from Python or NumPy values (`lift_fresh`), scalars read back
  (`.item()`), device-to-host copies.
- Under the interpreter, autotuning picks configs without a GPU benchmarker: the configs left
  after pruning keep their order and the first is used.
"""

from __future__ import annotations

import functools
import math
import os
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
HOST_LIMIT = 16  # host values per forward beyond which the work is on the host, not in kernels
SCALAR_WRITES = {"fill_", "fill", "full", "full_like", "new_full", "scalar_tensor", "index_fill_",
                 "index_put_", "masked_fill_"}


_INDUCTOR = object()  # stands for the source of a launch through Inductor's CachingAutotuner


class Tampered(Exception):
    """The candidate changed Triton's global launch hooks."""


class LaunchCounter:
    """Counts Triton launches while installed, and the time spent inside launches, compiles and
    autotuning; records callbacks; ablates own kernels in ghost mode."""

    def __init__(self, report=None):
        self.count = 0
        self.own_launches = 0
        self.own_failed = 0  # own launches that raised (caught or not)
        self.depth = 0
        self.launch_seconds = 0.0
        self.ghost = False
        self.poisoned = 0
        self.own_files: set[str] = set()
        self.own_names: set[str] = set()
        self._saved: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # poisoned: (tensor, before)
        self._report = report or (lambda phase: None)
        self._tuning = 0
        self._entered = 0.0
        self._patched: list[tuple[type, str, object]] = []
        self._hooks = _launch_hooks()

    def install(self, inductor: bool = False) -> LaunchCounter:
        """Patch Triton's launch paths; with `inductor`, also Inductor's own launcher
        (CachingAutotuner runs compiled kernels without going through JITFunction.run)."""
        from triton.runtime.autotuner import Autotuner
        from triton.runtime.jit import JITFunction

        kernels = [JITFunction]
        try:
            from triton.runtime.interpreter import InterpretedFunction
            kernels.append(InterpretedFunction)
        except ImportError:  # very old triton: no interpreter
            pass
        for cls in kernels:
            self._patch(cls, "run", self._wrap_launch)
        if inductor:
            from torch._inductor.runtime.triton_heuristics import CachingAutotuner
            self._patch(CachingAutotuner, "run", self._wrap_foreign)
        self._patch(Autotuner, "run", self._wrap_timed)
        self._patch(Autotuner, "_bench", self._wrap_bench)
        if hasattr(JITFunction, "_do_compile"):
            self._patch(JITFunction, "_do_compile", self._wrap_tuning)
        from triton.compiler.compiler import CompiledKernel
        if hasattr(CompiledKernel, "__getitem__"):  # kernel = fn.warmup(...); kernel[grid](...)
            self._patch(CompiledKernel, "__getitem__", self._wrap_compiled)
        return self

    def own(self, path: str) -> None:
        """Kernels defined in the file at `path` are the candidate's own."""
        self.own_files.add(path)

    def _patch(self, cls: type, name: str, wrap) -> None:
        original = getattr(cls, name)
        self._patched.append((cls, name, original))
        setattr(cls, name, wrap(original))

    def uninstall(self) -> None:
        for cls, name, original in reversed(self._patched):
            setattr(cls, name, original)
        self._patched.clear()

    # -- the wrappers ---------------------------------------------------------------------------
    def _launch(self, source, args: tuple, kwargs: dict, launch):
        """Every launch path ends here: counted, told own or not, ablated in ghost mode, run
        with recording off (Triton's own machinery) otherwise."""
        self._check_hooks()
        self.count += 1
        own = self._is_own(source)
        self.own_launches += own
        if own and self.ghost:
            return self._poison(source, args, kwargs)
        self._enter()
        try:
            with _disable_current_modes():
                return launch()
        except Exception:
            self.own_failed += own
            self.own_launches -= own
            raise
        finally:
            self._exit()

    def _wrap_launch(self, original):
        """JITFunction.run / InterpretedFunction.run: the grid callable and pre-run hooks are the
        candidate's code, so they run recorded, here, before the launch itself."""
        counter = self

        @functools.wraps(original)
        def run(kernel, *args, **kwargs):
            if kwargs.get("warmup"):
                return original(kernel, *args, **kwargs)
            if callable(kwargs.get("grid")):
                kwargs["grid"] = recorded(kwargs["grid"])
            hooks = list(getattr(kernel, "pre_run_hooks", None) or [])
            for hook in hooks:
                hook(*args, **kwargs)
            saved = _swap(kernel, "pre_run_hooks", [] if hooks else None)
            try:
                return counter._launch(kernel, args, kwargs, lambda: original(kernel, *args, **kwargs))
            finally:
                _swap(kernel, "pre_run_hooks", saved)

        return run

    def _wrap_compiled(self, original):
        """A compiled kernel launched directly (the Triton tutorials' fused softmax does)."""
        counter = self

        @functools.wraps(original)
        def getitem(kernel, grid):
            runner = original(kernel, grid)
            source = getattr(getattr(kernel, "src", None), "fn", None)
            return lambda *args, **kwargs: counter._launch(source, args, kwargs,
                                                           lambda: runner(*args, **kwargs))

        return getitem

    def _wrap_foreign(self, original):
        """Inductor's launcher: the kernels of a program Inductor generated (the only case this
        is installed for) are that candidate's own."""
        counter = self

        @functools.wraps(original)
        def run(kernel, *args, **kwargs):
            return counter._launch(_INDUCTOR, args, kwargs, lambda: original(kernel, *args, **kwargs))

        return run

    def _wrap_timed(self, original):
        """Autotuner.run: its hooks and pruning stay recorded; its time is launch time."""
        counter = self

        @functools.wraps(original)
        def run(tuner, *args, **kwargs):
            counter._enter()
            try:
                return original(tuner, *args, **kwargs)
            finally:
                counter._exit()

        return run

    def _wrap_bench(self, original):
        """One config's benchmark: Triton's own timing runs unrecorded, everything the candidate
        gave it (hooks, a custom do_bench) recorded. Under the interpreter there is no GPU
        benchmarker: each config runs once, hooks included, and the first config wins."""
        counter = self

        @functools.wraps(original)
        def bench(tuner, *args, config, **meta):
            order = tuner.configs.index(config) if config in tuner.configs else 0
            saved = [(tuner, "pre_hook", tuner.pre_hook), (tuner, "post_hook", tuner.post_hook),
                     (config, "pre_hook", config.pre_hook)]
            custom = getattr(tuner, "_do_bench", None)
            if custom is not None or _interpreting():
                bencher = recorded(custom) if custom is not None else _run_once(order)
                saved.append((tuner, "do_bench", tuner.__dict__.get("do_bench")))
                tuner.__dict__["do_bench"] = bencher
            for obj, name, fn in saved[:3]:
                if fn is not None:
                    setattr(obj, name, recorded(fn))
            counter._tune(True)
            try:
                with _disable_current_modes():
                    return original(tuner, *args, config=config, **meta)
            finally:
                counter._tune(False)
                for obj, name, fn in saved:
                    if name == "do_bench":  # a cached_property: None means not computed yet
                        tuner.__dict__.pop(name, None) if fn is None else tuner.__dict__.update(do_bench=fn)
                    else:
                        setattr(obj, name, fn)

        return bench

    def _wrap_tuning(self, original):
        counter = self

        @functools.wraps(original)
        def compile_(*args, **kwargs):
            counter._tune(True)
            try:
                return original(*args, **kwargs)
            finally:
                counter._tune(False)

        return compile_

    # -- helpers --------------------------------------------------------------------------------
    def _is_own(self, kernel) -> bool:
        if kernel is _INDUCTOR:
            return True
        fn = getattr(kernel, "fn", None)
        code = getattr(fn, "__code__", None)
        return code is not None and code.co_filename in self.own_files

    def _poison(self, kernel, args: tuple, kwargs: dict) -> None:
        """The ghost launch: every tensor argument filled with NaN (integers with a sentinel),
        no work done. A grid callable still runs, as it would for the real launch."""
        grid = kwargs.get("grid")
        if callable(grid):
            names = getattr(kernel, "arg_names", [])
            grid({**dict(zip(names, args)), **kwargs})
        with _disable_current_modes(), torch.no_grad():
            for value in list(args) + list(kwargs.values()):
                tensor = value if isinstance(value, torch.Tensor) else getattr(value, "base", None)
                if isinstance(tensor, torch.Tensor) and tensor.numel():
                    self._saved.setdefault(id(tensor), (tensor, tensor.clone()))
                    poison(tensor)
                    self.poisoned += 1
        name = "inductor" if kernel is _INDUCTOR else getattr(getattr(kernel, "fn", None), "__name__", "?")
        self.own_names.add(name)
        return None

    def restore(self) -> None:
        """Put back what ghost launches poisoned: the candidate's weights, caches and buffers
        are as they were, for timing and the checks after it."""
        with _disable_current_modes(), torch.no_grad():
            for tensor, before in self._saved.values():
                tensor.copy_(before)
        self._saved.clear()

    def _check_hooks(self) -> None:
        if _launch_hooks() != self._hooks:
            raise Tampered("the candidate set Triton's global launch hooks")

    def _tune(self, entering: bool) -> None:
        if entering:
            self._tuning += 1
            if self._tuning == 1:
                self._report("tune")
        else:
            self._tuning -= 1
            if self._tuning == 0:
                self._report("tuned")

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


def poison(tensor: torch.Tensor) -> None:
    if tensor.is_floating_point() or tensor.is_complex():
        tensor.fill_(math.nan)
    elif tensor.dtype == torch.bool:
        tensor.logical_not_()
    else:
        tensor.fill_(min(torch.iinfo(tensor.dtype).max, 0x5A5A5A5A) // 3 + 7)


def _run_once(order: int):
    """A benchmarker for the interpreter: one call, and the config's place as its time."""
    def bench(kernel_call, quantiles=None, **_):
        kernel_call()
        return [float(order)] * (len(quantiles) if quantiles else 1) if quantiles else float(order)

    return bench


def _swap(obj, name: str, value):
    """Set obj.name to value (when value is not None); returns the previous value."""
    if value is None:
        return None
    previous = getattr(obj, name)
    setattr(obj, name, value)
    return previous


def _interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET") == "1"


def _launch_hooks() -> tuple:
    try:
        from triton import knobs

        return knobs.runtime.launch_enter_hook, knobs.runtime.launch_exit_hook
    except (ImportError, AttributeError):
        from triton.compiler.compiler import CompiledKernel

        return (getattr(CompiledKernel, "launch_enter_hook", None),
                getattr(CompiledKernel, "launch_exit_hook", None))


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


_ACTIVE: list[OpRecorder] = []


def recorded(fn):
    """`fn` wrapped to run under the recorder active now (if any), even from code that runs
    with recording off: Triton's launch and benchmark call candidates' callbacks there."""
    recorder = _ACTIVE[-1] if _ACTIVE else None
    if recorder is None or getattr(fn, "_kcorpus_recorded", False):
        return fn

    @functools.wraps(fn)
    def call(*args, **kwargs):
        with recorder:
            return fn(*args, **kwargs)

    call._kcorpus_recorded = True
    return call


class OpRecorder(TorchDispatchMode):
    """Records the ATen op names dispatched while active (Triton launches excluded), and the
    values that crossed between host and tensors."""

    def __init__(self):
        super().__init__()
        self.ops: set[str] = set()
        self.host_values = 0   # elements of tensors built from Python or NumPy values
        self.host_builds = 0   # how many such tensors
        self.scalar_reads = 0  # .item() and friends
        self.scalar_writes = 0  # fill_/full with a Python number: values written from the host
        self.to_host = 0       # elements copied from a device to the host
        self.torch_work = 0    # elements touched by torch compute ops (largest tensor of each)

    def __enter__(self):
        _ACTIVE.append(self)
        return super().__enter__()

    def __exit__(self, *exc):
        _ACTIVE.pop()
        return super().__exit__(*exc)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name.split("::")[-1]
        self.ops.add(name)
        out = func(*args, **(kwargs or {}))
        self._traffic(name, args, out)
        if name not in LAYOUT_ATEN and name.rstrip("_") not in LAYOUT_ATEN:
            self.torch_work += max((t.numel() for t in _tensors(args, kwargs, out)), default=0)
        return out

    def _traffic(self, name: str, args, out) -> None:
        if name in ("lift_fresh", "lift_fresh_copy") and args:
            self.host_values += args[0].numel()
            self.host_builds += 1
        elif name == "_local_scalar_dense":
            self.scalar_reads += 1
        elif name in SCALAR_WRITES and any(isinstance(a, (int, float)) and not isinstance(a, bool)
                                           for a in args[1:]):
            self.scalar_writes += 1
        elif name in ("_to_copy", "copy_") and isinstance(out, torch.Tensor) and args:
            src = args[1] if name == "copy_" and len(args) > 1 else args[0]
            if isinstance(src, torch.Tensor) and src.device.type != "cpu" and out.device.type == "cpu":
                self.to_host += src.numel()

    def compute_ops(self) -> list[str]:
        return sorted(op for op in self.ops if op.rstrip("_") not in LAYOUT_ATEN
                      and op not in LAYOUT_ATEN)

    def host_compute(self) -> str | None:
        """Why forward's values evidently went through the host, or None."""
        if self.host_values > HOST_LIMIT or self.host_builds > HOST_LIMIT:
            return (f"forward built {self.host_builds} tensor(s) from {self.host_values} host "
                    "values (Python lists, NumPy)")
        if self.scalar_reads > HOST_LIMIT:
            return f"forward read {self.scalar_reads} scalars back to the host (.item())"
        if self.scalar_writes > HOST_LIMIT:
            return f"forward wrote {self.scalar_writes} host scalars into tensors (fill_, full)"
        if self.to_host > HOST_LIMIT:
            return f"forward copied {self.to_host} elements from the device to the host"
        return None


def _tensors(args, kwargs, out):
    for x in (*args, *(kwargs or {}).values(), *(out if isinstance(out, (tuple, list)) else [out])):
        if isinstance(x, torch.Tensor):
            yield x
        elif isinstance(x, (tuple, list)):
            yield from (y for y in x if isinstance(y, torch.Tensor))


def no_grad_forward(model: torch.nn.Module, inputs: list):
    with torch.no_grad():
        return model(*inputs)
