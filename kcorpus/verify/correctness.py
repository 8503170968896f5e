"""Inputs, weights and output comparison for the correctness stage (torch only).

Inputs keep the problem's domain. Every trial draws `get_inputs()` afresh under its own seed;
the redraws (`scaled`, `uniform`, `offset`) are used for a problem only where they keep what
`get_inputs()` evidently guarantees over several draws (`infer_domain`): sign, the [-1, 1]
range, integer values, and tensors that never change (tables such as rotary cos/sin, masks,
indices: never redrawn). A redraw that breaks a guarantee is skipped and recorded, as is a trial
whose reference turns non-finite; the candidate is never charged for either. A resized batch
takes whole rows of the given inputs (the same rows for every tensor with that batch size), so
values and the relations between tensors stay as the problem made them.

Tolerances by dtype (atol, rtol): fp64 1e-6, fp32 1e-4, tf32 1e-3, fp16/bf16 1e-2. An output
passes when every element is within `atol + rtol * |ref|` and, so that near-zero problems cannot
be passed by returning zeros, the largest error is at most `MAGNITUDE_FACTOR * rtol` times the
largest reference magnitude.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from kcorpus.verify import codes

TOLERANCES = {
    torch.float64: (1e-6, 1e-6),
    torch.float32: (1e-4, 1e-4),
    torch.float16: (1e-2, 1e-2),
    torch.bfloat16: (1e-2, 1e-2),
}
TF32_TOLERANCE = (1e-3, 1e-3)
MAGNITUDE_FACTOR = 10.0
DISTRIBUTIONS = ("given", "scaled", "uniform", "offset")


class CheckFailed(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


class Skipped(Exception):
    """A trial the verifier will not use: it would change the problem, not test the candidate."""


@dataclass(frozen=True)
class Domain:
    """Per input, what get_inputs() evidently guarantees ("nonneg", "positive", "unit",
    "integral", "fixed"); None for inputs that are not floating tensors."""
    props: tuple = ()


def draw_inputs(get_inputs, seed: int, dist: str, domain: Domain | None = None,
                device: str | None = None) -> list:
    """get_inputs() under `seed`, floating tensors redrawn from distribution `dist`, except the
    ones the domain says never change. With `device`, the tensors are drawn there (under
    `torch.device(device)`: a GPU draws gigabytes in milliseconds where one CPU thread takes
    seconds) and moved there; a get_inputs() that cannot draw on it (NumPy, host-only ops)
    draws on the CPU and its tensors are moved."""
    torch.manual_seed(seed)
    if device and device != "cpu" and get_inputs not in _HOST_ONLY:
        try:
            with torch.device(device):
                drawn = get_inputs()
        except Exception:  # noqa: BLE001  (it needs the host: draw there from now on)
            _HOST_ONLY.add(get_inputs)
            return draw_inputs(get_inputs, seed, dist, domain, device)
    else:
        drawn = get_inputs()
    if device:
        drawn = [x.to(device) if isinstance(x, torch.Tensor) else x for x in drawn]
    gens: dict = {}
    props = domain.props if domain else ()
    return [x if i < len(props) and props[i] and "fixed" in props[i] else _redraw(x, dist, gens, seed)
            for i, x in enumerate(drawn)]


_HOST_ONLY: set = set()  # get_inputs functions that failed to draw on a device


def infer_domain(get_inputs, seed: int, draws: int = 3, device: str | None = None) -> Domain:
    """What every one of `draws` draws guarantees, per input; one draw is held at a time beside
    the first (a GPU-sized problem's inputs are gigabytes)."""
    first = draw_inputs(get_inputs, seed, "given", device=device)
    stats = [_stats(x) for x in first]
    for k in range(1, draws):
        sample = draw_inputs(get_inputs, seed + k, "given", device=device)
        for i, x in enumerate(first):
            y = sample[i] if i < len(sample) else None
            if stats[i] is None or not _like(x, y):
                stats[i] = None
                continue
            lo, hi, integral, fixed = stats[i]
            y_lo, y_hi, y_int, _ = _stats(y)
            stats[i] = (min(lo, y_lo), max(hi, y_hi), integral and y_int,
                        fixed and torch.equal(x, y))
        del sample
    return Domain(tuple(None if st is None else _guarantees(*st) for st in stats))


def _like(x, y) -> bool:
    return isinstance(y, torch.Tensor) and y.is_floating_point() and y.shape == x.shape


def _stats(x) -> tuple | None:
    if not (isinstance(x, torch.Tensor) and x.is_floating_point() and x.numel()):
        return None
    return x.min().item(), x.max().item(), bool(torch.equal(x, x.round())), True


def _guarantees(lo: float, hi: float, integral: bool, fixed: bool) -> frozenset:
    found = set()
    if lo >= 0:
        found.add("nonneg")
    if lo > 0:
        found.add("positive")
    if lo >= -1 and hi <= 1:
        found.add("unit")
    if integral:
        found.add("integral")
    if fixed:
        found.add("fixed")
    return frozenset(found)


def domain_break(domain: Domain, inputs: list) -> str | None:
    """How `inputs` leave the domain, or None when they keep it."""
    for i, (props, x) in enumerate(zip(domain.props, inputs)):
        if not props or not isinstance(x, torch.Tensor) or not x.numel():
            continue
        lo, hi = x.min().item(), x.max().item()
        if "nonneg" in props and lo < 0:
            return f"input {i} would be negative; get_inputs() never makes it so"
        if "positive" in props and lo <= 0:
            return f"input {i} would not be positive; get_inputs() always makes it so"
        if "unit" in props and (lo < -1 or hi > 1):
            return f"input {i} would leave [-1, 1], where get_inputs() keeps it"
        if "integral" in props and not torch.equal(x, x.round()):
            return f"input {i} would hold fractions; get_inputs() gives integer values"
    return None


def usable_distributions(get_inputs, seed: int, domain: Domain, device: str | None = None
                         ) -> tuple[list[str], dict]:
    """The distributions this problem's trials cycle through, and the skipped ones with why."""
    usable, skipped = ["given"], {}
    for dist in DISTRIBUTIONS[1:]:
        why = domain_break(domain, draw_inputs(get_inputs, seed, dist, domain, device))
        if why:
            skipped[dist] = why
        else:
            usable.append(dist)
    return usable, skipped


def finite(outputs: list) -> bool:
    return all(torch.isfinite(o).all().item() for o in outputs
               if isinstance(o, torch.Tensor) and o.is_floating_point())


def _redraw(x, dist: str, gens: dict, seed: int):
    if not (isinstance(x, torch.Tensor) and x.is_floating_point()) or dist == "given":
        return x
    if dist == "scaled":
        return x * 3.0
    if dist == "uniform":
        if x.device not in gens:  # one generator per device, seeded alike
            gens[x.device] = torch.Generator(device=x.device).manual_seed(seed + 7919)
        return torch.rand(x.shape, generator=gens[x.device], dtype=x.dtype, device=x.device) * 4 - 2
    return x * 0.5 + 1.0  # offset: mostly positive, away from zero


def odd_size(b: int) -> int:
    """A batch size near `b` that is not a power of two: smaller than `b` from 8 rows up (a
    larger batch could take a problem sized for a GPU past its memory or past 32-bit indexing,
    which tests the problem's limits, not whether the candidate hard-codes its size)."""
    step = -1 if b >= 8 else 1
    n = b + 3 * step
    while n & (n - 1) == 0:
        n += step
    return n


def resize_batch(inputs: list, seed: int) -> list | None:
    """The inputs with their leading (batch) dimension resized to a size that is not a power of
    two, made of whole rows of the originals (the same rows for every tensor of that batch
    size); None when no tensor input has a leading dimension."""
    lead = [x for x in inputs if isinstance(x, torch.Tensor) and x.dim() >= 1 and x.numel() > 0]
    if not lead:
        return None
    b = lead[0].shape[0]
    gen = torch.Generator().manual_seed(seed + 104729)
    rows = torch.randint(0, b, (odd_size(b),), generator=gen)
    return [x.detach()[rows.to(x.device)]
            if isinstance(x, torch.Tensor) and x.dim() >= 1 and x.shape[0] == b and x.numel() > 0
            else x for x in inputs]


def perturb_weights(model: torch.nn.Module, seed: int) -> None:
    """Move every floating parameter away from its initial value (ones, zeros, kaiming...)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            if p.is_floating_point():
                scale = p.detach().abs().mean().item() * 0.5 + 0.05
                noise = torch.randn(p.shape, generator=gen, dtype=p.dtype).to(p.device)
                p.add_(noise * scale)


def clone_all(xs: list) -> list:
    return [x.clone() if isinstance(x, torch.Tensor) else x for x in xs]


def copy_into(buffers: list, values: list) -> None:
    """Overwrite tensor buffers in place (same storage, new values)."""
    with torch.no_grad():
        for b, v in zip(buffers, values):
            if isinstance(b, torch.Tensor):
                b.copy_(v)


def flatten(out) -> list:
    if isinstance(out, (tuple, list)):
        return [y for x in out for y in flatten(x)]
    return [out]


def check_inputs_unchanged(before: list, after: list) -> None:
    for i, (a, b) in enumerate(zip(before, after)):
        if isinstance(a, torch.Tensor) and not torch.equal(a.nan_to_num(), b.nan_to_num()):
            raise CheckFailed(codes.INPUT_MUTATION, f"forward changed input {i}")


def check_fresh(outputs: list, inputs: list) -> None:
    """Outputs must be plain tensors with storage, not aliasing any input."""
    in_ptrs = {x.untyped_storage().data_ptr() for x in inputs
               if isinstance(x, torch.Tensor) and x.numel() > 0}
    for i, o in enumerate(outputs):
        if not isinstance(o, torch.Tensor):
            continue
        if type(o) is not torch.Tensor:
            raise CheckFailed(codes.NOT_A_TENSOR, f"output {i} is a {type(o).__name__}, "
                              "not a plain torch.Tensor")
        try:
            ptr = o.untyped_storage().data_ptr()
        except (RuntimeError, NotImplementedError) as e:
            raise CheckFailed(codes.NOT_A_TENSOR, f"output {i} has no storage: {e}") from None
        if o.numel() > 0 and ptr in in_ptrs:
            raise CheckFailed(codes.OUTPUT_ALIAS, f"output {i} shares storage with an input")


@dataclass
class Errors:
    max_abs: float = 0.0
    max_rel: float = 0.0


def compare(ref_out: list, cand_out: list, tf32: bool, errors: Errors) -> None:
    if len(ref_out) != len(cand_out):
        raise CheckFailed(codes.SHAPE_MISMATCH,
                          f"{len(cand_out)} outputs, the reference returns {len(ref_out)}")
    for i, (r, c) in enumerate(zip(ref_out, cand_out)):
        if not isinstance(r, torch.Tensor):
            r = torch.as_tensor(r)
            c = torch.as_tensor(c) if not isinstance(c, torch.Tensor) else c
        if not isinstance(c, torch.Tensor):
            raise CheckFailed(codes.SHAPE_MISMATCH, f"output {i} is a {type(c).__name__}")
        if r.shape != c.shape or r.dtype != c.dtype:
            raise CheckFailed(codes.SHAPE_MISMATCH, f"output {i}: {tuple(c.shape)} {c.dtype}, "
                              f"expected {tuple(r.shape)} {r.dtype}")
        _compare_tensor(i, r.detach(), c.detach(), tf32, errors)


CHUNK = 1 << 25  # elements compared at once: float64 copies of a chunk stay at 256 MB each


def _compare_tensor(i: int, r: torch.Tensor, c: torch.Tensor, tf32: bool, errors: Errors) -> None:
    if not r.is_floating_point():
        if not torch.equal(r, c):
            raise CheckFailed(codes.MISMATCH, f"output {i}: integer values differ")
        return
    if not torch.isfinite(c).all():
        raise CheckFailed(codes.NONFINITE, f"output {i} has NaN or Inf")
    atol, rtol = TF32_TOLERANCE if tf32 and r.dtype == torch.float32 else TOLERANCES.get(
        r.dtype, (1e-2, 1e-2))
    max_err = magnitude = 0.0
    bad = 0
    flat_r, flat_c = r.reshape(-1), c.reshape(-1)
    for start in range(0, flat_r.numel(), CHUNK):  # in chunks: a 6 GB output has 12 GB in fp64
        r64 = flat_r[start:start + CHUNK].double()
        err = (flat_c[start:start + CHUNK].double() - r64).abs()
        max_err = max(max_err, err.max().item())
        magnitude = max(magnitude, r64.abs().max().item())
        bad += (err > atol + rtol * r64.abs()).sum().item()
    rel = max_err / magnitude if magnitude > 0 else (0.0 if max_err == 0 else float("inf"))
    errors.max_abs = max(errors.max_abs, max_err)
    errors.max_rel = max(errors.max_rel, rel)
    if bad:
        raise CheckFailed(codes.MISMATCH, f"output {i}: {bad} of {r.numel()} elements off, "
                          f"max abs error {max_err:.3g}, max relative {rel:.3g}")
    if rel > MAGNITUDE_FACTOR * rtol:
        raise CheckFailed(codes.MISMATCH, f"output {i}: max error {max_err:.3g} is {rel:.3g} of "
                          f"the output's magnitude {magnitude:.3g}")
