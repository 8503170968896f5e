"""Near dedup: MinHash signatures (rensa), LSH bands and connected components (DuckDB).

Steps, in order:
1. shingles (shingles.py): normalised code, `shingle`-byte windows, 64-bit hashes;
2. signatures: rensa's R-MinHash, `num_perm` 32-bit values per document;
3. bands: the signature cut into `bands` bands of `rows` values (bands * rows = num_perm), each
   band hashed to 64 bits; a DuckDB self-join on (band, hash) gives the candidate pairs;
4. each candidate pair is kept when the share of equal signature values (the Jaccard estimate)
   is at least `threshold - margin`;
5. connected components of the kept pairs, by min-label propagation in DuckDB: every item
   takes the smallest label among itself and its neighbours until nothing changes.

The parameter math: two documents of Jaccard similarity s agree on one band with probability
s^r, so they become a candidate pair with probability P(s) = 1 - (1 - s^r)^b, an S-curve whose
midpoint is (1/b)^(1/r). With the defaults (num_perm 160, b = 20 bands of r = 8 rows; midpoint
0.69) P(0.3) = 1.3e-3, P(0.5) = 0.075, P(0.7) = 0.70, P(0.8) = 0.975, P(0.9) = 1 - 1e-5. Code
shares boilerplate (imports, `class Model`, `get_inputs`), so unrelated programs are not far
apart: on the bench's corpus, random pairs average J = 0.16 with 24-byte shingles (0.24 with
16), and over a million rows (5e11 pairs) even P(0.2) = 5e-5 makes millions of candidates; r = 8
keeps that to about 1e7 while planted copies (median J 0.89) are found with probability 0.99.
Step 4's estimate has a standard deviation of sqrt(s (1 - s) / num_perm), 0.036 at s = 0.7,
which the margin (0.05) absorbs at the cost of a few pairs just under the threshold.
"""

from __future__ import annotations

import multiprocessing
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from kcorpus.dedup.shingles import shingle_hashes

_BAND_MIX = np.uint64(0x9E3779B97F4A7C15)


@dataclass(frozen=True)
class NearDedupConfig:
    threshold: float = 0.7
    num_perm: int = 160
    bands: int = 20
    rows: int = 8
    shingle: int = 24  # bytes of normalised code per shingle (a multiple of 8, at most 32)
    margin: float = 0.05
    seed: int = 42
    chunk: int = 50_000  # documents per signature batch

    def __post_init__(self):
        if self.bands * self.rows != self.num_perm:
            raise ValueError(f"bands * rows must equal num_perm ({self.bands} * {self.rows} "
                             f"!= {self.num_perm})")
        if self.shingle % 8 or not 8 <= self.shingle <= 32:
            raise ValueError(f"shingle must be 8, 16, 24 or 32 bytes, got {self.shingle}")


def signatures(docs: list[str], cfg: NearDedupConfig, workers: int = 1) -> np.ndarray:
    """(len(docs), num_perm) uint32 MinHash signatures, `chunk` documents per task."""
    chunks = [(docs[i: i + cfg.chunk], cfg) for i in range(0, len(docs), cfg.chunk)]
    out = np.empty((len(docs), cfg.num_perm), dtype=np.uint32)
    if workers <= 1 or len(chunks) <= 1:
        parts = map(_chunk_signatures, chunks)
        return np.concatenate(list(parts)) if chunks else out
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for i, part in enumerate(pool.imap(_chunk_signatures, chunks)):
            out[i * cfg.chunk: i * cfg.chunk + len(part)] = part
    return out


def _chunk_signatures(args: tuple[list[str], NearDedupConfig]) -> np.ndarray:
    from rensa import RMinHash

    docs, cfg = args
    hashes, offsets = shingle_hashes(docs, cfg.shingle)
    matrix = RMinHash.digest_matrix_from_flat_token_hashes(hashes, offsets, cfg.num_perm,
                                                           cfg.seed)
    return np.array(matrix.to_rows(), dtype=np.uint32).reshape(len(docs), cfg.num_perm)


def band_table(sigs: np.ndarray, cfg: NearDedupConfig) -> pa.Table:
    """One row per (item, band): the band's 64-bit hash."""
    b = sigs.reshape(len(sigs), cfg.bands, cfg.rows).astype(np.uint64)
    h = np.zeros((len(sigs), cfg.bands), dtype=np.uint64)
    for j in range(cfg.rows):
        h = (h ^ b[:, :, j]) * _BAND_MIX + np.uint64(j + 1)
    items = np.repeat(np.arange(len(sigs), dtype=np.int32), cfg.bands)
    bands = np.tile(np.arange(cfg.bands, dtype=np.int16), len(sigs))
    return pa.table({"item": items, "band": bands, "h": h.reshape(-1)})


def candidate_pairs(con, sigs: np.ndarray, cfg: NearDedupConfig) -> np.ndarray:
    """(n, 2) int32 pairs (a < b) that share at least one band, from DuckDB."""
    con.register("kc_bands", band_table(sigs, cfg))
    pairs = con.sql(
        "SELECT DISTINCT x.item AS a, y.item AS b FROM kc_bands x JOIN kc_bands y "
        "ON x.band = y.band AND x.h = y.h AND x.item < y.item").fetchnumpy()
    con.unregister("kc_bands")
    return np.stack([pairs["a"], pairs["b"]], axis=1).astype(np.int32) if len(pairs["a"]) else \
        np.zeros((0, 2), dtype=np.int32)


def estimated_jaccard(sigs: np.ndarray, pairs: np.ndarray, batch: int = 200_000) -> np.ndarray:
    out = np.empty(len(pairs), dtype=np.float32)
    for i in range(0, len(pairs), batch):
        p = pairs[i: i + batch]
        out[i: i + batch] = (sigs[p[:, 0]] == sigs[p[:, 1]]).mean(axis=1)
    return out


def components(con, n: int, edges: np.ndarray) -> np.ndarray:
    """Component label (the smallest member) of each of n items, by min-label propagation."""
    labels = np.arange(n, dtype=np.int32)
    if not len(edges):
        return labels
    both = np.concatenate([edges, edges[:, ::-1]])
    con.register("kc_edges", pa.table({"a": both[:, 0], "b": both[:, 1]}))
    con.execute("CREATE OR REPLACE TEMP TABLE kc_label AS SELECT DISTINCT a AS item, a AS label "
                "FROM kc_edges")
    while True:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE kc_next AS SELECT l.item, least(l.label, "
            "min(m.label)) AS label FROM kc_label l JOIN kc_edges e ON e.a = l.item "
            "JOIN kc_label m ON m.item = e.b GROUP BY l.item, l.label")
        [(moved,)] = con.sql("SELECT count(*) FROM kc_next n JOIN kc_label l USING (item) "
                             "WHERE n.label < l.label").fetchall()
        con.execute("CREATE OR REPLACE TEMP TABLE kc_label AS SELECT * FROM kc_next")
        if moved == 0:
            break
    got = con.sql("SELECT item, label FROM kc_label").fetchnumpy()
    labels[got["item"]] = got["label"]
    con.unregister("kc_edges")
    con.execute("DROP TABLE IF EXISTS kc_label; DROP TABLE IF EXISTS kc_next")
    return labels


def near_clusters(con, docs: list[str], cfg: NearDedupConfig, workers: int = 1
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(labels, edges): each document's cluster label, and the kept pairs with their estimates
    as an (m, 3) float array (a, b, estimated Jaccard)."""
    sigs = signatures(docs, cfg, workers)
    pairs = candidate_pairs(con, sigs, cfg)
    est = estimated_jaccard(sigs, pairs)
    keep = est >= cfg.threshold - cfg.margin
    labels = components(con, len(docs), pairs[keep])
    return labels, np.column_stack([pairs[keep], est[keep]])
