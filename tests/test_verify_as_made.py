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
