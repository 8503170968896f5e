"""The `vllm` backend: vLLM's offline engine over a whole problem set in one `generate` call.

vLLM batches and schedules the prompts itself; prefix caching is on, so the shared system
prompt and few-shot turns are computed once. Prompts are rendered with the model's chat
template by the same code as the transformers backend. vLLM is imported only when this backend
runs; without it the error says how to install it.
"""

from __future__ import annotations

from kcorpus.synth.chat import BackendUnavailable, ChatBackend, GenerationError, Request
from kcorpus.synth.chat import render_prompts

INSTALL = "the vllm backend needs vLLM (Linux with a CUDA GPU): pip install 'kcorpus[vllm]'"


class VllmBackend(ChatBackend):
    name = "vllm"

    def __init__(self, spec):
        super().__init__(spec)
        self._llm = None

    def engine_args(self) -> dict:
        s = self.spec
        args = {"model": s.model, "revision": s.revision, "seed": s.sampling.seed,
                "tensor_parallel_size": s.tensor_parallel_size, "enable_prefix_caching": True,
                "gpu_memory_utilization": s.gpu_memory_utilization}
        if s.data_parallel_size > 1:
            args["data_parallel_size"] = s.data_parallel_size
        if s.max_model_len is not None:
            args["max_model_len"] = s.max_model_len
        return args

    def _engine(self):
        if self._llm is None:
            try:
                from vllm import LLM
            except ImportError:
                raise BackendUnavailable(INSTALL) from None
            self._llm = LLM(**self.engine_args())
        return self._llm

    def complete(self, requests: list[Request]) -> list[list[str] | GenerationError]:
        llm = self._engine()
        from vllm import SamplingParams

        s = self.spec.sampling
        params = SamplingParams(n=s.n, temperature=s.temperature, top_p=s.top_p,
                                max_tokens=s.max_tokens, seed=s.seed)
        outputs = llm.generate(render_prompts(llm.get_tokenizer(), requests), params)
        return [[o.text for o in out.outputs] for out in outputs]
