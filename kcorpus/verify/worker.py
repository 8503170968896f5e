"""Verification worker: jobs in (JSON lines on stdin), verdicts out (JSON lines on stdout).

Runs on GPU nodes and in CI with only the standard library, torch and triton:

    python kcorpus/verify/worker.py [--parallel N] [--timeout S] [--memory-mb M] < jobs.jsonl

By default it is a fork server (pool.py): one forked child per candidate, N at a time. With
`--single` it runs the jobs in its own process, one after another (the pipeline uses that only
for the fresh-process baseline). Untrusted code runs here, never in the pipeline's process;
what candidates print goes to stderr, stdout carries only verdicts.

A job: {"id", "problem_code", "candidate_code", "device": "cpu"|"cuda", "trials", "seed",
"lenient", "forward_timeout_s", "generated", "timing": {TimingConfig's fields: "warmup",
"trials", "budget_s"...}, "cut"}; `generated`
("inductor") marks a program kcorpus generated itself (see static.check). Other job kinds:
"probe" (verify/probe.py), "inductor" (verify/inductor_gen.py) and "kernel_check"
(verify/kernel_check.py). `forward_timeout_s` bounds the
Python a candidate's forward may run outside Triton launches and compiles (default 10 s).
`cut` (CPU only) is the smaller batch the problems stage checked the problem at (probe.Cut).
On the CPU set TRITON_INTERPRET=1: kernels run in
Triton's interpreter, the verdict says so and carries no timing.

Stages: static (AST) -> compile (load both programs, copy the perturbed reference weights) ->
correctness (trials with fresh seeds and the input distributions that keep the problem's
domain, at the given size and at a batch size that is not a power of two where the reference
accepts it; ATen ops and host traffic recorded) -> provenance (kernel ablation: forward again
with the candidate's own kernels poisoning their arguments instead of running; outputs still
correct were not computed by them) -> timing (GPU only, under the GPU lock, fresh input values
every round) -> correctness and ablation again on fresh inputs.

Each forked child is confined first (isolation.py: Landlock, a network namespace, an audit
hook); the verdict's `sandbox` says what was applied, and anything the audit saw the candidate
try outside its sandbox fails it with SANDBOX_VIOLATION.
"""

from __future__ import annotations

import argparse
import copy
import functools
import gc
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

from kcorpus.verify import codes, isolation, static  # noqa: E402  (standard library only)
from kcorpus.verify.pool import GpuLock, PoolConfig, serve  # noqa: E402

_COMPILE_ERRORS = {"CompilationError", "CompileTimeAssertionFailure", "InterpreterError",
                   "UnsupportedLanguageConstruct"}
_CUDA_FAULT_TEXT = ("cuda error", "triton error [cuda]", "illegal memory access",
                    "illegal address", "misaligned address")
_OOM_TEXT = ("out of memory", "can't allocate memory", "cannot allocate memory")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sys.dont_write_bytecode = True  # -I ignores PYTHONDONTWRITEBYTECODE; children must not write .pyc
    results = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything printed, even from C, goes to stderr
    _preload(args.device)

    if args.single:
        lock = GpuLock(Path(os.environ.get("TMPDIR", "/tmp")) / "kcorpus-gpu.lock")
        lines = sys.stdin.readlines()  # before confine() closes stdin
        if not args.no_isolate:
            lock.path.touch()
            caches = [os.environ.get(k, "") for k in ("TRITON_CACHE_DIR", "TORCHINDUCTOR_CACHE_DIR")]
            for cache in filter(None, caches):
                Path(cache).mkdir(parents=True, exist_ok=True)
            isolation.confine(isolation.Paths(write=[str(Path.cwd()), str(lock.path), *caches]))
        for line in lines:
            if line.strip():
                results.write(json.dumps(run_job(json.loads(line), lock, lambda _: None)) + "\n")
        return 0
    cfg = PoolConfig(args.parallel, args.timeout, args.memory_mb, args.device, args.tune_budget,
                     not args.no_isolate, args.admit_mb)
    serve(cfg, run_job, sys.stdin, results)
    return 0


def _preload(device: str) -> None:
    """Import what every candidate needs once, here: forked children inherit it. Nothing that
    touches the CUDA driver may run in this process (a forked child could not use CUDA then).
    Importing torch._inductor.compile_fx asks `torch.cuda.is_available()` once, which counts
    devices through the CUDA runtime, unless PYTORCH_NVML_BASED_CUDA_CHECK=1 (sandbox.py sets
    it) makes torch count them through NVML. With it, the torch.compile in a child took 2.5 s
    instead of 7.4 s (kcorpus/bench/child_costs.py, H200, RESULTS.md)."""
    import torch
    import triton  # noqa: F401

    from kcorpus.verify import correctness, instrument, timing  # noqa: F401
    # the probe's shape pass: FakeTensorMode imports torch._dynamo, seconds a child need not spend
    from kcorpus.verify import figures, probe  # noqa: F401
    import torch._subclasses.fake_tensor  # noqa: F401
    import torch.utils.flop_counter  # noqa: F401

    if device == "cuda":  # the torch.compile baseline: seconds of imports saved per candidate
        _driver()  # nvidia-smi once here (no CUDA in this process); children inherit the answer
        import torch._dynamo  # noqa: F401
        import torch._inductor.async_compile  # noqa: F401
        import torch._inductor.codecache  # noqa: F401
        import triton.compiler.compiler  # noqa: F401
        if _nvml_counts_devices():
            import torch._inductor.compile_fx  # noqa: F401
            import torch._inductor.select_algorithm  # noqa: F401

    if torch.cuda.is_initialized() or _children_in_bad_fork():
        raise RuntimeError("the fork server's imports touched the CUDA driver: forked children "
                           "could not use CUDA (worker._preload)")


def _nvml_counts_devices() -> bool:
    """Whether torch.cuda.is_available() here asks NVML, not the CUDA runtime (which would make
    every forked child fail to initialise CUDA)."""
    import torch

    if os.environ.get("PYTORCH_NVML_BASED_CUDA_CHECK") != "1":
        return False
    try:
        return torch.cuda._raw_device_count_nvml() > 0
    except Exception:  # no NVML on this box: torch would fall back to the CUDA runtime
        return False


def _children_in_bad_fork() -> bool:
    """Fork once and ask the child whether torch would refuse CUDA there: the CUDA runtime
    having been initialised in this process is not visible in torch.cuda.is_initialized()."""
    import torch

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(w, b"1" if torch.cuda._is_in_bad_fork() else b"0")
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    answer = os.read(r, 1)
    os.close(r)
    return answer == b"1"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--single", action="store_true", help="run jobs in this process")
    p.add_argument("--parallel", type=int, default=4, help="candidates checked at once")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per candidate")
    p.add_argument("--memory-mb", type=int, default=8192, help="address space per candidate (CPU)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--tune-budget", type=float, default=300.0,
                   help="seconds of compiling and autotuning per candidate, apart from --timeout")
    p.add_argument("--admit-mb", type=float, default=0.0,
                   help="MB the running jobs' memory_mb estimates may add up to (0: no limit)")
    p.add_argument("--no-isolate", action="store_true",
                   help="no Landlock or network namespace (verdicts then say sandbox: none)")
    return p


def run_job(job: dict, lock: GpuLock, report) -> dict:
    _torch_setup()
    if job.get("kind") == "probe":
        from kcorpus.verify.probe import probe

        return probe(job, lambda code: _module("kc_reference", code))
    if job.get("kind") == "kernel_check":
        from kcorpus.verify.kernel_check import check

        return check(job, lambda code: _module("kc_kernel", code))
    if job.get("kind") == "baseline":
        from kcorpus.verify.baseline import compile_reference

        return compile_reference(job, lambda code: _module("kc_reference", code))
    if job.get("kind") == "shared":
        return run_shared(job, lock, report)
    if job.get("kind") == "inductor":
        from kcorpus.verify.inductor_gen import generate

        return {**generate(job, lambda code: _module("kc_reference", code)),
                "gpu_peak_mb": gpu_peak_mb()}
    t0 = time.perf_counter()
    REFUSED_IMPORTS.clear()  # what one job tried is its own (--single runs several in a process)
    isolation.VIOLATIONS.clear()
    verdict = _context(job.get("device", "cpu"))
    verdict.update(id=job.get("id"), passed=False, stage="static", failure_code="", message="",
                   static_flags=[], torch_ops=[], flags=[], trials=0, triton_launches=0,
                   forward_timeout_s=float(job.get("forward_timeout_s", 10.0)),
                   sandbox=isolation.LABEL)
    try:
        _stages(job, verdict, lock, report)
    except Exception as e:  # classified where raised; this is the backstop
        _fail(verdict, _runtime_code(e), _describe(e))
    if REFUSED_IMPORTS:
        _fail(verdict, codes.FORBIDDEN_IMPORT, f"imported at run time: {REFUSED_IMPORTS[0]}")
    if isolation.VIOLATIONS:  # whatever else happened, this is why
        tried = isolation.VIOLATIONS
        _fail(verdict, codes.SANDBOX_VIOLATION, f"tried {len(tried)} thing(s) outside the sandbox: "
              + "; ".join(tried[:5]))
    try:
        _sync()
    except Exception as e:  # a CUDA fault is sticky: it surfaces here if not before
        if verdict["passed"] or not verdict["failure_code"]:
            _fail(verdict, codes.CRASH, f"CUDA fault: {_describe(e)}")
    verdict["seconds"] = round(time.perf_counter() - t0, 4)
    verdict["gpu_peak_mb"] = gpu_peak_mb()
    return verdict


def gpu_peak_mb() -> float | None:
    """The most memory this process's CUDA allocator held at once (None off the GPU)."""
    import torch

    if not (torch.cuda.is_available() and torch.cuda.is_initialized()):
        return None
    return round(torch.cuda.max_memory_reserved() / 2**20, 1)


def run_shared(job: dict, lock: GpuLock, report) -> dict:
    """The jobs of a shared child (shared_child.py), one after another, each answer reported
    as it ends. One that ran out of memory is reported for a run alone; after a CUDA error
    (the context is lost for every later job) the job is reported so and the rest are left."""
    import torch

    dtype = torch.get_default_dtype()
    for sub in job["jobs"]:
        answer = run_job(sub, lock, report)
        healthy = _cuda_healthy()
        suspect = not healthy or "out of memory" in json.dumps(answer).lower()
        report("part", answer={"id": sub["id"], "retry": True} if suspect else answer)
        if not healthy:
            break
        torch.set_default_dtype(dtype)  # what one module set is not the next one's
        torch.set_grad_enabled(True)
        gc.collect()
        if torch.cuda.is_initialized():
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()  # each job's gpu_peak_mb is its own
    return {"id": job["id"]}


def _cuda_healthy() -> bool:
    import torch

    try:
        if torch.cuda.is_initialized():
            torch.cuda.synchronize()
        return True
    except Exception:  # noqa: BLE001  (a sticky CUDA error: this context is done)
        return False


def _torch_setup() -> None:
    import torch

    torch.set_num_threads(int(os.environ.get("KCORPUS_WORKER_THREADS", "1")))


def _stages(job: dict, verdict: dict, lock: GpuLock, report) -> None:
    generated = job.get("generated", "")
    lenient = bool(job.get("lenient", False)) or generated == "inductor"  # ops are recorded
    result = static.check(job["candidate_code"], lenient=lenient, generated=generated)
    verdict.update(static_flags=result.flags, torch_ops=result.torch_ops)
    if not result.passed:
        return _reject(verdict, result.failure_code, result.message)
    verdict["stage"] = "compile"
    from kcorpus.verify import instrument

    counter = instrument.LaunchCounter(report).install(inductor=generated == "inductor")
    phases = verdict.setdefault("phase_seconds", {})
    t = time.perf_counter()
    try:
        loaded = _load(job, verdict, counter)
        phases["load"] = round(time.perf_counter() - t, 3)
        if loaded is None:
            return None
        run = _Run(job, verdict, *loaded, counter, lenient)
        for stage, step in (("correctness", _correctness), ("provenance", _ablation)):
            verdict["stage"] = stage
            t = time.perf_counter()
            ok = step(run)
            phases[stage] = round(time.perf_counter() - t, 3)
            if not ok:
                return None
        if job.get("device") == "cuda":
            verdict["stage"] = "timing"
            t = time.perf_counter()
            _timing(run, lock, report)
            phases["timing"] = round(time.perf_counter() - t, 3)
    finally:
        counter.uninstall()
    return None


class _Run:
    """One candidate against its problem: what every check after loading needs."""

    def __init__(self, job, verdict, ref_mod, ref, cand, counter, lenient):
        from kcorpus.verify import correctness

        self.job, self.verdict, self.ref_mod, self.ref, self.cand = job, verdict, ref_mod, ref, cand
        self.counter, self.lenient = counter, lenient
        self.device = job.get("device", "cpu")
        self.compute_ops: set[str] = set()  # ATen compute ops seen at run time (glue included)
        self.seed = int(job.get("seed", 0)) * 1000
        self.domain = correctness.infer_domain(ref_mod.get_inputs, self.seed + 777,
                                               device=self.device)
        self.distributions, self.skipped = correctness.usable_distributions(
            ref_mod.get_inputs, self.seed + 778, self.domain, self.device)

    def inputs(self, seed: int, dist: str = "given", resize: bool = False) -> list:
        return _inputs(self.ref_mod, seed, dist, resize, self.device, self.domain)


def _load(job: dict, verdict: dict, counter):
    import torch

    from kcorpus.verify.correctness import perturb_weights

    try:
        ref_mod = _module("kc_reference", job["problem_code"])
        if job.get("cut"):  # the smaller batch the problems stage checked this problem at
            from kcorpus.verify.probe import Cut

            Cut.of(job["cut"]).onto(ref_mod)
        init = ref_mod.get_init_inputs()
        torch.manual_seed(job.get("seed", 0))
        ref = ref_mod.Model(*init)
    except Exception as e:
        return _fail(verdict, codes.REFERENCE_ERROR, f"the reference failed: {_describe(e)}")
    _guard_imports(counter)
    try:
        cand_mod = _module("kc_candidate", job["candidate_code"])
        counter.own(cand_mod.__file__)
        cand = cand_mod.ModelNew(*copy.deepcopy(init))
    except Exception as e:
        code = _runtime_code(e)
        keep = (codes.SANDBOX_VIOLATION, codes.INTERPRETER_UNSUPPORTED)
        return _fail(verdict, code if code in keep else codes.COMPILE_ERROR, _describe(e))
    perturb_weights(ref, job.get("seed", 0))
    try:
        cand.load_state_dict(ref.state_dict(), strict=False)
    except Exception as e:
        return _fail(verdict, codes.STATE_DICT_MISMATCH, _describe(e))
    device = job.get("device", "cpu")
    return ref_mod, ref.to(device), cand.to(device)


REFUSED_IMPORTS: list[str] = []


def _guard_imports(counter) -> None:
    """`importlib.import_module` called from the candidate's own file refuses the modules the
    static check denies (the name may be built at run time there); each refusal fails the
    candidate even if it catches the ImportError."""
    import importlib

    real = importlib.import_module
    if getattr(real, "_kcorpus_guard", False):
        return

    def import_module(name, package=None):
        why = static.denied_module(name)
        if why and sys._getframe(1).f_code.co_filename in counter.own_files:
            REFUSED_IMPORTS.append(f"{name}: {why}")
            raise ImportError(f"{name} may not be imported by a candidate: {why}")
        return real(name, package)

    import_module._kcorpus_guard = True
    importlib.import_module = import_module


def _inputs(ref_mod, seed: int, dist: str, resize: bool, device: str, domain=None) -> list:
    from kcorpus.verify import correctness

    inputs = correctness.draw_inputs(ref_mod.get_inputs, seed, dist, domain, device)
    return (correctness.resize_batch(inputs, seed) or inputs) if resize else inputs


def _resizable(ref_mod, ref, seed: int, device: str) -> bool:
    """Whether the reference accepts inputs whose batch size is not a power of two."""
    from kcorpus.verify import correctness, instrument

    try:
        drawn = correctness.draw_inputs(ref_mod.get_inputs, seed, "given", device=device)
        inputs = correctness.resize_batch(drawn, seed)
        del drawn
        if inputs is None:
            return False
        instrument.no_grad_forward(ref, inputs)
        return True
    except Exception:
        return False


def _correctness(run: _Run, trials: int | None = None, offset: int = 0) -> bool:
    from kcorpus.verify import correctness

    verdict = run.verdict
    seed0 = run.seed + offset
    resize = _resizable(run.ref_mod, run.ref, seed0 + 999, run.device)
    sizes = ["given", "resized"] if resize else ["given"]
    if not resize and "single_size" not in verdict["flags"]:
        verdict["flags"].append("single_size")
    errors = correctness.Errors()
    ops: set[str] = set()
    n = int(trials if trials is not None else run.job.get("trials", 5))
    used, skipped = [], dict(run.skipped)
    for attempt in range(2 * n):
        if len(used) == n:
            break
        trial = len(used)
        dist = run.distributions[attempt % len(run.distributions)]
        size = sizes[trial % len(sizes)]
        inputs = run.inputs(seed0 + attempt, dist, size == "resized")
        # trial 1 first runs the candidate on other values in the same buffers: a candidate
        # that caches results by input identity (address) returns stale outputs and fails
        prime = run.inputs(seed0 + attempt + 50_000, dist, size == "resized") if trial == 1 else None
        try:
            failure = _trial(run, inputs, ops, errors, prime, redrawn=dist != "given")
        except correctness.Skipped as s:
            skipped[f"{dist} (seed {seed0 + attempt})"] = str(s)
            continue
        used.append(dist)
        verdict.update(trials=verdict["trials"] + 1, max_abs_err=errors.max_abs,
                       max_rel_err=errors.max_rel)
        if failure is not None:
            _fail(verdict, failure[0], f"trial {trial} ({dist} inputs, {size} size): {failure[1]}")
            return False
    verdict["checks"] = json.dumps({"trials": len(used), "sizes": sizes, "distributions": used,
                                    "skipped": skipped})
    verdict.update(passed=True, failure_code="", message="")
    return True


GLUE_FRACTION = 0.25  # torch compute over at most this share of the problem's size is glue


def _observed(run: _Run, recorder, ops: set[str], tensors: list) -> tuple[str, str] | None:
    """What the recorder saw that fails the candidate: host compute, or torch compute ops that
    did more than glue (a loss summed over rows, a mask of the labels: real kernels' launchers
    do that) -- more than GLUE_FRACTION of the elements of the forward's largest input or
    output. Glue is recorded in torch_ops, so the pair is not labelled pure Triton."""
    ops |= set(recorder.compute_ops())
    run.compute_ops |= ops
    run.verdict["torch_ops"] = sorted(ops | set(run.verdict["torch_ops"]))
    host = recorder.host_compute()
    if host:
        return codes.HOST_COMPUTE, host
    if not recorder.compute_ops() or run.lenient:
        return None
    scale = max((t.numel() for t in tensors if hasattr(t, "numel")), default=0)
    if recorder.torch_work > GLUE_FRACTION * scale:
        return codes.TORCH_OPS, (f"forward ran torch compute ops ({', '.join(sorted(ops))}) over "
                                 f"{recorder.torch_work} elements; the problem's largest tensor "
                                 f"has {scale}")
    if "torch_glue" not in run.verdict["flags"]:
        run.verdict["flags"].append("torch_glue")
    return None


def _forward(run: _Run, inputs: list, recorder):
    """The candidate's forward under the recorder and the watchdog; raises what it raised."""
    from kcorpus.verify import instrument

    with recorder, instrument.ForwardWatchdog(run.counter, run.verdict["forward_timeout_s"]):
        out = instrument.no_grad_forward(run.cand, inputs)
    _sync()
    return out


def _trial(run: _Run, inputs, ops, errors, prime=None, redrawn=False):
    """One correctness trial: the candidate first (so it cannot find the reference's freed
    output in memory), then the reference; returns (code, message) on failure. With `prime`,
    the candidate first runs on those values, then on `inputs` copied into the same buffers.
    Raises Skipped when a redraw made the reference non-finite."""
    from kcorpus.verify import correctness, instrument

    counter, verdict = run.counter, run.verdict
    # `inputs` itself never reaches the candidate or the reference: it is the pristine copy
    cand_in = correctness.clone_all(prime or inputs)
    recorder = instrument.OpRecorder()
    try:
        if prime is not None:
            _forward(run, cand_in, recorder)
            correctness.copy_into(cand_in, inputs)
        counter.count = counter.own_launches = counter.own_failed = 0
        cand_out = _forward(run, cand_in, recorder)
    except instrument.CandidateHang as e:
        return codes.TIMEOUT, str(e)
    except instrument.Tampered as e:
        return codes.PATCHING, str(e)
    except Exception as e:
        return _runtime_code(e), _describe(e)
    verdict["triton_launches"] = max(verdict["triton_launches"], counter.count)
    try:
        ref_out = instrument.no_grad_forward(run.ref, correctness.clone_all(inputs))
    except Exception as e:
        return codes.REFERENCE_ERROR, f"the reference failed: {_describe(e)}"
    if redrawn and not correctness.finite(correctness.flatten(ref_out)):
        raise correctness.Skipped("the reference is not finite on these inputs")
    try:
        if counter.count == 0 and not counter.own_failed:
            raise correctness.CheckFailed(codes.NO_TRITON_LAUNCH, "forward launched no Triton kernel")
        flat = correctness.flatten(cand_out)
        seen = _observed(run, recorder, ops, cand_in + flat)
        if seen:
            raise correctness.CheckFailed(*seen)
        if counter.own_failed and not counter.own_launches:
            raise correctness.CheckFailed(codes.KERNEL_NOT_USED, "every launch of the candidate's "
                                          "own kernels failed, yet forward returned: its output "
                                          "came from elsewhere (a fallback)")
        correctness.check_inputs_unchanged(inputs, cand_in)
        correctness.check_fresh(flat, cand_in)
        correctness.compare(correctness.flatten(ref_out), flat, tf32=verdict["tf32"], errors=errors)
    except correctness.CheckFailed as f:
        return f.code, str(f)
    return None


def _ablation(run: _Run, offset: int = 0) -> bool:
    """Kernel ablation: forward again on a trial's inputs with every launch of the candidate's own
    kernels replaced by one that poisons its tensor arguments and does no work. An output that
    is still correct was not computed by those kernels: KERNEL_NOT_USED. A candidate with no
    torch compute needs every tensor output computed by them; one with torch glue or a lenient
    one (a partial conversion) at least one."""
    import torch

    from kcorpus.verify import correctness, instrument

    counter, verdict = run.counter, run.verdict
    # the inputs of the first trial again: a candidate that memoises outputs by input values
    # returns its cached copy without launching anything, which the ablation then sees
    inputs = run.inputs(run.seed + offset)
    ref_out = correctness.flatten(instrument.no_grad_forward(run.ref, correctness.clone_all(inputs)))
    counter.ghost, counter.poisoned, counter.own_launches = True, 0, 0
    recorder, crashed = instrument.OpRecorder(), ""
    try:
        out = correctness.flatten(_forward(run, correctness.clone_all(inputs), recorder))
        out = [o.detach().clone() if isinstance(o, torch.Tensor) else o for o in out]
    except instrument.CandidateHang as e:
        return _reject(verdict, codes.TIMEOUT, f"with its kernels ablated: {e}")
    except Exception as e:  # poisoned values broke what came after: the kernels mattered
        out, crashed = None, _describe(e)[:300]
    finally:
        counter.ghost = False
        counter.restore()
    seen = _observed(run, recorder, set(), inputs + ref_out)
    if seen:
        return _reject(verdict, seen[0], f"with its kernels ablated: {seen[1]}")
    tensors = [i for i, r in enumerate(ref_out) if isinstance(r, torch.Tensor) and r.numel()]
    unaffected = [] if out is None else [i for i in tensors if _still_correct(ref_out[i], out, i)]
    verdict["ablation"] = json.dumps({
        "own_kernels": sorted(counter.own_names), "own_launches": counter.own_launches,
        "poisoned_tensors": counter.poisoned, "outputs": len(tensors),
        "computed_by_kernels": len(tensors) - len(unaffected), "crashed": crashed})
    if counter.own_launches == 0:
        return _reject(verdict, codes.KERNEL_NOT_USED, "forward launched none of the kernels its "
                     "own source defines")
    # with no torch compute at all, every output must come from the kernels; with torch ops
    # (glue, or a lenient partial conversion) an output may be torch's, but not all of them
    strict = not run.lenient and not run.compute_ops
    if unaffected and (strict or len(unaffected) == len(tensors)):
        names = ", ".join(sorted(counter.own_names))
        return _reject(verdict, codes.KERNEL_NOT_USED, f"output {unaffected[0]} stayed correct with "
                     f"the candidate's kernels ({names}) ablated: they did not compute it")
    verdict.update(passed=True, failure_code="", message="")
    return True


def _still_correct(ref, out: list, i: int) -> bool:
    from kcorpus.verify import correctness

    if i >= len(out):
        return False
    try:
        correctness.compare([ref], [out[i]], tf32=False, errors=correctness.Errors())
        return True
    except correctness.CheckFailed:
        return False


def _timing(run: _Run, lock: GpuLock, report) -> None:
    import torch

    from kcorpus.verify import correctness, instrument, timing

    verdict, ref, cand = run.verdict, run.ref, run.cand
    cfg = timing.TimingConfig(**run.job.get("timing", {}))
    draw, repeats = timing.fresh_inputs(
        lambda seed: correctness.draw_inputs(run.ref_mod.get_inputs, seed, "given"),
        cfg.warmup + cfg.trials, "cuda", cfg.max_cpu_sets)
    if repeats:
        verdict["flags"].append(f"timing_input_sets:{repeats}")
    fns = {"eager": lambda *xs: instrument.no_grad_forward(ref, list(xs)),
           "candidate": lambda *xs: instrument.no_grad_forward(cand, list(xs))}
    if cfg.compile_baseline:
        _compile_baseline(run, fns, draw)
    fns["candidate"](*draw(0))  # warm every path (autotuning included) before taking the lock
    torch.cuda.synchronize()
    t = time.perf_counter()
    with lock.hold(report):
        held = time.perf_counter()
        spreads, failures, trials = timing.time_interleaved(
            fns, draw, cfg, check=lambda outs: _same_answer(outs, verdict["tf32"]))
    verdict["phase_seconds"].update(gpu_lock_wait=round(held - t, 3),
                                    gpu_lock_held=round(time.perf_counter() - held, 3))
    for rnd, failure in failures.items():  # sampled timed rounds: same values, same answer
        if failure:
            return _fail(verdict, failure[0], f"during timing (round {rnd}): {failure[1]}")
    verdict.update(eager_ms=spreads["eager"].median_ms, candidate_ms=spreads["candidate"].median_ms,
                   compile_ms=spreads["compile"].median_ms if "compile" in spreads else None,
                   timing=json.dumps(timing.describe(cfg, spreads, verdict["tf32"], trials)))
    verdict["speedup_eager"] = verdict["eager_ms"] / max(verdict["candidate_ms"], 1e-9)
    if verdict["compile_ms"] is not None:
        verdict["speedup_compile"] = verdict["compile_ms"] / max(verdict["candidate_ms"], 1e-9)
    if max(verdict["speedup_eager"], verdict.get("speedup_compile") or 0) > timing.SPEEDUP_AUDIT:
        verdict["flags"].append("speedup_over_10x")
    # correctness and ablation again, after timing, on fresh inputs: a candidate that behaves
    # only while it is being checked, or caches across calls, fails here
    checks = verdict["checks"]
    if _correctness(run, trials=2, offset=500) and _ablation(run, offset=500):
        verdict["checks"] = checks
    else:
        verdict["message"] = "after timing: " + verdict["message"]
        verdict["stage"] = "timing"


def _compile_baseline(run: _Run, fns: dict, draw) -> None:
    """torch.compile of the reference, timed beside eager (compiled outside the GPU lock: it
    is CPU work), from the problem's seeded caches (caches.py)."""
    import torch

    from kcorpus.verify import instrument

    t = time.perf_counter()
    try:
        compiled = torch.compile(run.ref)
        instrument.no_grad_forward(compiled, draw(0))
        run.verdict["phase_seconds"]["torch_compile"] = round(time.perf_counter() - t, 3)
        fns["compile"] = lambda *xs: instrument.no_grad_forward(compiled, list(xs))
    except Exception as e:
        run.verdict["flags"].append("torch_compile_failed")
        run.verdict["compile_error"] = _describe(e)[:300]


def _same_answer(outs: dict, tf32: bool) -> tuple[str, str] | None:
    """(code, message) when a timed round's candidate output differs from eager's."""
    from kcorpus.verify import correctness

    try:
        correctness.compare(correctness.flatten(outs["eager"]), correctness.flatten(outs["candidate"]),
                            tf32=tf32, errors=correctness.Errors())
    except correctness.CheckFailed as f:
        return f.code, str(f)
    return None


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
    """OOM, SANDBOX_VIOLATION (the sandbox refused an access), INTERPRETER_UNSUPPORTED,
    COMPILE_ERROR (Triton could not build or trace a kernel) or RUNTIME_ERROR."""
    names = {t.__name__ for t in type(e).__mro__}
    text = str(e).lower()
    if isinstance(e, MemoryError) or "OutOfMemoryError" in names or any(t in text for t in _OOM_TEXT):
        return codes.OOM
    if isolation.LABEL != "none" and (isinstance(e, PermissionError) or "permission denied" in text):
        return codes.SANDBOX_VIOLATION
    if _interpreter_unsupported(e):
        return codes.INTERPRETER_UNSUPPORTED
    if "AcceleratorError" in names or any(t in text for t in _CUDA_FAULT_TEXT):
        return codes.CRASH  # a CUDA fault: the context is lost, as if the process had died
    return codes.COMPILE_ERROR if names & _COMPILE_ERRORS else codes.RUNTIME_ERROR


_INTERPRETER_LACKS = ("libdevice", "extra.", "extern_elementwise", "inline_asm")


def _interpreter_unsupported(e: BaseException) -> bool:
    """Under TRITON_INTERPRET=1: the interpreter itself lacks what the kernel uses (it raises
    NotImplementedError for inline assembly, and its libdevice functions are None), as opposed
    to a kernel that is wrong (InterpreterError wrapping any other error)."""
    if os.environ.get("TRITON_INTERPRET") != "1":
        return False
    chain, seen = [], e
    while seen is not None and len(chain) < 8:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    if any(isinstance(x, NotImplementedError) or "not supported in interpreter" in str(x)
           or "0 active drivers" in str(x) for x in chain):
        return True  # the last: a program that asks Triton for a GPU driver at import
    if any(isinstance(x, AttributeError) and "'float' object has no attribute" in str(x)
           for x in chain):
        return True  # scalar arguments arrive as Python floats in the interpreter
    if any("`_semantic` argument must be provided" in str(x) for x in chain):
        return True  # a module-level alias of a tl function, which the interpreter cannot patch
    return any(_failing_line_uses(x, _INTERPRETER_LACKS) for x in chain
               if "NoneType" in str(x))


def _failing_line_uses(e: BaseException, names: tuple[str, ...]) -> bool:
    """Whether the innermost line of a loaded program in e's traceback mentions one of names."""
    import linecache

    tb, line = e.__traceback__, ""
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if Path(filename).name.startswith(("kc_candidate_", "kc_reference_")):
            line = linecache.getline(filename, tb.tb_lineno)
        tb = tb.tb_next
    return any(n in line for n in names)


def _describe(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}"
    return text if len(text) <= 2000 else text[:2000] + " ..."


def _fail(verdict: dict, code: str, message: str) -> None:
    verdict.update(passed=False, failure_code=code, message=message)
    return None


def _reject(verdict: dict, code: str, message: str) -> bool:
    _fail(verdict, code, message)
    return False


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
