"""A problem's torch.compile baseline, compiled once by a trusted child (runs in the sandboxed
worker, on a GPU; torch only).

The fork server runs this `baseline` job before a problem's first candidate (pool.py): the
reference alone, no candidate code, built and compiled as a verification's timing does
(worker._load, worker._compile_baseline: the model on the host, then the device; inputs drawn
under the device at the first timed round's seed; TF32 off; one forward under no_grad). Inductor
keys its FX graph and AOTAutograd caches on the graph, the inputs' shapes and the settings, not
on weight values or file paths, so each candidate child, seeded with this child's caches
(caches.py), finds the compiled graph and kernels instead of compiling them again.
"""

from __future__ import annotations

import time

import torch

from kcorpus.verify.correctness import draw_inputs
from kcorpus.verify.instrument import no_grad_forward
from kcorpus.verify.timing import fix_tf32

FIRST_ROUND_SEED = 7_000_000  # timing.fresh_inputs' first round


def compile_reference(job: dict, load_module) -> dict:
    out = {"id": job["id"], "kind": "baseline", "ok": False, "error": ""}
    t = time.perf_counter()
    try:
        fix_tf32(False)
        mod = load_module(job["problem_code"])
        torch.manual_seed(job.get("seed", 0))
        ref = mod.Model(*mod.get_init_inputs()).to(job["device"])
        inputs = draw_inputs(mod.get_inputs, FIRST_ROUND_SEED, "given", device=job["device"])
        no_grad_forward(torch.compile(ref), inputs)
        torch.cuda.synchronize()
        out["ok"] = True
    except Exception as e:  # noqa: BLE001  (no baseline: each candidate compiles its own)
        out["error"] = f"{type(e).__name__}: {e}"[:500]
    out["seconds"] = round(time.perf_counter() - t, 3)
    return out
