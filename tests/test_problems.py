"""The problems stage: references run once in the sandbox; unsound ones get no candidates."""

from __future__ import annotations

from kcorpus import schema
from kcorpus.catalog import Catalog
from kcorpus.config import VerifyConfig
from kcorpus.problems import check_problems
from kcorpus.verify import tricks as P

FORWARDS = {
    "sound": "return torch.relu(x * self.weight)",
    "nondeterministic": "return torch.nn.functional.dropout(x * self.weight, 0.5, True)",
    "near_zero": "return x * self.weight * 1e-12",
    "ignores_inputs": "return self.weight * 2.0",
    "ignores_weights": "return torch.relu(x) + 0.0 * self.weight.sum()",
    "broken": "return x @ self.weight.view(1, -1)",
}


def _problem(pid: str, forward: str) -> dict:
    row = {name: None for name in schema.table("problems").column_names}
    row.update(problem_id=pid, source_id="s", origin_path=f"{pid}.py", entry_point="Model",
               code=P.PROBLEM.replace("return torch.relu(x * self.weight)", forward),
               op_types=[], degenerate_flags=[])
    return row


def test_unsound_references_are_flagged_and_sound_ones_pass(tmp_path):
    with Catalog(tmp_path / "c.duckdb") as cat:
        cat.insert_new("problems", schema.table("problems").to_arrow(
            [_problem(pid, fwd) for pid, fwd in FORWARDS.items()]))
        cfg = VerifyConfig(workers=2, timeout_s=60)
        assert check_problems(cat, cfg) == {"probed": 6, "ok": 1, "inferred": 0,
                                            "too_large_for_cpu": 0}
        got = {r["problem_id"]: r for r in cat.rows("SELECT * FROM probes")}
        assert got["sound"]["ok"] and '"shape": [6, 100]' in got["sound"]["input_signature"]
        for flag in ("nondeterministic", "near_zero", "ignores_inputs", "ignores_weights"):
            assert not got[flag]["ok"] and flag in got[flag]["flags"], got[flag]
        assert got["broken"]["flags"] == ["error"] and "RuntimeError" in got["broken"]["message"]
        assert check_problems(cat, cfg) == {"probed": 0, "ok": 0, "inferred": 0,
                                            "too_large_for_cpu": 0}


BLOCKS = """import torch
import torch.nn as nn
import torch.nn.functional as F


class ConvBNAct(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size=3, stride=1):
        super(ConvBNAct, self).__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, kernel_size // 2)
        self.bn = nn.BatchNorm2d(out_channels)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class GatedMLP(nn.Module):
    def __init__(self, hidden_size, intermediate_size):
        super().__init__()
        self.up = nn.Linear(hidden_size, 2 * intermediate_size)
        self.down = nn.Linear(intermediate_size, hidden_size)

    def forward(self, x):
        a, b = self.up(x).chunk(2, dim=-1)
        return self.down(F.silu(a) * b)


class NeedsAnObject(nn.Module):
    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, x):
        return self.backbone(x)


class Base(nn.Module):
    pass
"""


def test_modules_without_inputs_are_made_runnable_by_guessing(tmp_path):
    """Guesses are tried in the sandbox; the sound one becomes a problem marked inferred."""
    from kcorpus.config import load_config
    from kcorpus.mine.stage import mine
    from tests.conftest import make_git_repo, write_pipeline

    make_git_repo(tmp_path / "repo", {"LICENSE": "MIT License\n\nPermission is hereby granted, "
                                      "free of charge, to any person obtaining a copy",
                                      "layers/blocks.py": BLOCKS})
    cfg = load_config(write_pipeline(tmp_path / "p.yaml", "name: g\nsources:\n"
                                     f"  - {{kind: git, url: {(tmp_path / 'repo').as_uri()}}}\n"))
    with Catalog(tmp_path / "c.duckdb") as cat:
        # NeedsAnObject gets nn.Identity() for its module argument: an identity forward, which
        # the probe finds has nothing to compute (no_compute), so it is no problem
        assert mine(cat, cfg, tmp_path / "wd")["guesses"] == 4
        reasons = {r["item"]: r["reason"] for r in cat.rows("SELECT item, reason FROM rejects")}
        assert reasons == {"Base": "no_forward"}
        assert check_problems(cat, VerifyConfig(workers=2, timeout_s=60))["inferred"] == 3
        rows = cat.rows("SELECT entry_point, code, inputs_origin, op_types, problems.input_signature "
                        "FROM problems JOIN probes USING (problem_id) WHERE probes.ok "
                        "ORDER BY entry_point")
        assert [r["entry_point"] for r in rows] == ["ConvBNAct", "GatedMLP", "RMSNorm"]
        assert all(r["inputs_origin"] == "inferred" and "def get_inputs" in r["code"] for r in rows)
        assert '"shape": [2, 16, 16, 16]' in rows[0]["input_signature"]
        assert "conv" in rows[0]["op_types"] and "norm" in rows[2]["op_types"]
