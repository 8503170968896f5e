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
        assert check_problems(cat, cfg) == {"probed": 6, "ok": 1}
        got = {r["problem_id"]: r for r in cat.rows("SELECT * FROM probes")}
        assert got["sound"]["ok"] and '"shape": [6, 100]' in got["sound"]["input_signature"]
        for flag in ("nondeterministic", "near_zero", "ignores_inputs", "ignores_weights"):
            assert not got[flag]["ok"] and flag in got[flag]["flags"], got[flag]
        assert got["broken"]["flags"] == ["error"] and "RuntimeError" in got["broken"]["message"]
        assert check_problems(cat, cfg) == {"probed": 0, "ok": 0}
