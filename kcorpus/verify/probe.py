"""Probing reference programs (torch only; runs in the sandboxed worker).

A probe job lists candidate programs for one problem (the file's own, or guesses of its inputs);
the first that runs and is sound wins. Sound means: deterministic (two runs with the same seed
and inputs agree), finite, not all near zero, moved by its inputs, and moved by its weights when
it has any (each checked with fresh, perturbed values). The answer names the winner and the
input signature (and, for the winner, the ATen compute ops one forward runs, its FLOPs and
the bytes it touches), or lists what each program did wrong.
"""

from __future__ import annotations

import json

import torch

from kcorpus.verify.correctness import clone_all, draw_inputs, flatten, perturb_weights

NEAR_ZERO = 1e-7


def probe(job: dict, load_module) -> dict:
    out = {"id": job["id"], "kind": "probe", "ok": None, "tried": [], "input_signature": None}
    for i, code in enumerate(job["programs"]):
        try:
            flags, signature = _check(load_module(code), job.get("device", "cpu"))
        except Exception as e:  # the program itself is broken: try the next
            out["tried"].append({"index": i, "error": f"{type(e).__name__}: {e}"[:500]})
            continue
        if flags:
            out["tried"].append({"index": i, "flags": flags})
            continue
        out.update(ok=i, input_signature=json.dumps(signature))
        out.update(_profile(load_module(code), job.get("device", "cpu")))
        break
    return out


def _profile(mod, device: str) -> dict:
    """The ATen compute ops one forward runs, its counted FLOPs, and the bytes it touches."""
    from torch.utils.flop_counter import FlopCounterMode

    from kcorpus.verify.instrument import OpRecorder

    torch.manual_seed(0)
    model = mod.Model(*mod.get_init_inputs()).to(device)
    inputs = [x.to(device) if isinstance(x, torch.Tensor) else x
              for x in draw_inputs(mod.get_inputs, 1, "given")]
    recorder = OpRecorder()
    with torch.no_grad(), FlopCounterMode(display=False) as flops, recorder:
        outputs = flatten(model(*clone_all(inputs)))
    tensors = [*inputs, *model.parameters(), *model.buffers(), *outputs]
    moved = sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))
    scalar = bool(outputs) and all(isinstance(y, torch.Tensor) and y.dim() == 0 for y in outputs)
    return {"aten_ops": recorder.compute_ops(), "flops": flops.get_total_flops() or None,
            "bytes_moved": moved, "scalar_output": scalar}


def _run(model, inputs):
    with torch.no_grad():
        return [y.detach().double().cpu() for y in flatten(model(*clone_all(inputs)))
                if isinstance(y, torch.Tensor)]


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(x.shape == y.shape and torch.allclose(x, y, rtol=1e-5,
                                                                          atol=1e-7, equal_nan=True)
                                    for x, y in zip(a, b))


def _check(mod, device: str) -> tuple[list[str], dict]:
    init = mod.get_init_inputs()
    torch.manual_seed(0)
    model = mod.Model(*init).to(device)
    perturb_weights(model, 0)
    inputs = [x.to(device) if isinstance(x, torch.Tensor) else x
              for x in draw_inputs(mod.get_inputs, 1, "given")]
    y1 = _run(model, inputs)
    flags = []
    if not y1:
        return ["no_tensor_output"], {}
    if not _same(y1, _run(model, inputs)):
        flags.append("nondeterministic")
    if not all(torch.isfinite(y).all() for y in y1):
        flags.append("nonfinite")
    if all(y.numel() == 0 or y.abs().max().item() < NEAR_ZERO for y in y1):
        flags.append("near_zero")
    other = [x.to(device) if isinstance(x, torch.Tensor) else x
             for x in draw_inputs(mod.get_inputs, 2, "given")]
    if _same(y1, _run(model, other)):
        flags.append("ignores_inputs")
    if any(p.is_floating_point() for p in model.parameters()):
        perturb_weights(model, 1)
        if _same(y1, _run(model, inputs)):
            flags.append("ignores_weights")
    signature = {"init": repr(init)[:500],
                 "inputs": [{"shape": list(x.shape), "dtype": str(x.dtype).replace("torch.", "")}
                            if isinstance(x, torch.Tensor) else {"value": repr(x)[:100]}
                            for x in inputs]}
    return flags, signature
