"""Verification worker: jobs in (JSON lines on stdin), verdicts out (JSON lines on stdout).

Runs on GPU nodes and in CI with only the standard library, torch and triton: start it as a
script (`python kcorpus/verify/worker.py < jobs.jsonl`). It is meant to run inside a sandbox
(see sandbox.py): untrusted code runs here, never in the pipeline's process. Anything the
candidate prints goes to stderr; stdout carries only verdicts.

A job: {"id", "problem_code", "candidate_code", "device": "cpu"|"cuda", "trials", "seed",
"lenient"}. Without a GPU, set TRITON_INTERPRET=1 and device "cpu": kernels run in Triton's
interpreter and the verdict says so.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the directory holding kcorpus/

from kcorpus.verify import codes, static  # noqa: E402  (standard library only)


def main() -> int:
    results = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the candidate's prints, even from C, go to stderr
    import torch  # noqa: F401  (after the fds are set: torch may print on import)

    torch.set_num_threads(int(os.environ.get("KCORPUS_WORKER_THREADS", "1")))
    for line in sys.stdin:
        if line.strip():
            job = json.loads(line)
            results.write(json.dumps(run_job(job)) + "\n")
    return 0


def run_job(job: dict) -> dict:
    t0 = time.perf_counter()
    verdict = _context(job.get("device", "cpu"))
    verdict.update(id=job.get("id"), passed=False, stage="static", failure_code="", message="",
                   static_flags=[], torch_ops=[], trials=0, triton_launches=0)
    try:
        _stages(job, verdict)
    except Exception as e:  # classified where raised; this is the backstop
        _fail(verdict, _runtime_code(e), _describe(e))
    verdict["seconds"] = round(time.perf_counter() - t0, 4)
    return verdict


def _stages(job: dict, verdict: dict) -> None:
    lenient = bool(job.get("lenient", False))
    result = static.check(job["candidate_code"], lenient=lenient)
    verdict.update(static_flags=result.flags, torch_ops=result.torch_ops)
    if not result.passed:
        return _fail(verdict, result.failure_code, result.message)
    verdict["stage"] = "compile"
    from kcorpus.verify import correctness, instrument

    counter = instrument.LaunchCounter().install()
    try:
        loaded = _load(job, verdict)
        if loaded is None:
            return None
        verdict["stage"] = "correctness"
        _correctness(job, verdict, *loaded, counter, lenient, correctness, instrument)
    finally:
        counter.uninstall()
    return None


def _load(job: dict, verdict: dict):
    import torch

    try:
        ref_mod = _module("kc_reference", job["problem_code"])
        init = ref_mod.get_init_inputs()
        torch.manual_seed(job.get("seed", 0))
        ref = ref_mod.Model(*init)
    except Exception as e:
        return _fail(verdict, codes.REFERENCE_ERROR, f"the reference failed: {_describe(e)}")
    try:
        cand_mod = _module("kc_candidate", job["candidate_code"])
        cand = cand_mod.ModelNew(*copy.deepcopy(init))
    except Exception as e:
        return _fail(verdict, codes.COMPILE_ERROR, _describe(e))
    from kcorpus.verify.correctness import perturb_weights

    perturb_weights(ref, job.get("seed", 0))
    try:
        cand.load_state_dict(ref.state_dict(), strict=False)
    except Exception as e:
        return _fail(verdict, codes.STATE_DICT_MISMATCH, _describe(e))
    device = job.get("device", "cpu")
    return ref_mod, ref.to(device), cand.to(device)


def _correctness(job, verdict, ref_mod, ref, cand, counter, lenient, correctness, instrument):
    import torch

    device = job.get("device", "cpu")
    errors = correctness.Errors()
    ops: set[str] = set()
    for trial in range(int(job.get("trials", 5))):
        seed = int(job.get("seed", 0)) * 1000 + trial
        dist = correctness.DISTRIBUTIONS[trial % len(correctness.DISTRIBUTIONS)]
        inputs = [x.to(device) if isinstance(x, torch.Tensor) else x
                  for x in correctness.draw_inputs(ref_mod.get_inputs, seed, dist)]
        cand_in, pristine = correctness.clone_all(inputs), correctness.clone_all(inputs)
        counter.count = 0
        recorder = instrument.OpRecorder()
        try:
            with recorder:
                cand_out = instrument.no_grad_forward(cand, cand_in)
        except Exception as e:
            return _fail(verdict, _runtime_code(e), _describe(e))
        verdict["triton_launches"] = max(verdict["triton_launches"], counter.count)
        ops |= set(recorder.compute_ops())
        verdict["torch_ops"] = sorted(ops | set(verdict["torch_ops"]))
        try:
            ref_out = instrument.no_grad_forward(ref, correctness.clone_all(inputs))
        except Exception as e:
            return _fail(verdict, codes.REFERENCE_ERROR, f"the reference failed: {_describe(e)}")
        try:
            _check_trial(correctness, counter, ops, lenient, pristine, cand_in, cand_out,
                         ref_out, errors)
        except correctness.CheckFailed as f:
            verdict.update(trials=trial + 1, max_abs_err=errors.max_abs, max_rel_err=errors.max_rel)
            return _fail(verdict, f.code, f"trial {trial} ({dist} inputs): {f}")
        verdict.update(trials=trial + 1, max_abs_err=errors.max_abs, max_rel_err=errors.max_rel)
    verdict.update(passed=True, failure_code="", message="")
    return None


def _check_trial(correctness, counter, ops, lenient, pristine, cand_in, cand_out, ref_out,
                 errors) -> None:
    if counter.count == 0:
        raise correctness.CheckFailed(codes.NO_TRITON_LAUNCH, "forward launched no Triton kernel")
    if ops and not lenient:
        raise correctness.CheckFailed(codes.TORCH_OPS,
                                      f"forward ran torch compute ops: {', '.join(sorted(ops))}")
    correctness.check_inputs_unchanged(pristine, cand_in)
    flat = correctness.flatten(cand_out)
    correctness.check_fresh(flat, cand_in)
    correctness.compare(correctness.flatten(ref_out), flat, tf32=False, errors=errors)


def _module(name: str, code: str) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__file__ = f"<{name}>"
    sys.modules[name] = mod  # dataclasses and pickling look modules up by name
    exec(compile(code, f"<{name}>", "exec"), mod.__dict__)
    return mod


_COMPILE_ERRORS = {"CompilationError", "CompileTimeAssertionFailure", "InterpreterError",
                   "UnsupportedLanguageConstruct"}
_OOM_TEXT = ("out of memory", "can't allocate memory", "cannot allocate memory")


def _runtime_code(e: BaseException) -> str:
    """OOM, COMPILE_ERROR (Triton could not build or trace a kernel) or RUNTIME_ERROR."""
    names = {t.__name__ for t in type(e).__mro__}
    if isinstance(e, MemoryError) or "OutOfMemoryError" in names or any(
            t in str(e).lower() for t in _OOM_TEXT):
        return codes.OOM
    return codes.COMPILE_ERROR if names & _COMPILE_ERRORS else codes.RUNTIME_ERROR


def _describe(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}"
    return text if len(text) <= 2000 else text[:2000] + " ..."


def _fail(verdict: dict, code: str, message: str) -> None:
    verdict.update(passed=False, failure_code=code, message=message)
    return None


def _context(device: str) -> dict:
    import torch
    import triton

    ctx = {"device": device, "torch_version": torch.__version__,
           "triton_version": triton.__version__, "tf32": False,
           "interpreter": os.environ.get("TRITON_INTERPRET") == "1"}
    if device == "cuda" and torch.cuda.is_available():
        major, minor = torch.cuda.get_device_capability()
        ctx.update(gpu_arch=f"sm_{major}{minor}", gpu_name=torch.cuda.get_device_name(),
                   driver=str(torch.version.cuda))
        ctx["tf32"] = bool(torch.backends.cuda.matmul.allow_tf32)
    else:
        ctx.update(gpu_arch="cpu", gpu_name=platform.processor() or platform.machine(), driver="")
    return ctx


if __name__ == "__main__":
    sys.exit(main())
