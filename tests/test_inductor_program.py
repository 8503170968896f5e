"""Inductor candidates without a GPU: programs assembled from Inductor output recorded on an
NVIDIA H200 (torch 2.11, `python -m kcorpus.bench.inductor`, tests/data/inductor_answers.json),
the static checks for generated programs, and the backend's refusal without CUDA."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from kcorpus.synth.backend import BackendUnavailable
from kcorpus.synth.inductor import InductorBackend
from kcorpus.synth.inductor_program import AssemblyError, arg_expression, assemble
from kcorpus.verify import codes, static

ANSWERS = json.loads((Path(__file__).parent / "data" / "inductor_answers.json").read_text())


@pytest.mark.parametrize("answer", ANSWERS, ids=lambda a: f"{a['origin_path']}-{a['mode']}")
def test_recorded_inductor_output_becomes_a_modelnew_program(answer):
    program = assemble(answer["problem_code"], answer["code"], answer["args"], answer["outputs"])
    tree = ast.parse(program)
    top = {getattr(n, "name", None) for n in tree.body} | {
        t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets
        if isinstance(t, ast.Name)}
    assert {"ModelNew", "inductor_call", "_inductor_forward"} <= top
    assert not top & {"Model", "get_inputs", "get_args", "benchmark_compiled_module"}
    assert "if __name__" not in program
    assert "# kernel path:" in answer["code"] and "kernel path" not in program  # a host's path
    assert "ModelNew.forward = _inductor_forward" in program
    assert "inductor_call([self._modules[" in program and "x.size()[0]" in program
    # generated programs skip the structural checks, and nothing else
    assert static.check(program, generated="inductor").passed
    assert static.check(program).failure_code == codes.NO_KERNEL
    pure = not answer["extern_kernels"]
    assert pure == (answer["mode"] == "triton_templates")
    assert ("extern_kernels.mm" in program or "extern_kernels.convolution" in program) != pure


def test_the_reference_constructor_is_kept_so_weights_load():
    answer = next(a for a in ANSWERS if a["origin_path"] == "linear_gelu.py")
    program = assemble(answer["problem_code"], answer["code"], answer["args"], answer["outputs"])
    [cls] = [n for n in ast.parse(program).body if getattr(n, "name", "") == "ModelNew"]
    ns: dict = {}  # only the class (no kernels: they need CUDA), with the reference's imports
    exec(compile(f"import torch\nimport torch.nn as nn\n{ast.unparse(cls)}", "<new>", "exec"), ns)
    ref_ns: dict = {}
    exec(compile(answer["problem_code"], "<ref>", "exec"), ref_ns)
    ref = ref_ns["Model"](*ref_ns["get_init_inputs"]())
    new = ns["ModelNew"](*ref_ns["get_init_inputs"]())
    with torch.no_grad():  # weights unlike the reference's, so the copy is seen to happen
        for p in new.parameters():
            p.fill_(7.0)
    loaded = new.load_state_dict(ref.state_dict(), strict=False)
    assert (loaded.missing_keys, loaded.unexpected_keys) == ([], [])  # every name matches
    theirs, ours = ref.state_dict(), new.state_dict()
    assert list(ours) == list(theirs) and len(ours) > 0
    assert all(torch.equal(ours[k], theirs[k]) for k in theirs)  # the reference's values


def test_argument_sources_map_to_forward_expressions():
    assert arg_expression("L['self']._modules['fc']._parameters['weight']", ["x"]) == \
        "self._modules['fc']._parameters['weight']"
    assert arg_expression("L['x'].size()[0]", ["x"]) == "x.size()[0]"
    with pytest.raises(AssemblyError, match="G"):
        arg_expression("G['table']", ["x"])


def test_a_forward_with_defaults_keeps_them_so_inputs_may_leave_them_out():
    """KernelBench's GRU and attention problems: get_inputs() passes fewer arguments than
    forward takes; the generated forward takes the same defaults."""
    answer = ANSWERS[0]
    code = answer["problem_code"].replace("def forward(self, x):",
                                          "def forward(self, x, mask=None, causal=False):")
    assert "mask=None" in code
    program = assemble(code, answer["code"], answer["args"], answer["outputs"])
    assert "def _inductor_forward(self, x, mask=None, causal=False):" in program


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_without_a_gpu_the_inductor_backend_says_why():
    backend = InductorBackend(SimpleNamespace(modes=["default"], max_problems=None, timeout_s=60))
    with pytest.raises(BackendUnavailable, match="needs a CUDA GPU"):
        backend.generate([{"problem_id": "p", "code": "x = 1\n"}])


def test_inductor_code_without_a_triton_kernel_is_rejected_at_synthesis():
    """A module where Inductor left every op to ATen (a lone matmul in default mode) has nothing
    to verify: it is recorded as a synth reject, not sent to a sandbox to fail NO_TRITON_LAUNCH."""
    backend = InductorBackend(SimpleNamespace(modes=["default"]))
    answer = next(a for a in ANSWERS if a["mode"] == "default" and a["extern_kernels"] == ["mm"])
    problem = {"problem_id": "p1", "code": answer["problem_code"]}
    kept = backend._completion(problem, "default", answer)
    assert kept.sampling["extern_kernels"] == ["mm"]  # one Triton kernel beside the matmul
    head, _, rest = answer["code"].partition("async_compile.triton(")
    name = head.rsplit("\n", 1)[1].split("=")[0].strip()  # the kernel's variable
    body_end = rest.index("''', device_str='cuda')") + len("''', device_str='cuda')")
    aten_only = head.rsplit("\n", 1)[0] + rest[body_end:].replace(f"{name}.run(", "# (")
    rejected = backend._completion(problem, "default", {**answer, "code": aten_only})
    assert rejected["reason"] == "inductor_no_triton" and "only mm" in rejected["detail"]
