"""The problems stage at the size of real problems: figures from a shape pass under fake tensors,
value checks within a per-problem budget on the CPU (the batch cut where that fits it), and
problems no cut fits kept as too_large_for_cpu for a GPU, never dropped and never left running
to the sandbox's limits. Problems here are sized as KernelBench sizes them, for a GPU."""

from __future__ import annotations

import json
import resource
import time

import torch

from kcorpus import schema
from kcorpus.catalog import Catalog
from kcorpus.config import VerifyConfig
from kcorpus.problems import TODO_SQL, check_problems
from kcorpus.verify import figures
from kcorpus.verify import tricks as P
from kcorpus.verify.stage import verify

HEAD = "import torch\nimport torch.nn as nn\n\n"

# 2^18 x 512 floats: 512 MB of input, with the batch in a KernelBench-style constant
ELEMENTWISE = HEAD + '''
batch_size = 262144
dim = 512


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.relu(x) * 2.0 + torch.sigmoid(x)


def get_inputs():
    return [torch.randn(batch_size, dim)]


def get_init_inputs():
    return []
'''

# a square matmul: slicing both inputs breaks it, slicing the first alone keeps it
MATMUL = HEAD + '''
N = 6144


class Model(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return torch.matmul(a, b)


def get_inputs():
    return [torch.randn(N, N), torch.randn(N, N)]


def get_init_inputs():
    return []
'''

# 4 GB of weights: no cut of the batch makes it fit
HUGE_WEIGHTS = HEAD + '''
class Model(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.proj = nn.Linear(n, n)

    def forward(self, x):
        return self.proj(x)


def get_inputs():
    return [torch.randn(8, 32768)]


def get_init_inputs():
    return [32768]
'''

# a data-dependent shape: FakeTensorMode cannot run it, a real forward can
DATA_DEPENDENT = HEAD + '''
class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1) * 1.5)

    def forward(self, x):
        return x[x > 0] * self.scale


def get_inputs():
    return [torch.randn(64, 32)]


def get_init_inputs():
    return []
'''

# the tricks problem with a batch too large to check as given
LARGE_BATCH_PROBLEM = P.PROBLEM.replace("return [torch.randn(6, 100)]",
                                        "return [torch.randn(batch_size, 100)]") + \
    "\nbatch_size = 262144\n"

WIDE_HONEST = P.HONEST.replace("triton.cdiv(n, 128)", "triton.cdiv(n, 4096)").replace(
    "BLOCK=128", "BLOCK=4096")


def _problem(pid: str, code: str) -> dict:
    row = {name: None for name in schema.table("problems").column_names}
    row.update(problem_id=pid, source_id="s", origin_path=f"{pid}.py", entry_point="Model",
               code=code, op_types=[], degenerate_flags=[])
    return row


def _candidate(cid: str, pid: str, code: str) -> dict:
    row = {name: None for name in schema.table("candidates").column_names}
    row.update(candidate_id=cid, problem_id=pid, code=code, backend="replay", model="test",
               created_at=None)
    return row


def test_the_shape_pass_counts_a_gpu_sized_forward_without_memory_or_compute():
    """Figures of a 32768 x 8192 by 8192 x 8192 linear layer (1 GB of input, 256 GB of weights
    moved through 4.4 TFLOP) in well under a second, with no memory to speak of."""

    def build():
        return torch.nn.Linear(8192, 8192), [torch.randn(32768, 8192)]

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    fig = figures.shape_pass(build)
    assert time.perf_counter() - t0 < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200 * 1024  # KiB
    assert fig.via == "fake" and fig.aten_ops == ["addmm"]
    assert fig.flops == 2 * 32768 * 8192 * 8192
    weights = (8192 * 8192 + 8192) * 4
    assert fig.weights == weights and fig.given == 32768 * 8192 * 4
    assert fig.bytes_moved == weights + 2 * 32768 * 8192 * 4
    assert fig.peak >= fig.bytes_moved  # weights, the input (and its clone), the output


def test_large_problems_are_checked_at_a_cut_batch_or_kept_for_a_gpu(tmp_path):
    """Each problem is probed within the budget; what does not fit is recorded with figures."""
    codes = {"elementwise": ELEMENTWISE, "matmul": MATMUL, "huge_weights": HUGE_WEIGHTS,
             "data_dependent": DATA_DEPENDENT}
    with Catalog(tmp_path / "c.duckdb") as cat:
        cat.insert_new("problems", schema.table("problems").to_arrow(
            [_problem(pid, code) for pid, code in codes.items()]))
        cfg = VerifyConfig(device="cpu", workers=2, timeout_s=120)
        t0 = time.perf_counter()
        got = check_problems(cat, cfg)
        assert time.perf_counter() - t0 < 90
        assert got == {"probed": 4, "ok": 4, "inferred": 0, "too_large_for_cpu": 1}
        rows = {r["problem_id"]: r for r in cat.rows("SELECT * FROM probes")}

        ew = rows["elementwise"]
        cut = json.loads(ew["checked_inputs"])
        assert ew["checked_on"] == "cpu" and ew["flags"] == []
        assert cut["constant"] == "batch_size" and cut["batch"] == 262144 and cut["rows"] < 262144
        assert json.loads(ew["figures"])["given"] == 262144 * 512 * 4  # figures at the given size
        assert '"shape": [262144, 512]' in ew["input_signature"]

        mm = rows["matmul"]
        assert json.loads(mm["checked_inputs"])["inputs"] == [0]  # the first input alone
        assert mm["flops"] == 2 * 6144 ** 3 and mm["checked_on"] == "cpu"

        huge = rows["huge_weights"]
        assert huge["ok"] and huge["flags"] == ["too_large_for_cpu"] and huge["checked_on"] == ""
        assert "too_large_for_cpu" in huge["message"] and "MB" in huge["message"]
        assert huge["flops"] == 2 * 8 * 32768 * 32768 and huge["aten_ops"] == ["addmm"]

        dd = rows["data_dependent"]
        assert dd["ok"] and dd["checked_on"] == "cpu" and json.loads(dd["figures"])["via"] == "real"
        assert all(r["seconds"] < 60 for r in rows.values())

        labels = {r["problem_id"]: r["op_types"] for r in cat.rows("SELECT * FROM problems")}
        assert labels["matmul"] == ["matmul"] and labels["elementwise"] == ["elementwise"]

        # a pipeline on a GPU probes again what the CPU could not check; the CPU does not
        assert [r["id"] for r in cat.rows(TODO_SQL, ["cuda"])] == ["huge_weights"]
        assert cat.rows(TODO_SQL, ["cpu"]) == []


def test_cpu_verification_uses_the_probed_cut_and_leaves_too_large_problems_for_a_gpu(tmp_path):
    """At the given 2^18 x 100 batch the interpreter would run past the time limit; at the
    probe's cut the honest candidate passes. The too-large problem's candidate gets no verdict."""
    with Catalog(tmp_path / "c.duckdb") as cat:
        cat.insert_new("problems", schema.table("problems").to_arrow(
            [_problem("large_batch", LARGE_BATCH_PROBLEM), _problem("huge", HUGE_WEIGHTS)]))
        cfg = VerifyConfig(device="cpu", workers=2, timeout_s=60, trials=2,
                           probe={"seconds": 1.0, "memory_mb": 64})
        assert check_problems(cat, cfg)["too_large_for_cpu"] == 1
        cut = json.loads(cat.scalar("SELECT checked_inputs FROM probes "
                                    "WHERE problem_id = 'large_batch'"))
        assert cut["constant"] == "batch_size" and cut["rows"] <= 16384
        cat.insert_new("candidates", schema.table("candidates").to_arrow(
            [_candidate("c1", "large_batch", WIDE_HONEST), _candidate("c2", "huge", P.HONEST)]))
        counts = verify(cat, cfg)
        assert counts["waiting_for_gpu"] == 1 and counts["verdicts"] == 1
        verdict = cat.rows("SELECT candidate_id, passed, failure_code, message FROM verdicts")
        assert verdict[0]["candidate_id"] == "c1" and verdict[0]["passed"], verdict
