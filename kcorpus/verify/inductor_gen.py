"""torch.compile's generated Triton for one problem (runs in the sandboxed worker, on a GPU).

A job {"kind": "inductor", "id", "problem_code", "mode", "seed"} compiles the reference with
Inductor through a backend that first records the graph's placeholders (where each argument of
the generated `call` comes from: a parameter, a buffer, a forward input, or the size of one),
and returns the generated module's source with those sources and the output structure. Only
the source is made: Inductor lowers and autotunes the graph (templates are benchmarked on the
GPU), but its Triton kernels are neither compiled nor run here (`_source_only`): the verifier
compiles and runs the candidate anyway, so a second compile here would only cost time, and a
run would cost the memory of the outputs and every intermediate. The job holds the weights and
the inputs (admission.inductor_mb). The
batch dimension of every input is marked maybe-dynamic, so the code accepts other batch sizes
where the model allows it; where compiling so fails, it compiles with static shapes. The model
stays in the mode it was built in (training), as the verifier runs it. Modes: `default` (Inductor as shipped:
matmuls and convolutions go to cuBLAS/cuDNN as extern kernels), `triton_templates`
(max-autotune restricted to Inductor's Triton GEMM and convolution templates).
"""

from __future__ import annotations

import re
import time

import torch

from kcorpus.verify.correctness import draw_inputs

MODES = {
    "default": {},
    # max_autotune_gemm, not max_autotune: the latter also autotunes every reduction kernel's
    # configs, which on the H200 made template jobs run to their 240 s limit (RESULTS.md)
    "triton_templates": {"max_autotune_gemm": True,
                         "max_autotune_gemm_backends": "TRITON",
                         "max_autotune_conv_backends": "TRITON"},
}


def generate(job: dict, load_module) -> dict:
    out = {"id": job["id"], "kind": "inductor", "mode": job["mode"], "code": None, "error": ""}
    mod = load_module(job["problem_code"])
    torch.manual_seed(job.get("seed", 0))
    with torch.device("cuda"):  # weights initialised on the GPU: the host's init is slow
        model = mod.Model(*mod.get_init_inputs()).cuda()  # the mode the verifier runs it in
    inputs = draw_inputs(mod.get_inputs, job.get("seed", 0), "given", device="cuda")
    out["seconds"] = {}
    for dynamic_batch in (True, False):
        t = time.perf_counter()
        try:
            out.update(_compile(model, inputs, job["mode"], dynamic_batch), error="")
            break
        except Exception as e:  # noqa: BLE001  (recorded: the mode gives no program)
            out["error"] = f"{type(e).__name__}: {e}"[:2000]
        finally:
            out["seconds"]["dynamic" if dynamic_batch else "static"] = round(
                time.perf_counter() - t, 2)
    return out


def _compile(model, inputs: list, mode: str, dynamic_batch: bool) -> dict:
    import torch._dynamo
    from torch._inductor.compile_fx import compile_fx

    torch._dynamo.reset()
    captured: dict = {}

    def backend(gm, example_inputs):
        captured["args"] = [_source(n) for n in gm.graph.nodes if n.op == "placeholder"]
        return compile_fx(gm, example_inputs)

    # new tensor objects on the same storage: the marks stay off `inputs`, and no memory is added
    args = [x.detach() if isinstance(x, torch.Tensor) else x for x in inputs]
    if dynamic_batch:
        for x in args:
            if isinstance(x, torch.Tensor) and x.dim() > 0 and x.shape[0] > 1:
                torch._dynamo.maybe_mark_dynamic(x, 0)  # stays static where it must
    config = {**MODES[mode], "compile_threads": 1, "fx_graph_cache": False}
    with torch._inductor.config.patch(config), \
            torch._dynamo.config.patch(inline_inbuilt_nn_modules=True), torch.no_grad():
        compiled = torch.compile(model, backend=backend, fullgraph=True,
                                 dynamic=False if not dynamic_batch else None)
        sources = _source_only(compiled, args)
    if len(sources) != 1:
        raise RuntimeError(f"expected one generated module, got {len(sources)}")
    return {"code": sources[0], "args": captured["args"], "outputs": _output_structure(model, inputs),
            "dynamic_batch": dynamic_batch,
            "extern_kernels": sorted(set(re.findall(r"extern_kernels\.(\w+)", sources[0])))}


class _NotRun:
    """Stands in for the generated module: its call does nothing."""

    def call(self, *args, **kwargs):
        return None


def _source_only(compiled, args: list) -> list[str]:
    """The generated modules' sources of one call of `compiled`, with Inductor's codegen kept and
    its compile_to_module (the kernels' compile and load) skipped, as torch._inductor.utils.
    get_code does. The stand-in returns no outputs, which the wrappers around it refuse after the
    source is made: that error is expected; an error before any source is not."""
    from unittest import mock

    from torch._inductor.graph import GraphLowering

    sources: dict[str, None] = {}

    def codegen_only(graph):
        wrapper, _ = graph.codegen_with_cpp_wrapper() if graph.cpp_wrapper else graph.codegen()
        sources[wrapper.value] = None
        return _NotRun()

    with mock.patch.object(GraphLowering, "compile_to_module", codegen_only), \
            mock.patch.object(GraphLowering, "save_output_code",
                              lambda code: sources.setdefault(code)):
        try:
            compiled(*args)
        except Exception:  # noqa: BLE001  (the stand-in's missing outputs, once there is a source)
            if not sources:
                raise
    return list(sources)


def _output_structure(model, inputs: list) -> list:
    """What forward returns, from a forward under fake tensors (no data, no memory); a forward
    fake tensors cannot run is run for real."""
    from torch._subclasses.fake_tensor import FakeTensorMode

    try:
        with FakeTensorMode(allow_non_fake_inputs=True), torch.no_grad():
            return _structure(model(*inputs))
    except Exception:  # noqa: BLE001  (data-dependent forward: the real one answers)
        with torch.no_grad():
            return _structure(model(*[x.clone() if isinstance(x, torch.Tensor) else x
                                      for x in inputs]))


def _source(node) -> str:
    grapharg = node.meta.get("grapharg")
    if grapharg is None or grapharg.source is None:
        raise RuntimeError(f"placeholder {node.name} has no source")
    name = grapharg.source.name
    return name() if callable(name) else name


def _structure(result) -> list:
    if isinstance(result, torch.Tensor):
        return ["tensor"]
    if isinstance(result, (tuple, list)) and all(isinstance(r, torch.Tensor) for r in result):
        return [type(result).__name__, len(result)]
    raise RuntimeError(f"outputs of type {type(result).__name__} are not supported")
