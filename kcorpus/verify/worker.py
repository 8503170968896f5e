"""Verification worker: jobs in (JSON lines on stdin), verdicts out (JSON lines on stdout).

Runs on GPU nodes and in CI with only the standard library, torch and triton:

    python kcorpus/verify/worker.py [--parallel N] [--timeout S] [--memory-mb M] < jobs.jsonl

By default it is a fork server (pool.py): one forked child per candidate, N at a time. With
`--single` it runs the jobs in its own process, one after another (the pipeline uses that only
for the fresh-process baseline). Untrusted code runs here, never in the pipeline's process;
what candidates print goes to stderr, stdout carries only verdicts.

A job: {"id", "problem_code", "candidate_code", "device": "cpu"|"cuda", "trials", "seed",
"lenient", "forward_timeout_s", "generated", "timing": {"warmup", "trials"}}; `generated`
("inductor") marks a program kcorpus generated itself (see static.check). Other job kinds:
"probe" (verify/probe.py) and "inductor" (verify/inductor_gen.py). `forward_timeout_s` bounds the
Python a candidate's forward may run outside Triton launches and compiles (default 10 s).
On the CPU set TRITON_INTERPRET=1: kernels run in
Triton's interpreter, the verdict says so and carries no timing.

Stages: static (AST) -> compile (load both programs, copy the perturbed reference weights) ->
correctness (trials with fresh seeds and input distributions, at the given size and at a batch
size that is not a power of two where the reference accepts it) -> timing (GPU only, under the
GPU lock) -> correctness again on fresh inputs.
"""

from __future__ import annotations

import argparse
import copy
import functools
import importlib.util
import itertools
import json
import os
import platform
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the directory holding kcorpus/

from kcorpus.verify import codes, static  # noqa: E402  (standard library only)
from kcorpus.verify.pool import GpuLock, PoolConfig, serve  # noqa: E402

_COMPILE_ERRORS = {"CompilationError", "CompileTimeAssertionFailure", "InterpreterError",
                   "UnsupportedLanguageConstruct"}
_CUDA_FAULT_TEXT = ("cuda error", "triton error [cuda]", "illegal memory access",
                    "illegal address", "misaligned address")
_OOM_TEXT = ("out of memory", "can't allocate memory", "cannot allocate memory")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    results = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything printed, even from C, goes to stderr
    _preload(args.device)

    if args.single:
        lock = GpuLock(Path(os.environ.get("TMPDIR", "/tmp")) / "kcorpus-gpu.lock")
        for line in sys.stdin:
            if line.strip():
                results.write(json.dumps(run_job(json.loads(line), lock, lambda _: None)) + "\n")
        return 0
    cfg = PoolConfig(args.parallel, args.timeout, args.memory_mb, args.device)
    serve(cfg, run_job, sys.stdin, results)
    return 0


def _preload(device: str) -> None:
    """Import what every candidate needs once, here: forked children inherit it. Nothing that
    touches the CUDA driver may run in this process (a forked child could not use CUDA then):
    `kcorpus/bench/fork_probe.py` found torch._inductor.compile_fx does (torch 2.11, H200),
    while the modules below are safe."""
    import torch
    import triton  # noqa: F401

    from kcorpus.verify import correctness, instrument, timing  # noqa: F401

    if device == "cuda":  # the torch.compile baseline: seconds of imports saved per candidate
        _driver()  # nvidia-smi once here (no CUDA in this process); children inherit the answer
        import torch._dynamo  # noqa: F401
        import torch._inductor.async_compile  # noqa: F401
        import torch._inductor.codecache  # noqa: F401
        import triton.compiler.compiler  # noqa: F401

    if torch.cuda.is_initialized():
        raise RuntimeError("CUDA was initialised in the fork server")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--single", action="store_true", help="run jobs in this process")
    p.add_argument("--parallel", type=int, default=4, help="candidates checked at once")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per candidate")
    p.add_argument("--memory-mb", type=int, default=8192, help="address space per candidate (CPU)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    return p


def run_job(job: dict, lock: GpuLock, report) -> dict:
    _torch_setup()
    if job.get("kind") == "probe":
        from kcorpus.verify.probe import probe

        return probe(job, lambda code: _module("kc_reference", code))
    if job.get("kind") == "inductor":
        from kcorpus.verify.inductor_gen import generate

        return generate(job, lambda code: _module("kc_reference", code))
    t0 = time.perf_counter()
    verdict = _context(job.get("device", "cpu"))
    verdict.update(id=job.get("id"), passed=False, stage="static", failure_code="", message="",
                   static_flags=[], torch_ops=[], flags=[], trials=0, triton_launches=0,
                   forward_timeout_s=float(job.get("forward_timeout_s", 10.0)))
    try:
        _stages(job, verdict, lock, report)
    except Exception as e:  # classified where raised; this is the backstop
        _fail(verdict, _runtime_code(e), _describe(e))
    try:
        _sync()
    except Exception as e:  # a CUDA fault is sticky: it surfaces here if not before
        if verdict["passed"] or not verdict["failure_code"]:
            _fail(verdict, codes.CRASH, f"CUDA fault: {_describe(e)}")
    verdict["seconds"] = round(time.perf_counter() - t0, 4)
    return verdict


def _torch_setup() -> None:
    import torch

    torch.set_num_threads(int(os.environ.get("KCORPUS_WORKER_THREADS", "1")))


def _stages(job: dict, verdict: dict, lock: GpuLock, report) -> None:
    generated = job.get("generated", "")
    lenient = bool(job.get("lenient", False)) or generated == "inductor"  # ops are recorded
    result = static.check(job["candidate_code"], lenient=lenient, generated=generated)
    verdict.update(static_flags=result.flags, torch_ops=result.torch_ops)
    if not result.passed:
        return _fail(verdict, result.failure_code, result.message)
    verdict["stage"] = "compile"
    from kcorpus.verify import instrument

    counter = instrument.LaunchCounter().install(inductor=generated == "inductor")
    phases = verdict.setdefault("phase_seconds", {})
    t = time.perf_counter()
    try:
        loaded = _load(job, verdict)
        phases["load"] = round(time.perf_counter() - t, 3)
        if loaded is None:
            return None
        verdict["stage"] = "correctness"
        t = time.perf_counter()
        ok = _correctness(job, verdict, *loaded, counter, lenient)
        phases["correctness"] = round(time.perf_counter() - t, 3)
        if ok and job.get("device") == "cuda":
            verdict["stage"] = "timing"
            t = time.perf_counter()
            _timing(job, verdict, *loaded, counter, lenient, lock, report)
            phases["timing"] = round(time.perf_counter() - t, 3)
    finally:
        counter.uninstall()
    return None


def _load(job: dict, verdict: dict):
    import torch

    from kcorpus.verify.correctness import perturb_weights

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
    perturb_weights(ref, job.get("seed", 0))
    try:
        cand.load_state_dict(ref.state_dict(), strict=False)
    except Exception as e:
        return _fail(verdict, codes.STATE_DICT_MISMATCH, _describe(e))
    device = job.get("device", "cpu")
    return ref_mod, ref.to(device), cand.to(device)


def _inputs(ref_mod, seed: int, dist: str, resize: bool, device: str) -> list:
    import torch

    from kcorpus.verify import correctness

    inputs = correctness.draw_inputs(ref_mod.get_inputs, seed, dist)
    if resize:
        inputs = correctness.resize_batch(inputs, seed) or inputs
    return [x.to(device) if isinstance(x, torch.Tensor) else x for x in inputs]


def _resizable(ref_mod, ref, seed: int, device: str) -> bool:
    """Whether the reference accepts inputs whose batch size is not a power of two."""
    from kcorpus.verify import correctness, instrument

    try:
        inputs = correctness.resize_batch(correctness.draw_inputs(ref_mod.get_inputs, seed, "given"),
                                          seed)
        if inputs is None:
            return False
        import torch
        inputs = [x.to(device) if isinstance(x, torch.Tensor) else x for x in inputs]
        instrument.no_grad_forward(ref, inputs)
        return True
    except Exception:
        return False


def _correctness(job, verdict, ref_mod, ref, cand, counter, lenient, trials=None, offset=0
                 ) -> bool:
    from kcorpus.verify import correctness

    device = job.get("device", "cpu")
    seed0 = int(job.get("seed", 0)) * 1000 + offset
    resize = _resizable(ref_mod, ref, seed0 + 999, device)
    sizes = ["given", "resized"] if resize else ["given"]
    if not resize:
        verdict["flags"].append("single_size")
    errors = correctness.Errors()
    ops: set[str] = set()
    n = int(trials if trials is not None else job.get("trials", 5))
    for trial in range(n):
        dist = correctness.DISTRIBUTIONS[trial % len(correctness.DISTRIBUTIONS)]
        size = sizes[trial % len(sizes)]
        resize = size == "resized"
        inputs = _inputs(ref_mod, seed0 + trial, dist, resize, device)
        # trial 1 first runs the candidate on other values in the same buffers: a candidate
        # that caches results by input identity (address) returns stale outputs and fails
        prime = _inputs(ref_mod, seed0 + trial + 50_000, dist, resize, device) if trial == 1 else None
        failure = _trial(ref, cand, inputs, counter, ops, lenient, errors, verdict, prime)
        verdict.update(trials=verdict["trials"] + 1, max_abs_err=errors.max_abs,
                       max_rel_err=errors.max_rel)
        if failure is not None:
            _fail(verdict, failure[0], f"trial {trial} ({dist} inputs, {size} size): {failure[1]}")
            return False
    verdict["checks"] = json.dumps({"trials": verdict["trials"], "sizes": sizes,
                                    "distributions": list(correctness.DISTRIBUTIONS[:n])})
    verdict.update(passed=True, failure_code="", message="")
    return True


def _trial(ref, cand, inputs, counter, ops, lenient, errors, verdict, prime=None):
    """One correctness trial: the candidate first (so it cannot find the reference's freed
    output in memory), then the reference; returns (code, message) on failure. With `prime`,
    the candidate first runs on those values, then on `inputs` copied into the same buffers."""
    from kcorpus.verify import correctness, instrument

    cand_in, pristine = correctness.clone_all(prime or inputs), correctness.clone_all(inputs)
    recorder = instrument.OpRecorder()
    watchdog = instrument.ForwardWatchdog(counter, verdict["forward_timeout_s"])
    try:
        if prime is not None:
            with recorder, watchdog:
                instrument.no_grad_forward(cand, cand_in)
            correctness.copy_into(cand_in, inputs)
        counter.count = 0
        with recorder, watchdog:
            cand_out = instrument.no_grad_forward(cand, cand_in)
        _sync()
    except instrument.CandidateHang as e:
        return codes.TIMEOUT, str(e)
    except Exception as e:
        return _runtime_code(e), _describe(e)
    verdict["triton_launches"] = max(verdict["triton_launches"], counter.count)
    ops |= set(recorder.compute_ops())
    verdict["torch_ops"] = sorted(ops | set(verdict["torch_ops"]))
    try:
        ref_out = instrument.no_grad_forward(ref, correctness.clone_all(inputs))
    except Exception as e:
        return codes.REFERENCE_ERROR, f"the reference failed: {_describe(e)}"
    try:
        if counter.count == 0:
            raise correctness.CheckFailed(codes.NO_TRITON_LAUNCH, "forward launched no Triton kernel")
        if ops and not lenient:
            raise correctness.CheckFailed(codes.TORCH_OPS,
                                          f"forward ran torch compute ops: {', '.join(sorted(ops))}")
        correctness.check_inputs_unchanged(pristine, cand_in)
        flat = correctness.flatten(cand_out)
        correctness.check_fresh(flat, cand_in)
        correctness.compare(correctness.flatten(ref_out), flat, tf32=verdict["tf32"], errors=errors)
    except correctness.CheckFailed as f:
        return f.code, str(f)
    return None


def _timing(job, verdict, ref_mod, ref, cand, counter, lenient, lock, report) -> None:
    import torch

    from kcorpus.verify import correctness, instrument, timing

    cfg = timing.TimingConfig(**job.get("timing", {}))
    sets = [_inputs(ref_mod, 7_000_000 + i, "given", False, "cuda") for i in range(cfg.input_sets)]
    fns = {"eager": lambda *xs: instrument.no_grad_forward(ref, list(xs)),
           "candidate": lambda *xs: instrument.no_grad_forward(cand, list(xs))}
    t = time.perf_counter()
    try:  # compile outside the GPU lock: it is CPU work
        compiled = torch.compile(ref)
        instrument.no_grad_forward(compiled, sets[0])
        verdict["phase_seconds"]["torch_compile"] = round(time.perf_counter() - t, 3)
        fns["compile"] = lambda *xs: instrument.no_grad_forward(compiled, list(xs))
    except Exception as e:
        verdict["flags"].append("torch_compile_failed")
        verdict["compile_error"] = _describe(e)[:300]
    for xs in sets:  # warm every path (autotuning included) before taking the lock
        fns["candidate"](*xs)
    torch.cuda.synchronize()
    with lock.hold(report):
        spreads, last = timing.time_interleaved(fns, sets, cfg)
    try:  # the last timed round's outputs, on the same values, must agree
        correctness.compare(correctness.flatten(last["eager"]), correctness.flatten(last["candidate"]),
                            tf32=verdict["tf32"], errors=correctness.Errors())
    except correctness.CheckFailed as f:
        return _fail(verdict, f.code, f"during timing: {f}")
    verdict.update(eager_ms=spreads["eager"].median_ms, candidate_ms=spreads["candidate"].median_ms,
                   compile_ms=spreads["compile"].median_ms if "compile" in spreads else None,
                   timing=json.dumps(timing.describe(cfg, spreads, verdict["tf32"])))
    verdict["speedup_eager"] = verdict["eager_ms"] / max(verdict["candidate_ms"], 1e-9)
    if verdict["compile_ms"] is not None:
        verdict["speedup_compile"] = verdict["compile_ms"] / max(verdict["candidate_ms"], 1e-9)
    if max(verdict["speedup_eager"], verdict.get("speedup_compile") or 0) > timing.SPEEDUP_AUDIT:
        verdict["flags"].append("speedup_over_10x")
    # correctness again, after timing, on fresh inputs: a candidate that behaves only while
    # it is being checked, or caches across calls, fails here
    checks = verdict["checks"]
    if _correctness(job, verdict, ref_mod, ref, cand, counter, lenient, trials=2, offset=500):
        verdict["checks"] = checks
    else:
        verdict["message"] = "after timing: " + verdict["message"]
        verdict["stage"] = "timing"


def _sync() -> None:
    import torch

    if torch.cuda.is_initialized():
        torch.cuda.synchronize()


_LOADED = itertools.count()


def _module(name: str, code: str) -> types.ModuleType:
    """Load `code` as module `name` from a file in the working directory: Triton's JIT reads
    kernel source from the file, and dataclasses look modules up in sys.modules."""
    path = Path.cwd() / f"{name}_{next(_LOADED)}.py"  # a new file each time: no stale linecache
    path.write_text(code)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def _runtime_code(e: BaseException) -> str:
    """OOM, COMPILE_ERROR (Triton could not build or trace a kernel) or RUNTIME_ERROR."""
    names = {t.__name__ for t in type(e).__mro__}
    text = str(e).lower()
    if isinstance(e, MemoryError) or "OutOfMemoryError" in names or any(t in text for t in _OOM_TEXT):
        return codes.OOM
    if "AcceleratorError" in names or any(t in text for t in _CUDA_FAULT_TEXT):
        return codes.CRASH  # a CUDA fault: the context is lost, as if the process had died
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
        from kcorpus.verify.timing import fix_tf32

        major, minor = torch.cuda.get_device_capability()
        ctx.update(gpu_arch=f"sm_{major}{minor}", gpu_name=torch.cuda.get_device_name(),
                   driver=_driver(), cuda_version=str(torch.version.cuda), tf32=fix_tf32(False))
    else:
        ctx.update(gpu_arch="cpu", gpu_name=platform.processor() or platform.machine(), driver="")
    return ctx


@functools.cache
def _driver() -> str:
    try:
        import subprocess
        out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=10)
        return out.stdout.strip().splitlines()[0] if out.returncode == 0 else ""
    except Exception:
        return ""


if __name__ == "__main__":
    sys.exit(main())
