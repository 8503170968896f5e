"""The fork server's preload (worker._preload) must leave its forked children able to use CUDA:
a preload that initialised the CUDA runtime makes every child fail with "Cannot re-initialize
CUDA in forked subprocess", a whole run of verdicts lost. The check runs in the server's own
environment (sandbox.scrubbed_env) in a fresh interpreter, as the pool starts it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from kcorpus.verify import sandbox

_PRELOAD = """
import os, sys, torch
sys.path.insert(0, os.path.dirname(sys.argv[1]))
from kcorpus.verify import worker
if sys.argv[2] == "poisoned":  # what a preload that counted devices through the runtime leaves
    torch.cuda._is_in_bad_fork = lambda: True
try:
    worker._preload(sys.argv[3])
except RuntimeError as e:
    print("refused:", e)
    sys.exit(0)
pid = os.fork()
if pid == 0:
    if sys.argv[3] == "cuda":
        torch.ones(4, device="cuda").sum().item()
        import torch._inductor.compile_fx
    os._exit(0)
_, status = os.waitpid(pid, 0)
print("child ok" if status == 0 else "child failed")
"""


def _preload(tmp_path, how: str, device: str) -> str:
    root = str(sandbox.WORKER.parents[2] / "kcorpus")
    env = sandbox.scrubbed_env(tmp_path, device)
    out = subprocess.run([sys.executable, "-c", _PRELOAD, root, how, device], env=env,
                         capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def test_a_preload_that_poisons_forks_is_refused_with_a_reason(tmp_path):
    line = _preload(tmp_path, "poisoned", "cpu")
    assert line.startswith("refused:") and "CUDA" in line and "worker._preload" in line


def test_the_cpu_preload_forks_children(tmp_path):
    assert _preload(tmp_path, "clean", "cpu") == "child ok"


def test_gpu_servers_count_devices_through_nvml(tmp_path):
    assert sandbox.scrubbed_env(tmp_path, "cuda")["PYTORCH_NVML_BASED_CUDA_CHECK"] == "1"
    assert "PYTORCH_NVML_BASED_CUDA_CHECK" not in sandbox.scrubbed_env(tmp_path, "cpu")


@pytest.mark.gpu
def test_the_cuda_preload_with_inductor_leaves_children_cuda(tmp_path):
    assert _preload(tmp_path, "clean", "cuda") == "child ok"
