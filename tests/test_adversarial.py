"""The known ways candidates cheat (DESIGN.md, "Verification"): each is rejected with the right
failure code, and awkward but honest candidates are accepted.

All candidates of a device run through one sandboxed fork server, as in the pipeline. GPU-only
tricks (side streams, timer patching) run on the GPU in the `gpu` tests.
"""

from __future__ import annotations

import pytest

from kcorpus.verify import codes, sandbox
from kcorpus.verify import tricks as P

CASES = {  # name: (problem, candidate, expected failure code; "" means it must pass)
    "freed_output_buffer": (P.PROBLEM, P.FREED_BUFFER, {codes.MISMATCH, codes.NONFINITE}),
    "zeroing_inputs": (P.PROBLEM, P.ZERO_INPUTS, {codes.INPUT_MUTATION}),
    "side_stream": (P.PROBLEM, P.SIDE_STREAM, {codes.SIDE_STREAM}),
    "cache_by_input_identity": (P.PROBLEM, P.CACHE_BY_IDENTITY,
                                {codes.MISMATCH, codes.NO_TRITON_LAUNCH}),
    "decoy_kernel_never_launched": (P.PROBLEM, P.NO_LAUNCH, {codes.NO_TRITON_LAUNCH}),
    "try_except_fallback": (P.PROBLEM, P.FALLBACK, {codes.TORCH_OPS}),
    "subclassing_model": (P.PROBLEM, P.variant("class ModelNew(nn.Module)",
                                               "class ModelNew(Model)"), {codes.USES_REFERENCE}),
    "lazy_tensor_subclass": (P.PROBLEM, P.LAZY_SUBCLASS, {codes.NOT_A_TENSOR}),
    "patching_timers": (P.PROBLEM, P.TIMER_PATCH, {codes.PATCHING}),
    "reading_reference_through_gc": (P.PROBLEM, P.GC_READ, {codes.FORBIDDEN_IMPORT}),
    "reading_reference_through_sys_modules": (P.PROBLEM, P.SYS_MODULES, {codes.FORBIDDEN_IMPORT}),
    "zeros_on_near_zero_problem": (P.TINY_PROBLEM, P.ZEROS_FOR_TINY, {codes.MISMATCH}),
    "ignoring_a_hidden_weight": (P.PROBLEM, P.IGNORES_HIDDEN_WEIGHT, {codes.MISMATCH}),
    "torch_op_under_runtime_name": (P.PROBLEM, P.RUNTIME_NAME, {codes.TORCH_OPS}),
    "torch_op_under_built_name": (P.PROBLEM, P.RUNTIME_NAME.replace("'relu'", "'re' + 'lu'"),
                                  {codes.FORBIDDEN_CALL}),
    "torch_op_by_operator": (P.PROBLEM, P.TORCH_OPS, {codes.TORCH_OPS}),
    "honest_try_except_that_never_falls_back": (P.PROBLEM, P.variant(
        "        x = x.contiguous()\n", "        try:\n            x = x.contiguous()\n"
        "        except Exception:\n            return torch.relu(x * self.weight)\n"), {""}),
    # honest, some of them awkward
    "honest": (P.PROBLEM, P.HONEST, {""}),
    "honest_masked_tail": (P.PROBLEM.replace("randn(6, 100)", "randn(7, 93)").replace(
        "return [100]", "return [93]"), P.HONEST, {""}),
    "honest_non_contiguous_input": (P.STRIDED_PROBLEM, P.STRIDED, {""}),
    "honest_several_kernels": (P.PROBLEM, P.TWO_KERNELS, {""}),
    "honest_on_near_zero_problem": (P.TINY_PROBLEM, P.HONEST_FOR_TINY, {""}),
    "honest_second_output_from_torch_glue": (P.GLUE_PROBLEM, P.GLUE, {""}),
}
CPU_ONLY = {  # what the interpreter itself cannot run: its own code, never MISMATCH or CRASH
    "libdevice_under_the_interpreter": (P.PROBLEM, P.LIBDEVICE, {codes.INTERPRETER_UNSUPPORTED}),
    "inline_asm_under_the_interpreter": (P.PROBLEM, P.INLINE_ASM, {codes.INTERPRETER_UNSUPPORTED}),
}


def _verify_all(device: str, cases: dict) -> dict[str, dict]:
    jobs = [{"id": name, "problem_code": prob, "candidate_code": cand, "device": device,
             "trials": 5, "seed": 11} for name, (prob, cand, _) in cases.items()]
    limits = sandbox.Limits(timeout_s=120, memory_mb=8192, parallel=2)
    return {v["id"]: v for v in sandbox.run_jobs(jobs, limits, device)}


@pytest.fixture(scope="module")
def cpu_verdicts():
    return _verify_all("cpu", CASES | CPU_ONLY)


@pytest.mark.parametrize("name", list(CASES | CPU_ONLY))
def test_trick_is_caught_or_honest_code_passes(cpu_verdicts, name):
    expected = (CASES | CPU_ONLY)[name][2]
    verdict = cpu_verdicts[name]
    assert verdict["failure_code"] in expected, verdict["message"]
    assert verdict["passed"] == (expected == {""})


def test_torch_glue_is_recorded_and_flagged(cpu_verdicts):
    v = cpu_verdicts["honest_second_output_from_torch_glue"]
    assert v["torch_ops"] == ["gt", "sum"] and "torch_glue" in v["flags"]


def test_honest_candidates_were_checked_at_two_sizes(cpu_verdicts):
    import json

    checks = json.loads(cpu_verdicts["honest"]["checks"])
    assert checks["sizes"] == ["given", "resized"] and checks["trials"] == 5
    assert len(checks["distributions"]) >= 3


@pytest.mark.gpu
def test_gpu_only_tricks_and_timing_on_the_gpu():
    gpu_cases = {k: CASES[k] for k in ("honest", "side_stream", "patching_timers",
                                       "freed_output_buffer", "cache_by_input_identity",
                                       "honest_several_kernels")}
    verdicts = _verify_all("cuda", gpu_cases)
    for name, (_, _, expected) in gpu_cases.items():
        assert verdicts[name]["failure_code"] in expected, (name, verdicts[name]["message"])
    honest = verdicts["honest"]
    assert honest["gpu_arch"].startswith("sm_") and honest["interpreter"] is False
    assert honest["eager_ms"] > 0 and honest["candidate_ms"] > 0 and honest["speedup_eager"] > 0
    assert honest["tf32"] is False and '"method": "cuda_events"' in honest["timing"]
