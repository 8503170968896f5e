"""`kcorpus bench dedup --rows N`: near dedup of a synthetic corpus with planted near-duplicates.

kcorpus's near dedup (kcorpus/dedup/near.py: shingles and R-MinHash signatures over `--workers`
processes, bands and components in DuckDB) runs over all N rows. datasketch's MinHash and
MinHashLSH (same shingles, same number of permutations and threshold, the same estimate filter)
run over the first `--datasketch-rows` rows in the same run, as does kcorpus again, so the two
are compared on the same rows; datasketch's time for N rows is extrapolated linearly from it.

Recall and precision are against exact Jaccard on the same shingles: the true pairs are the
pairs of each planted group, and every pair either method reports, whose exact Jaccard is at
least the threshold (pairs of unrelated rows that neither reports are not enumerated). A method
reports the pairs it kept (candidate pairs whose estimate passed). The last line is one JSON
object.
"""

from __future__ import annotations

import argparse
import sys
import time

import duckdb
import numpy as np

from kcorpus.bench.report import peak_rss_mb, print_result
from kcorpus.bench.synthetic_code import corpus
from kcorpus.dedup.near import NearDedupConfig, near_clusters
from kcorpus.dedup.shingles import shingle_hashes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--datasketch-rows", type=int, default=20_000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threshold", type=float, default=0.7)
    a = p.parse_args(argv)
    cfg = NearDedupConfig(threshold=a.threshold)
    t0 = time.perf_counter()
    docs, groups = corpus(a.rows)
    t_corpus = time.perf_counter() - t0
    con = duckdb.connect()
    t0 = time.perf_counter()
    labels, edges = near_clusters(con, docs, cfg, a.workers)
    seconds = time.perf_counter() - t0
    peak = peak_rss_mb()
    ours = _pairs(edges)
    n_small = min(a.datasketch_rows, a.rows)
    t0 = time.perf_counter()
    _, small_edges = near_clusters(con, docs[:n_small], cfg, a.workers)
    small_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    ds_pairs = datasketch_pairs(docs[:n_small], cfg)
    ds_seconds = time.perf_counter() - t0
    truth_all = _truth(docs, groups, ours, cfg)
    small_groups = groups[:n_small]
    truth_small = _truth(docs[:n_small], small_groups, _pairs(small_edges) | ds_pairs, cfg)
    result = {
        "rows": a.rows, "seconds": round(seconds, 1), "workers": a.workers,
        "threshold": cfg.threshold, "num_perm": cfg.num_perm, "bands": cfg.bands,
        "rows_per_band": cfg.rows, "shingle_bytes": cfg.shingle,
        "planted_rows": int((groups >= 0).sum()), "pairs_reported": len(ours),
        "clusters_of_two_or_more": int(len(np.unique(labels)) < a.rows and
                                       (np.bincount(labels) > 1).sum()),
        **_score(ours, truth_all, "recall", "precision"),
        "peak_rss_mb": peak, "corpus_seconds": round(t_corpus, 1),
        "compare_rows": n_small, "ours_compare_seconds": round(small_seconds, 2),
        **_score(_pairs(small_edges), truth_small, "ours_compare_recall",
                 "ours_compare_precision"),
        "datasketch_seconds": round(ds_seconds, 2),
        **_score(ds_pairs, truth_small, "datasketch_recall", "datasketch_precision"),
        "datasketch_seconds_per_million_rows": round(ds_seconds * 1e6 / n_small, 1),
        "speedup_vs_datasketch_same_rows": round(ds_seconds / small_seconds, 1),
        "speedup_vs_datasketch_per_row": round(ds_seconds / n_small / (seconds / a.rows), 1),
    }
    print_result(result)
    return 0


def datasketch_pairs(docs: list[str], cfg: NearDedupConfig) -> set[tuple[int, int]]:
    """datasketch's MinHash + MinHashLSH over the same shingles (their 8-byte hashes as bytes)."""
    from datasketch import MinHash, MinHashLSH

    hashes, offsets = shingle_hashes(docs, cfg.shingle)
    lsh = MinHashLSH(threshold=cfg.threshold, num_perm=cfg.num_perm)
    sketches = []
    for i in range(len(docs)):
        m = MinHash(num_perm=cfg.num_perm, seed=cfg.seed)
        m.update_batch([h.tobytes() for h in hashes[offsets[i]: offsets[i + 1]]])
        lsh.insert(i, m)
        sketches.append(m)
    pairs = set()
    for i, m in enumerate(sketches):
        for j in lsh.query(m):
            if j > i and m.jaccard(sketches[j]) >= cfg.threshold - cfg.margin:
                pairs.add((i, j))
    return pairs


def _pairs(edges: np.ndarray) -> set[tuple[int, int]]:
    return {(int(a), int(b)) for a, b, _ in edges}


def _truth(docs, groups, reported: set, cfg: NearDedupConfig) -> set[tuple[int, int]]:
    planted = set()
    for g in np.unique(groups[groups >= 0]):
        members = np.flatnonzero(groups == g)
        planted |= {(int(a), int(b)) for i, a in enumerate(members) for b in members[i + 1:]}
    candidates = sorted(planted | reported)
    involved = sorted({i for pair in candidates for i in pair})
    hashes, offsets = shingle_hashes([docs[i] for i in involved], cfg.shingle)
    sets = {d: np.unique(hashes[offsets[k]: offsets[k + 1]]) for k, d in enumerate(involved)}
    return {(a, b) for a, b in candidates if _jaccard(sets[a], sets[b]) >= cfg.threshold}


def _jaccard(x: np.ndarray, y: np.ndarray) -> float:
    inter = len(np.intersect1d(x, y, assume_unique=True))
    return inter / (len(x) + len(y) - inter)


def _score(found: set, truth: set, recall_key: str, precision_key: str) -> dict:
    hit = len(found & truth)
    return {recall_key: round(hit / len(truth), 4) if truth else None,
            precision_key: round(hit / len(found), 4) if found else None}


if __name__ == "__main__":
    sys.exit(main())
