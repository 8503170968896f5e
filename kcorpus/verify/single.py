"""One verdict for one (problem, candidate) pair of files: `kcorpus verify`.

The same path as the pipeline: the static checks first, here (as the verify stage does: a
candidate they answer starts no fork server), then one sandboxed fork server, the same job
fields and verdict columns.
"""

from __future__ import annotations

from pathlib import Path

from kcorpus.synth.parse import extract_program
from kcorpus.verify import sandbox, static
from kcorpus.verify.codes import VERIFIER_VERSION
from kcorpus.verify.stage import _context, resolve_device

FIELDS = ("passed", "stage", "failure_code", "message", "torch_ops", "static_flags", "flags",
          "trials", "checks", "max_abs_err", "max_rel_err", "triton_launches", "eager_ms",
          "compile_ms", "candidate_ms", "speedup_eager", "speedup_compile", "timing", "device",
          "gpu_arch", "gpu_name", "driver", "interpreter", "tf32", "torch_version",
          "triton_version", "ablation", "sandbox", "seconds")


def verify_files(problem: Path, candidate: Path, device: str = "auto", lenient: bool = False,
                 trials: int = 5, timeout_s: float = 120.0) -> dict:
    device, arch, gpu_name = resolve_device(device)
    job = make_job(candidate.name, _read(problem, "problem"), _read(candidate, "candidate"),
                   device, lenient, trials)
    answer = static_verdict(job, _context(device, arch, gpu_name))
    if answer is not None:
        return result(answer)
    limits = sandbox.Limits(timeout_s=timeout_s, parallel=1)
    verdicts = list(sandbox.run_jobs([job], limits, device))
    if not verdicts:
        raise RuntimeError("the verification worker died without a verdict")
    return result(verdicts[0])


def make_job(job_id: str, problem_code: str, candidate: str, device: str, lenient: bool = False,
             trials: int = 5) -> dict:
    """The worker's job for one pair; `candidate` may be a completion (markdown fences)."""
    return {"id": job_id, "problem_code": problem_code,
            "candidate_code": extract_program(candidate), "device": device, "trials": trials,
            "seed": 1, "lenient": lenient}


def static_verdict(job: dict, context: dict) -> dict | None:
    """The verdict when the static checks already decide it (the worker would run the same
    checks first); None when the candidate needs running."""
    checked = static.check(job["candidate_code"], lenient=job["lenient"])
    if checked.passed:
        return None
    return {**context, "id": job["id"], "passed": False, "stage": "static",
            "failure_code": checked.failure_code, "message": checked.message,
            "static_flags": checked.flags, "torch_ops": checked.torch_ops, "flags": [],
            "trials": 0, "seconds": 0.0}


def result(verdict: dict) -> dict:
    """A worker's verdict as `kcorpus verify --json` prints it."""
    return {"verifier_version": VERIFIER_VERSION, **{k: verdict.get(k) for k in FIELDS}}


def _read(path: Path, what: str) -> str:
    if not path.is_file():
        raise ValueError(f"{path}: {what} file not found")
    try:
        return path.read_text()
    except UnicodeDecodeError as e:
        raise ValueError(f"{path}: {what} file is not UTF-8: {e}") from None
