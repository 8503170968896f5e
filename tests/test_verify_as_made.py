"""On a GPU: the Inductor backend with `verify_as_made` stores its candidate and that
candidate's verdict, made in the same fork server, so the verify stage after it has nothing left.

Inductor writes Triton only for a GPU, so this runs where one is (skipped elsewhere); the CPU
tests of the shared server are in test_stream.py.
"""

from __future__ import annotations

import json

import pytest

from kcorpus.catalog import Catalog
from kcorpus.config import PipelineConfig
from kcorpus.synth.stage import synth
from kcorpus.verify import tricks as P
from kcorpus.verify.stage import verify
from tests.conftest import table_rows


@pytest.mark.gpu
def test_candidates_made_by_inductor_are_verified_in_the_same_server(tmp_path):
    cfg = PipelineConfig.model_validate({
        "name": "t", "sources": [{"kind": "local", "path": str(tmp_path)}],
        "synth": {"backends": [{"kind": "inductor", "modes": ["default"], "timeout_s": 240,
                                "verify_as_made": True}]},
        "verify": {"device": "cuda", "trials": 2, "workers": 2, "timing_budget_s": 0.2}})
    problem = {"problem_id": "p1", "source_id": "s1", "origin_path": "m.py",
               "entry_point": "Model", "code": P.PROBLEM, "inputs_origin": "defined",
               "op_types": ["elementwise"], "degenerate_flags": []}
    figures = {"weights": 4096, "given": 2**20, "peak": 2**22}
    with Catalog(tmp_path / "c.duckdb") as cat:
        cat.insert_new("problems", table_rows("problems", [problem]))
        cat.insert_new("probes", table_rows("probes", [
            {"problem_id": "p1", "ok": True, "flags": [], "aten_ops": ["aten::mul", "aten::relu"],
             "figures": json.dumps(figures)}]))
        counts = synth(cat, cfg)
        assert counts["candidates"] == 1 and counts["verdicts_as_made"] == 1, counts
        (cand,) = cat.rows("SELECT candidate_id FROM candidates")
        (verdict,) = cat.rows("SELECT candidate_id, passed, failure_code FROM verdicts")
        assert verdict["candidate_id"] == cand["candidate_id"]
        assert verdict["passed"], verdict
        assert verify(cat, cfg.verify) == {"verdicts": 0, "passed": 0}


_LINEAR = '''
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(256, 256)

    def forward(self, x):
        return torch.relu(self.fc(x))


def get_inputs():
    return [torch.randn(64, 256)]


def get_init_inputs():
    return []
'''


def _both_modes(tmp_path, shared: int) -> dict:
    cfg = PipelineConfig.model_validate({
        "name": "t", "sources": [{"kind": "local", "path": str(tmp_path)}],
        "synth": {"backends": [{"kind": "inductor", "modes": ["default", "triton_templates"],
                                "timeout_s": 240, "shared": shared}]},
        "verify": {"device": "cuda", "workers": 2}})
    problem = {"problem_id": "lin", "source_id": "s1", "origin_path": "m.py",
               "entry_point": "Model", "code": _LINEAR, "inputs_origin": "defined",
               "op_types": ["gemm"], "degenerate_flags": []}
    figures = {"weights": 2**18, "given": 2**16, "peak": 2**20}
    with Catalog(tmp_path / f"c{shared}.duckdb") as cat:
        cat.insert_new("problems", table_rows("problems", [problem]))
        cat.insert_new("probes", table_rows("probes", [
            {"problem_id": "lin", "ok": True, "flags": [], "figures": json.dumps(figures),
             "aten_ops": ["aten::addmm", "aten::relu"]}]))
        synth(cat, cfg)
        return {r["prompt_template"]: r["code"] for r in
                cat.rows("SELECT prompt_template, code FROM candidates")}


@pytest.mark.gpu
def test_a_problems_two_modes_in_one_child_make_what_two_children_make(tmp_path):
    alone, shared = _both_modes(tmp_path, 1), _both_modes(tmp_path, 2)
    assert len(alone) == 2 and alone.keys() == shared.keys()
    # the default mode's code is the same whichever child compiled it; max-autotune's choice
    # among templates depends on timings, so only that it made one is compared
    default = next(t for t in alone if "default" in t)
    assert alone[default] == shared[default]
