"""Run verification jobs in sandboxed worker processes, one process per candidate.

Each process gets a scrubbed environment (no tokens or keys: only an allowlist of variables
passes), a temporary working directory that is also its HOME, its own TRITON_CACHE_DIR, a
wall-clock timeout (the whole process group is killed) and an address-space limit on the CPU.
A crash, hang or out-of-memory ends that process only and becomes a verdict.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kcorpus.verify import codes

WORKER = Path(__file__).resolve().parent / "worker.py"
PASS_ENV = ("PATH", "LANG", "LC_ALL", "LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "CUDA_HOME",
            "TRITON_PTXAS_PATH", "TRITON_LIBCUDA_PATH", "SYSTEMROOT", "TZ")


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 120.0
    memory_mb: int = 8192


def scrubbed_env(workdir: Path, device: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in PASS_ENV if k in os.environ}
    env.update(HOME=str(workdir), TMPDIR=str(workdir), TRITON_CACHE_DIR=str(workdir / "triton"),
               PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0", OMP_NUM_THREADS="1",
               KCORPUS_WORKER_THREADS="1")
    if device == "cpu":
        env["TRITON_INTERPRET"] = "1"
        env["CUDA_VISIBLE_DEVICES"] = ""
    return env


def run_job(job: dict, limits: Limits) -> dict:
    """One job in a fresh sandboxed worker; always returns a verdict."""
    device = job.get("device", "cpu")
    with tempfile.TemporaryDirectory(prefix="kcorpus-sandbox-") as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-I", str(WORKER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, cwd=tmp, env=scrubbed_env(Path(tmp), device),
            start_new_session=True, preexec_fn=_limit_memory(limits.memory_mb, device),
        )
        try:
            out, err = proc.communicate(json.dumps(job).encode() + b"\n", timeout=limits.timeout_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            proc.communicate()
            return _verdict(job, codes.TIMEOUT,
                            f"no verdict within {limits.timeout_s:.0f}s; the process was killed")
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("{"):
            return json.loads(line)
    return _verdict(job, *_death(proc.returncode, err.decode(errors="replace")))


def _limit_memory(memory_mb: int, device: str):
    def apply() -> None:
        if device == "cpu":  # CUDA reserves huge virtual ranges; GPU memory is bounded by the card
            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def _kill_group(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _death(returncode: int, stderr: str) -> tuple[str, str]:
    tail = stderr.strip()[-1500:]
    if "MemoryError" in tail or "out of memory" in tail.lower():
        return codes.OOM, f"out of memory (exit {returncode}): {tail[-500:]}"
    if returncode < 0:
        name = signal.Signals(-returncode).name
        return codes.CRASH, f"the worker died of {name}: {tail[-500:]}"
    return codes.CRASH, f"the worker exited with code {returncode} without a verdict: {tail[-500:]}"


def _verdict(job: dict, code: str, message: str) -> dict:
    return {"id": job.get("id"), "passed": False, "stage": "compile", "failure_code": code,
            "message": message, "device": job.get("device", "cpu")}
