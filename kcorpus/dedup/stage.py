"""The dedup stage: exact clusters (incremental), near clusters (recomputed over everything, as
a new item can join two clusters), and decontamination against the configured evaluation sets.
Near clusters replace the previous `near` rows in one transaction; nothing else is deleted.
"""

from __future__ import annotations

import duckdb

from kcorpus import schema
from kcorpus.catalog import Catalog
from kcorpus.config import DedupConfig
from kcorpus.dedup.decontam import Matcher, load_eval_set
from kcorpus.dedup.exact import exact_dedup
from kcorpus.dedup.near import NearDedupConfig, near_clusters
from kcorpus.ids import content_id
from kcorpus.progress import bar

_NEAR_ITEMS = {"problem": ("problems", "problem_id"), "candidate": ("candidates", "candidate_id")}


def dedup(catalog: Catalog, cfg: DedupConfig | None = None) -> dict[str, int]:
    cfg = cfg or DedupConfig()
    counts = exact_dedup(catalog)
    if cfg.near.enabled:
        counts.update(near_dedup(catalog, cfg))
    if cfg.decontaminate.sets:
        counts["contaminated"] = decontaminate(catalog, cfg)
    return counts


def near_config(cfg: DedupConfig) -> NearDedupConfig:
    n = cfg.near
    return NearDedupConfig(threshold=n.threshold, num_perm=n.num_perm, bands=n.bands,
                           rows=n.rows, shingle=n.shingle, margin=n.margin)


def near_dedup(catalog: Catalog, cfg: DedupConfig) -> dict[str, int]:
    """Near clusters of problems, then of candidates within their problems' clusters: two
    solutions alike in text (Inductor's matmul template, for a plain and a triangular matmul)
    repeat each other as pairs only when their problems do too."""
    near = near_config(cfg)
    counts: dict[str, int] = {}
    problem_cluster: dict[str, str] = {}
    for kind, (table, id_col) in _NEAR_ITEMS.items():
        extra = ", problem_id" if kind == "candidate" else ""
        rows = catalog.rows(f"SELECT {id_col} AS id, code{extra} FROM {table} WHERE code <> '' "
                            f"ORDER BY {id_col}")
        if not rows:
            continue
        with duckdb.connect() as con:  # scratch space for bands and components
            labels, _ = near_clusters(con, [r["code"] for r in rows], near)
        if kind == "problem":
            ids = [content_id(kind, "near", rows[label]["id"]) for label in labels]
            problem_cluster = {r["id"]: c for r, c in zip(rows, ids)}
        else:
            ids = [content_id(kind, "near", problem_cluster.get(r["problem_id"], r["problem_id"]),
                              rows[label]["id"]) for r, label in zip(rows, labels)]
        out = [{"item_id": r["id"], "item_kind": kind, "method": "near", "cluster_id": c}
               for r, c in zip(rows, ids)]
        with catalog.transaction():
            catalog.con.execute("DELETE FROM dedup WHERE method = 'near' AND item_kind = ?", [kind])
            catalog.insert_new("dedup", schema.table("dedup").to_arrow(out))
        counts[f"near_{kind}_clusters"] = len(set(ids))
    return counts


def decontaminate(catalog: Catalog, cfg: DedupConfig) -> int:
    dc = cfg.decontaminate
    items = [b for spec in dc.sets for b in load_eval_set(spec)]
    matcher = Matcher(items, dc)
    found = []
    for kind, (table, id_col) in _NEAR_ITEMS.items():
        rows = catalog.rows(f"SELECT {id_col} AS id, code FROM {table} t WHERE code <> '' AND "
                            f"NOT EXISTS (SELECT 1 FROM contamination c WHERE c.item_id = "
                            f"t.{id_col}) ORDER BY {id_col}")
        with bar(f"decontaminate {table}", total=len(rows)) as progress:
            for start in range(0, len(rows), 5000):
                batch = rows[start: start + 5000]
                for r, hits in zip(batch, matcher.match([r["code"] for r in batch])):
                    found += [{"item_id": r["id"], "item_kind": kind,
                               "benchmark": items[j].benchmark, "benchmark_item": items[j].name,
                               "method": method, "score": score} for j, method, score in hits]
                progress.advance(len(batch))
    with catalog.transaction():
        return catalog.insert_new("contamination", schema.table("contamination").to_arrow(found))
