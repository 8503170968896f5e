"""Near dedup: shingles, MinHash bands and DuckDB components on planted near-duplicates."""

from __future__ import annotations

import json

import duckdb
import numpy as np
import pytest

from kcorpus.bench.synthetic_code import corpus
from kcorpus.catalog import Catalog
from kcorpus.config import DedupConfig
from kcorpus.dedup.stage import near_dedup
from kcorpus.dedup.near import NearDedupConfig, near_clusters
from kcorpus.dedup.shingles import normalise, shingle_hashes
from tests.conftest import run_cli, table_rows


def test_normalising_ignores_names_comments_and_layout_but_keeps_apis_and_numbers():
    a = "def f(x):  # scale\n    y = torch.relu(x)\n    return y * 2.0\n"
    b = "def g(inp):\n\n    out = torch.relu( inp )\n    return out * 2.0"
    assert normalise([a])[0].split() == normalise([b])[0].replace("( V )", "(V)").split()
    assert "relu" in normalise([a])[0] and "2.0" in normalise([a])[0]
    h, offsets = shingle_hashes([a, "", b], 16)
    assert len(offsets) == 4 and offsets[2] - offsets[1] == 1  # an empty doc: one shingle


def test_planted_copies_cluster_and_unrelated_programs_do_not():
    docs, groups = corpus(4000, dup_share=0.2, seed=3)
    labels, edges = near_clusters(duckdb.connect(), docs, NearDedupConfig(), workers=2)
    planted = [np.flatnonzero(groups == g) for g in np.unique(groups[groups >= 0])]
    together = sum(len(set(labels[m])) == 1 for m in planted)
    assert together / len(planted) >= 0.9
    # no cluster mixes two planted groups or a group with unrelated rows, beyond a stray few
    members = {}
    for i, label in enumerate(labels):
        members.setdefault(label, set()).add(groups[i] if groups[i] >= 0 else -i - 1)
    mixed = [m for m in members.values() if len(m) > 1]
    assert len(mixed) <= 0.02 * len(planted)
    assert (edges[:, 2] >= 0.65).all()


def test_bands_and_rows_must_make_the_permutations():
    with pytest.raises(ValueError, match="bands \\* rows must equal num_perm"):
        NearDedupConfig(num_perm=128, bands=20, rows=8)


def test_bench_dedup_prints_a_table_and_one_json_line():
    out = run_cli("bench", "dedup", "--rows", "4000", "--datasketch-rows", "800").stdout
    result = json.loads(out.strip().splitlines()[-1])
    for key in ("rows", "seconds", "recall", "precision", "datasketch_seconds", "peak_rss_mb"):
        assert key in result
    assert result["rows"] == 4000 and result["recall"] >= 0.9 and result["precision"] >= 0.9



def test_alike_solutions_repeat_each_other_only_when_their_problems_do(tmp_path):
    """A generated matmul for a plain and for a triangular matmul shares most of its text
    (Inductor's template); as pairs they differ, because their problems do. The same solution
    to two copies of one problem is one pair."""
    plain, tri = corpus(2, dup_share=0.0, seed=5)[0]  # two unrelated problem programs
    solution = "\n".join(f"def kernel_{i}(x, y):\n    return tl.dot(x, y) * {i}" for i in range(40))
    problems = [("plain", plain), ("plain_copy", plain + "\n# a copy\n"), ("tri", tri)]
    candidates = [(f"c_{p}", p, solution + f"\n# for {p}\n") for p, _ in problems]
    with Catalog(tmp_path / "c.duckdb") as cat:
        cat.insert_new("problems", table_rows("problems", [
            {"problem_id": p, "source_id": "s", "code": code} for p, code in problems]))
        cat.insert_new("candidates", table_rows("candidates", [
            {"candidate_id": c, "problem_id": p, "code": code} for c, p, code in candidates]))
        counts = near_dedup(cat, DedupConfig())
        got = {r["item_id"]: r["cluster_id"] for r in cat.rows(
                "SELECT item_id, cluster_id FROM dedup WHERE method = 'near' "
                "AND item_kind = 'candidate'")}
    assert counts["near_problem_clusters"] == 2 and counts["near_candidate_clusters"] == 2
    assert got["c_plain"] == got["c_plain_copy"] != got["c_tri"]
