"""The profiling benchmarks of the fork server's children (kcorpus.bench.sample_jobs and
child_costs), on the CPU: jobs drawn from a real catalog as the stages build them, then each run
in a forked child of a server that preloaded as worker.py does, with its seconds and a profile.
On a GPU node the same commands profile a corpus rebuild's jobs (RESULTS.md)."""

from __future__ import annotations

import json

from kcorpus.bench import child_costs, sample_jobs
from kcorpus.catalog import Catalog
from kcorpus.verify import tricks as P
from tests.conftest import table_rows


def _catalog(path):
    with Catalog(path) as cat:
        cat.insert_new("problems", table_rows("problems", [
            {"problem_id": "p1", "source_id": "s", "origin_path": "m.py", "entry_point": "Model",
             "code": P.PROBLEM, "op_types": [], "degenerate_flags": []}]))
        cat.insert_new("probes", table_rows("probes", [
            {"problem_id": "p1", "ok": True, "flags": [], "aten_ops": [], "checked_on": "cpu"}]))
        cat.insert_new("candidates", table_rows("candidates", [
            {"candidate_id": "c1", "problem_id": "p1", "backend": "replay", "code": P.HONEST,
             "prompt_template": "x"}]))
        cat.insert_new("verdicts", table_rows("verdicts", [
            {"candidate_id": "c1", "passed": True, "verifier_version": "0", "gpu_arch": "cpu"}]))


def test_jobs_sampled_from_a_catalog_are_profiled_one_by_one(tmp_path):
    _catalog(tmp_path / "c.duckdb")
    jobs = tmp_path / "jobs.jsonl"
    assert sample_jobs.main([str(tmp_path / "c.duckdb"), str(jobs), "--device", "cpu"]) == 0
    kinds = [json.loads(x).get("kind", "verify") for x in jobs.read_text().splitlines()]
    assert kinds == ["probe", "verify"]  # no Inductor candidate in this catalog
    out = tmp_path / "out"
    assert child_costs.main([str(jobs), "--out", str(out), "--device", "cpu", "--profile", "1"]) == 0
    rows = json.loads((out / "child_costs.json").read_text())["jobs"]
    assert [(r["kind"], r["passed"]) for r in rows] == [("probe", True), ("verify", True)]
    assert all(r["wall_s"] > 0 for r in rows) and "load" in rows[1]["phases"]
    assert "cumulative" in (out / "profile_verify_1.txt").read_text()


def test_sampling_names_a_missing_catalog(tmp_path, capsys):
    assert sample_jobs.main([str(tmp_path / "none.duckdb"), str(tmp_path / "j.jsonl")]) == 2
    assert "none.duckdb: no such catalog" in capsys.readouterr().err
