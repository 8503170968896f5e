"""The `inductor` backend: torch.compile's own Triton for each problem, as a candidate (GPU only).

For each problem and mode, a sandboxed GPU worker compiles the reference (verify/inductor_gen.py)
and the generated module becomes a `ModelNew` program (inductor_program.py). The candidate
records the mode and the extern kernels it still calls (`sampling`: {"mode", "extern_kernels",
"dynamic_batch"}), so pure-Triton pairs can be told apart; verification then runs as for any
candidate, with the static checks that suit generated code (see verify/static.py).

Jobs go in the order of the problems given (the synth stage puts them in the order of the
pipeline's sources), so a `budget_s` that runs out leaves the last sources' problems for the
next run, not a random sample of all of them. With `order: cheapest` the problems whose jobs
hold the least memory go first: on a GPU whose memory admits the jobs, the most run at once,
so a budget yields the most candidates and the biggest problems wait for the next run.

`triton_templates` differs from `default` only where Inductor has a Triton template for an op
(matmuls and convolutions, TEMPLATE_OPS). A problem whose probe saw none of them gets the default
mode only: the second job would cost a compile and give the same code (which dedup would fold).
"""

from __future__ import annotations

import json
from itertools import zip_longest
import re

from kcorpus.progress import bar
from kcorpus.rejects import reject_row
from kcorpus.synth.backend import BackendUnavailable, Completion, candidate_row
from kcorpus.synth.inductor_program import AssemblyError, assemble
from kcorpus.verify import admission, codes, gpu_slots, sandbox, shared_child, stream

# ATen ops that Inductor's max-autotune lowers to a Triton template (GEMM, convolution)
TEMPLATE_OPS = {"mm", "addmm", "bmm", "baddbmm", "convolution", "_convolution", "_int_mm",
                "_scaled_mm", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                "conv_transpose2d", "conv_transpose3d", "linear", "matmul"}


# a kernel Inductor compiles from source in its output module (its Triton kernels, templates too)
TRITON_KERNEL = re.compile(r"async_compile\.triton\(")


class InductorBackend:
    name = "inductor"

    def __init__(self, spec, verify_cfg=None):
        import torch

        self.spec, self.verify_cfg = spec, verify_cfg
        self.model = f"torch-{torch.__version__}"
        self.answers: list[dict] = []  # the workers' raw answers of the last call, for audits
        self.left = 0

    def generate(self, problems: list[dict], done: set[tuple[str, str]] = frozenset(),
                 verifier=None) -> tuple[list[Completion], list[dict]]:
        """Completions and rejects for `problems`, leaving out the (problem, template) pairs in
        `done`. With a `verifier` (verify.stage.Verifications), each candidate is verified as
        soon as its compile ends, in the same server (verify/stream.py); the verdicts are left
        in `self.verdicts`, for the caller to record once it has stored the candidates."""
        import torch

        if not torch.cuda.is_available():
            raise BackendUnavailable("the inductor backend needs a CUDA GPU: Inductor generates "
                                     "Triton only for GPUs")
        chosen = ordered(problems, self.spec)
        by_id = {p["problem_id"]: p for p in chosen}
        jobs = [{"kind": "inductor", "id": json.dumps([p["problem_id"], mode]),
                 "problem_code": p["code"], "mode": mode, "seed": 0,
                 "timeout_s": self.spec.timeout_s,
                 "memory_mb": admission.inductor_mb(p.get("figures"), mode != "default")}
                for p in chosen for mode in self.spec.modes
                if (p["problem_id"], template(mode)) not in done and _differs(p, mode)]
        compiles = {j["id"] for j in jobs}
        results: dict[str, Completion | dict] = {}
        self.answers, self.verdicts = [], []

        def follow(answer: dict) -> list[dict]:
            if answer["id"] not in compiles:  # a verdict on a candidate made here
                self.verdicts.append(answer)
                return []
            self.answers.append(answer)
            pid, mode = json.loads(answer["id"])
            result = results[answer["id"]] = self._completion(by_id[pid], mode, answer)
            if verifier is None or not isinstance(result, Completion):
                return []
            job = verifier.job(_pending_row(result, by_id[pid]))
            return [] if job is None else [{**job, "timeout_s": verifier.cfg.timeout_s}]

        if jobs:
            self._run(jobs, follow)
        self.left = len(jobs) - len(self.answers)  # jobs a budget left for the next run
        completions = [r for r in results.values() if isinstance(r, Completion)]
        return completions, [r for r in results.values() if not isinstance(r, Completion)]

    def _run(self, jobs: list[dict], follow) -> None:
        cfg, compiles = self.verify_cfg, {j["id"] for j in jobs}
        limits = sandbox.Limits(timeout_s=self.spec.timeout_s,
                                memory_mb=cfg.memory_mb if cfg else 8192,
                                parallel=cfg.workers if cfg else 2,
                                admit_mb=admission.budget_mb("cuda", cfg and cfg.host_memory_mb))
        slots = cfg.gpu_slots if cfg else 1
        with gpu_slots.hold_gpu("cuda", slots), \
                bar("synth (inductor)", total=len(jobs)) as progress:  # autotuning uses the GPU
            run = lambda js, fol: stream.run_stream(js, fol, limits, "cuda",  # noqa: E731
                                                    budget_s=self.spec.budget_s,
                                                    deadline_s=self.spec.deadline_s)
            for answer in shared_child.run_shared(jobs, follow, run, self.spec.shared,
                                                  key=lambda j: json.loads(j["id"])[0]):
                if answer["id"] in compiles:  # verdicts are the verify stage's to count
                    progress.advance()

    def _completion(self, problem: dict, mode: str, answer: dict) -> Completion | dict:
        error = answer.get("error") or answer.get("message") or ""
        program = None
        if answer.get("code"):
            try:
                program = assemble(problem["code"], answer["code"], answer["args"],
                                   answer["outputs"])
            except (AssemblyError, SyntaxError) as e:
                error = f"assembly: {e}"
        item = f"inductor/{mode}@{self.model}"  # settled(): what a rerun need not compile again
        if program is not None and not TRITON_KERNEL.search(answer["code"]):
            return reject_row("synth", "", problem["problem_id"], item,
                              "inductor_no_triton", "Inductor's code calls no Triton kernel "
                              f"(only {', '.join(answer['extern_kernels']) or 'ATen'})")
        if program is None:
            return reject_row("synth", "", problem["problem_id"], item,
                              *_failure(answer, error, self.spec.timeout_s))
        settings = {"mode": mode, "extern_kernels": answer["extern_kernels"],
                    "dynamic_batch": answer["dynamic_batch"]}
        return Completion(problem["problem_id"], answer["code"], self.name, self.model,
                          prompt_template=template(mode), sampling=settings, code=program)


def _failure(answer: dict, error: str, timeout_s: float) -> tuple[str, str]:
    """(reason, detail) of a job that gave no program. Inductor's own errors and a timeout are
    the problem's (`inductor_failed`, `inductor_timeout` with the limit it had); running out of
    memory or a killed child is the machine's at that moment (`inductor_crashed`)."""
    code = answer.get("failure_code") or ""
    if code in (codes.TIMEOUT, codes.AUTOTUNE_TIMEOUT):
        return "inductor_timeout", f"timeout_s={timeout_s:g}; {error}"
    if code or "out of memory" in error.lower():
        return "inductor_crashed", f"{code + ': ' if code else ''}{error or 'no program'}"
    return "inductor_failed", error or "no program"


def settled(rejects: list[dict], model: str, timeout_s: float) -> set[tuple[str, str]]:
    """(problem_id, prompt template) of the jobs that gave no program under this torch (`model`)
    and would give none again: Inductor's errors, code without Triton, and timeouts under a
    limit at least `timeout_s`. A rerun leaves them out; crashed jobs are tried again. On the
    H200, rerunning them cost a third of a time-boxed run's slots (RESULTS.md, session 14).
    `rejects`: the synth stage's rows (path, item, reason, detail)."""
    out = set()
    for r in rejects:
        mode, _, made_by = r["item"].removeprefix("inductor/").partition("@")
        if not r["item"].startswith("inductor/") or made_by != model:
            continue
        if r["reason"] == "inductor_timeout":
            limit = re.match(r"timeout_s=([\d.]+)", r["detail"] or "")
            if limit is None or float(limit.group(1)) < timeout_s:
                continue
        elif r["reason"] not in ("inductor_failed", "inductor_no_triton"):
            continue
        out.add((r["path"], template(mode)))
    return out


def _pending_row(c: Completion, problem: dict) -> dict:
    """A candidate just made, as verify.stage.pending would read it back from the catalog."""
    return {"candidate_id": candidate_row(c)["candidate_id"], "code": c.code,
            "backend": c.backend, "problem_code": problem["code"],
            "figures": problem.get("figures"), "checked_on": "", "checked_inputs": None}


def ordered(problems: list[dict], spec) -> list[dict]:
    """The problems to make jobs for, in the order they go (`spec.order`, `spec.max_problems`).
    `cheapest` sorts each source's problems by the memory their jobs hold and takes the sources
    in turn (`source_rank`, the order the pipeline lists them): a budget that cuts the backend
    short still reaches every source, and a source whose jobs hold the most memory, a few at a
    time (KernelBench level 1, 6-32 GB each), runs beside small ones instead of after them.
    Sorted across sources, level 1 came last and got nothing; listed first, it held the card
    at 0.6 jobs a second instead of 1.3 (RESULTS.md, session 16)."""
    chosen = problems if spec.max_problems is None else problems[: spec.max_problems]
    if spec.order != "cheapest":
        return chosen
    by_source: dict[int, list[dict]] = {}
    for p in chosen:
        by_source.setdefault(p.get("source_rank", 0), []).append(p)
    queues = [sorted(ps, key=lambda p: admission.inductor_mb(p.get("figures"), False))
              for _, ps in sorted(by_source.items())]  # stable: source order among equals
    return [p for turn in zip_longest(*queues) for p in turn if p is not None]


def _differs(problem: dict, mode: str) -> bool:
    """Whether `mode` can give other code than `default` for this problem (unknown: yes)."""
    ops = problem.get("aten_ops")
    if mode == "default" or not ops:
        return True
    return any(op.split(".")[0].removeprefix("aten::") in TEMPLATE_OPS for op in ops)


def template(mode: str) -> str:
    return f"inductor:{mode}"
