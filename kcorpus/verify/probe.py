"""Probing reference programs (torch only; runs in the sandboxed worker).

A probe job lists programs for one problem (the file's own, or guesses at its inputs); the first
that runs and is sound wins. Sound means deterministic (two runs with the same seed and inputs
agree), finite, not all near zero, moved by its inputs, and moved by its weights when it has any
(each checked with fresh, perturbed values). For each program, in order:

1. Shape pass (figures.shape_pass): the model and inputs built under FakeTensorMode and forward
   run there, with no data and no compute: ATen ops, FLOPs, bytes moved, traffic and peak bytes
   at the given size. A program the fake pass cannot run is counted over a real forward instead
   (`_probe_real`), cut first if its real weights and inputs alone are over the budget.
2. Size (`plan`). On a GPU: the given size. On the CPU the value checks cost about
       seconds = CHECK_FORWARDS * (flops / CPU_FLOPS + (traffic + COMPARE * out) / CPU_BYTES_PER_S)
                 + (WEIGHT_PASSES * weights + DRAW * (given + drawn)) / CPU_BYTES_PER_S
       memory  = MEMORY_FACTOR * peak + OUTPUT_COPIES * out + drawn
   where `out` is the bytes of the outputs and `drawn` the bytes get_inputs() draws beyond what
   forward sees (a slice cut, below).
   Within the job's budget (`seconds`, `memory_mb`) they run at the given size. Over it, the
   batch is cut about `ratio = max(seconds / budget, memory / budget)` times, to
   max(MIN_ROWS, ceil(batch / ratio)) rows, keeping the rest of the problem:
   - through the module's own batch constant when it has one (a module-level int named like
     `batch` equal to the first tensor input's leading dimension; KernelBench's `batch_size`),
     so get_inputs() draws the smaller batch itself;
   - else by slicing the first rows of every tensor input sharing the first one's leading
     dimension, or of the first alone.
   (cut MARGIN times deeper than the ratio asks). The shape pass runs again at the cut size to
   confirm and re-estimate (up to three cuts). A
   program no cut fits is `too_large_for_cpu`, with the figures: sound for all we know, and
   eligible for a GPU.
3. Value checks (`_check`) at that size, under a wall-clock alarm at TIME_SLACK times the
   budget's seconds and an address-space limit MEMORY_SLACK times its MB above what the process
   maps already; running past either is `too_large_for_cpu` as well.

The answer names the winner, its input signature, the figures at the given size, where the
value checks ran (`checked_on`: cpu, cuda, or "" when they did not) and at what size
(`checked_inputs`: the cut, None at the given size).

`mode: "full"` is the probe as it was before the shape pass (value checks at the given size,
whatever they cost, then a real forward for the figures): the baseline of `kcorpus bench
problems`. It compares outputs as the probe now does (`_close`: bitwise first, then a sample),
which is faster than it was, so the baseline is if anything a little quicker than the old stage.
"""

from __future__ import annotations

import json
import math
import re
import resource
import signal
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace

import torch

from kcorpus.verify.correctness import clone_all, draw_inputs, flatten, perturb_weights
from kcorpus.verify.figures import Counter, Figures, nbytes, real_pass, shape_pass

NEAR_ZERO = 1e-7
CHECK_FORWARDS = 4      # two same-input runs, other inputs, perturbed weights
WEIGHT_PASSES = 28      # building the weights, perturbing them twice (randn, mean, add)
DRAW = 10               # get_inputs() under two seeds: random draws, per byte drawn
COMPARE = 16            # per output byte: kept as float64, compared with allclose
OUTPUT_COPIES = 8       # per output byte: two float64 copies and allclose's temporaries
CPU_FLOPS = 2e10        # one CPU thread, float32 matmul or convolution (conservative)
CPU_BYTES_PER_S = 3e9   # one CPU thread, elementwise traffic
MEMORY_FACTOR = 3       # the forward's peak, plus outputs kept for comparison and other inputs
TIME_SLACK = 4          # the alarm, over the budget's seconds
MEMORY_SLACK = 2        # the address-space limit, over the budget's MB
MARGIN = 1.25          # cut a quarter deeper than the estimate asks
SAMPLE = 65536          # elements compared first, before a whole output
MIN_ROWS = 2            # batch norms in training mode need two rows
BATCH_NAME = re.compile(r"batch", re.I)


class OverBudget(Exception):
    pass


@dataclass(frozen=True)
class Budget:
    seconds: float = 4.0
    memory_mb: float = 2048.0

    @classmethod
    def of(cls, job: dict) -> Budget:
        b = job.get("budget") or {}
        return cls(float(b.get("seconds", cls.seconds)), float(b.get("memory_mb", cls.memory_mb)))


@dataclass(frozen=True)
class Cut:
    """A smaller batch: the module constant `name` set to `rows`, or else the first `rows` rows
    of the inputs `which` sliced off what get_inputs() drew."""
    batch: int
    rows: int
    which: tuple[int, ...] = ()
    name: str | None = None

    def as_dict(self) -> dict:
        return {"batch": self.batch, "rows": self.rows, "inputs": list(self.which),
                "constant": self.name}


    @classmethod
    def of(cls, d: dict) -> Cut:
        return cls(int(d["batch"]), int(d["rows"]), tuple(d.get("inputs") or ()),
                   d.get("constant"))

    def onto(self, mod) -> None:
        """Make `mod` (a reference program) draw this cut from now on: the verifier's way of
        checking candidates at the size its probe checked the problem on the CPU."""
        if self.name is not None:
            setattr(mod, self.name, self.rows)
            return
        get_inputs = mod.get_inputs
        mod.get_inputs = lambda: self.sliced(get_inputs())

    def sliced(self, inputs: list) -> list:
        """The first `rows` rows of the inputs `which`, the rest as they are."""
        return [x[: self.rows] if i in self.which else x for i, x in enumerate(inputs)]


@contextmanager
def cut_applied(mod, cut: Cut | None):
    """The module with the cut's batch constant set, for as long as the block runs."""
    if cut is None or cut.name is None:
        yield
        return
    before = getattr(mod, cut.name)
    setattr(mod, cut.name, cut.rows)
    try:
        yield
    finally:
        setattr(mod, cut.name, before)


def estimate(fig: Figures, drawn: int = 0) -> tuple[float, float]:
    """(seconds, MB) the value checks are expected to cost on one CPU thread."""
    out = fig.bytes_moved - fig.weights - fig.given
    seconds = (CHECK_FORWARDS * ((fig.flops or 0) / CPU_FLOPS
                                 + (fig.traffic + COMPARE * out) / CPU_BYTES_PER_S)
               + (WEIGHT_PASSES * fig.weights + DRAW * (fig.given + drawn)) / CPU_BYTES_PER_S)
    return seconds, (MEMORY_FACTOR * fig.peak + OUTPUT_COPIES * out + drawn) / 2**20


def probe(job: dict, load_module) -> dict:
    out = {"id": job["id"], "kind": "probe", "ok": None, "tried": [], "input_signature": None}
    device = job.get("device", "cpu")
    full = job.get("mode") == "full"
    t0 = time.perf_counter()
    for i, code in enumerate(job["programs"]):
        try:
            mod = load_module(code)
            result = (_probe_full(mod, device) if full else
                      _probe_program(mod, device, Budget.of(job)))
        except Exception as e:  # the program itself is broken: try the next
            out["tried"].append({"index": i, "error": f"{type(e).__name__}: {e}"[:500]})
            continue
        if result["flags"] and result["flags"] != ["too_large_for_cpu"]:
            out["tried"].append({"index": i, "flags": result["flags"]})
            continue
        out.update(ok=i, input_signature=json.dumps(result.pop("signature")), **result)
        break
    out["seconds"] = round(time.perf_counter() - t0, 3)
    return out


def _inputs(mod, seed: int, device: str, cut: Cut | None = None) -> list:
    xs = draw_inputs(mod.get_inputs, seed, "given", device=device)
    return cut.sliced(xs) if cut is not None and cut.name is None else xs


def _build(mod, device: str, cut: Cut | None = None):
    """The model (seeded) and the first inputs, made on `device` (a module built under
    FakeTensorMode, on the CPU, could not be moved: its tensors cannot be swapped)."""
    with cut_applied(mod, cut), _on(device):
        torch.manual_seed(0)
        return mod.Model(*mod.get_init_inputs()), _inputs(mod, 1, device, cut)


def _on(device: str):
    """Tensors made on `device` directly: a GPU builds weights and draws inputs far faster."""
    return torch.device(device) if device != "cpu" else nullcontext()


def _probe_program(mod, device: str, budget: Budget) -> dict:
    try:
        fig = shape_pass(lambda: _build(mod, "cpu"))
    except Exception as e:  # noqa: BLE001 - whatever the fake pass cannot run runs for real
        return _probe_real(mod, device, budget, f"{type(e).__name__}: {e}"[:300])
    if device != "cpu":
        return _checked(mod, device, None, None, fig)
    cut, fits = plan(mod, fig, budget)
    if not fits:
        return _too_large(fig, budget, cut, _fake_signature(mod))
    return _checked(mod, device, cut, budget, fig)


def plan(mod, fig: Figures, budget: Budget) -> tuple[Cut | None, bool]:
    """The cut that fits the value checks in the budget (None: the given size fits), and
    whether one does."""
    cut, at = None, fig
    for attempt in range(4):
        seconds, mb = estimate(at, _drawn(fig, cut))
        ratio = max(seconds / budget.seconds, mb / budget.memory_mb)
        if ratio <= 1:
            return cut, True
        if attempt == 3:
            break
        options = (_further(cut, ratio * MARGIN) if cut else
                   _cuts(mod, _fake(lambda: _inputs(mod, 1, "cpu")), ratio * MARGIN))
        for option in options:
            try:
                smaller = shape_pass(lambda c=option: _build(mod, "cpu", c))
            except Exception:  # noqa: BLE001 - that cut breaks the program: try the next
                continue
            if smaller.given < at.given:  # a constant get_inputs() does not read cuts nothing
                at, cut = smaller, option
                break
        else:
            break
    return cut, False


def _drawn(fig: Figures, cut: Cut | None) -> int:
    """Bytes get_inputs() draws that a slice cut then drops."""
    return fig.given if cut is not None and cut.name is None else 0


def _further(cut: Cut, ratio: float) -> list[Cut]:
    rows = max(MIN_ROWS, math.ceil(cut.rows / ratio))
    return [replace(cut, rows=rows)] if rows < cut.rows else []


def _cuts(mod, inputs: list, ratio: float) -> list[Cut]:
    """Cuts of the batch about `ratio` times smaller, best first: the module's batch constant,
    then slices of every tensor input sharing the first one's leading dimension, then of the
    first alone."""
    lead = [(i, x) for i, x in enumerate(inputs) if isinstance(x, torch.Tensor) and x.dim() >= 1]
    if not lead:
        return []
    first, x0 = lead[0]
    batch = x0.shape[0]
    rows = max(MIN_ROWS, math.ceil(batch / ratio))
    if rows >= batch:
        return []
    names = [n for n, v in vars(mod).items()
             if BATCH_NAME.search(n) and type(v) is int and v == batch]
    shared = tuple(i for i, x in lead if x.shape[0] == batch)
    return ([Cut(batch, rows, shared, n) for n in names[:1]] + [Cut(batch, rows, shared)]
            + ([Cut(batch, rows, (first,))] if shared != (first,) else []))


def _fake(fn):
    from torch._subclasses.fake_tensor import FakeTensorMode

    with FakeTensorMode(allow_non_fake_inputs=True):
        return fn()


def _fake_signature(mod) -> dict:
    return _signature(mod.get_init_inputs(), _fake(lambda: _inputs(mod, 1, "cpu")))


def _probe_real(mod, device: str, budget: Budget, why: str) -> dict:
    """Figures from a real forward, for a program the fake pass could not run. On the CPU its
    weights and inputs are built for real first; over the budget, the batch is sliced."""
    cpu = device == "cpu"
    try:
        with _guarded(budget if cpu else None):
            model, inputs = _build(mod, device)
            cut = _real_cut(mod, model, inputs, budget) if cpu else None
            if cut is not None:
                inputs = cut.sliced(inputs)
            fig = real_pass(model, inputs)
    except Exception as e:  # noqa: BLE001
        if not (cpu and _over_budget(e)):
            raise
        return _too_large(_unknown(), budget, None, {}, f"{why}; then for real: {e}"[:600])
    del model, inputs
    return {**_checked(mod, device, cut, budget if cpu else None, fig), "fake_error": why}


def _real_cut(mod, model, inputs: list, budget: Budget) -> Cut | None:
    given = sum(nbytes(x) for x in inputs if isinstance(x, torch.Tensor))
    weights = sum(nbytes(t) for t in (*model.parameters(), *model.buffers()))
    ratio = MEMORY_FACTOR * (weights + given) / 2**20 / budget.memory_mb
    if ratio <= 1:
        return None
    options = [c for c in _cuts(mod, inputs, ratio * MARGIN) if c.name is None]
    if weights > given or not options:
        raise OverBudget(f"its real weights and inputs take {(weights + given) / 2**20:.0f} MB")
    return options[0]


def _unknown() -> Figures:
    return Figures([], None, 0, 0, 0, 0, 0, False, "real")


def _over_budget(e: BaseException) -> bool:
    """Whether `e` is the budget's alarm or address-space limit (torch's allocator included)."""
    return isinstance(e, (OverBudget, MemoryError)) or (
        isinstance(e, RuntimeError) and "allocate memory" in str(e))


def _checked(mod, device: str, cut: Cut | None, budget: Budget | None, fig: Figures) -> dict:
    """The value checks under the budget's limits; running past them is too_large_for_cpu."""
    try:
        with _guarded(budget):
            flags, signature = _check(mod, device, cut)
    except Exception as e:  # noqa: BLE001
        if budget is None or not _over_budget(e):
            raise
        return _too_large(fig, budget, cut, _fake_signature(mod), f"{type(e).__name__}: {e}")
    real = signature.pop("real_aten_ops", None)
    return {"flags": flags, "signature": signature, "real_aten_ops": real,
            **_answer(fig, device, cut, flags)}


def _too_large(fig: Figures, budget: Budget, cut: Cut | None, signature: dict,
               why: str = "") -> dict:
    seconds, mb = estimate(fig)
    note = (f"too_large_for_cpu: the value checks need about {seconds:.1f} s and {mb:.0f} MB "
            f"on one CPU thread at the given size (budget {budget.seconds:g} s, "
            f"{budget.memory_mb:g} MB); "
            + (f"cut to {cut.rows} of {cut.batch} rows: {why or 'still over'}" if cut else
               why or "its batch cannot be cut"))
    return {"flags": ["too_large_for_cpu"], "signature": signature, "note": note[:1000],
            **_answer(fig, "cpu", cut, ["too_large_for_cpu"])}


def _answer(fig: Figures, device: str, cut: Cut | None, flags: list[str]) -> dict:
    return {"aten_ops": fig.aten_ops, "flops": fig.flops, "bytes_moved": fig.bytes_moved,
            "scalar_output": fig.scalar_output, "figures": fig.as_dict(),
            "checked_on": "" if "too_large_for_cpu" in flags else device,
            "checked_inputs": cut.as_dict() if cut else None}


@contextmanager
def _guarded(budget: Budget | None):
    """A wall-clock alarm and an address-space limit over the budget (the SLACK factors)."""
    if budget is None:
        yield
        return

    def ring(*_):
        raise OverBudget(f"ran past {TIME_SLACK * budget.seconds:g} s")

    previous = signal.signal(signal.SIGALRM, ring)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space() + int(MEMORY_SLACK * budget.memory_mb * 2**20)
    if hard == resource.RLIM_INFINITY or limit < hard:
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    signal.setitimer(signal.ITIMER_REAL, TIME_SLACK * budget.seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _address_space() -> int:
    """This process's mapped bytes now (the address-space limit counts from here)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[0]) * resource.getpagesize()
    except OSError:
        return 0


# -- value checks ------------------------------------------------------------------------------
def _run(model, inputs):
    with torch.no_grad():
        return [y.detach().clone() for y in flatten(model(*clone_all(inputs)))
                if isinstance(y, torch.Tensor)]


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))


def _close(x: torch.Tensor, y: torch.Tensor) -> bool:
    """allclose in float64 (rtol 1e-5, atol 1e-7, NaN equal to NaN), cheap where the answer is:
    bitwise equal tensors are the same, and a strided sample that differs settles a difference."""
    if x.shape != y.shape or x.dtype != y.dtype:
        return False
    if torch.equal(x, y):
        return True
    if x.numel() > SAMPLE:
        step = x.numel() // SAMPLE
        if not _allclose(x.flatten()[::step], y.flatten()[::step]):
            return False
    return _allclose(x, y)


def _allclose(x: torch.Tensor, y: torch.Tensor) -> bool:
    return torch.allclose(x.double(), y.double(), rtol=1e-5, atol=1e-7, equal_nan=True)


def _near_zero(y: torch.Tensor) -> bool:
    return y.numel() == 0 or y.abs().max().item() < NEAR_ZERO if y.is_floating_point() else (
        y.numel() == 0 or y.double().abs().max().item() < NEAR_ZERO)


def _check(mod, device: str, cut: Cut | None = None) -> tuple[list[str], dict]:
    with cut_applied(mod, cut), _on(device):
        init = mod.get_init_inputs()
        torch.manual_seed(0)
        model = mod.Model(*init).to(device)
        inputs = _inputs(mod, 1, device, cut)
        other = _inputs(mod, 2, device, cut)
    perturb_weights(model, 0)  # its generator is the CPU's: outside the device context
    signature = _signature(init, inputs) if cut is None else _fake_signature(mod)
    ops = Counter(0)
    with ops:  # what a real forward ran, beside the shape pass's count
        y1 = _run(model, inputs)
    signature["real_aten_ops"] = sorted(ops.ops)
    if not y1:
        return ["no_tensor_output"], signature
    # a forward of layout ops alone (an identity, a view) leaves nothing for a kernel to do
    flags = [] if ops.ops else ["no_compute"]
    if not _same(y1, _run(model, inputs)):
        flags.append("nondeterministic")
    if not all(torch.isfinite(y).all() for y in y1):
        flags.append("nonfinite")
    if all(_near_zero(y) for y in y1):
        flags.append("near_zero")
    if _same(y1, _run(model, other)):
        flags.append("ignores_inputs")
    if any(p.is_floating_point() for p in model.parameters()):
        perturb_weights(model, 1)
        if _same(y1, _run(model, inputs)):
            flags.append("ignores_weights")
    return flags, signature


def _signature(init, inputs: list) -> dict:
    return {"init": repr(init)[:500],
            "inputs": [{"shape": list(x.shape), "dtype": str(x.dtype).replace("torch.", "")}
                       if isinstance(x, torch.Tensor) else {"value": repr(x)[:100]}
                       for x in inputs]}


def _probe_full(mod, device: str) -> dict:
    """The probe before the shape pass: value checks, then a real forward for the figures."""
    flags, signature = _check(mod, device)
    signature.pop("real_aten_ops", None)
    if flags:
        return {"flags": flags, "signature": signature}
    model, inputs = _build(mod, device)
    fig = real_pass(model, inputs)
    return {"flags": [], "signature": signature, **_answer(fig, device, None, [])}
