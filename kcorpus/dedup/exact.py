"""Exact dedup: problems, candidates and kernels clustered by their normalised code (incremental).

Normalising drops comments, docstrings and formatting (as ids do) and also renames every
function's arguments and local variables to positional placeholders, so two programs that
differ only in those names share a cluster. Every item gets a `dedup` row; which member of a
cluster is published is decided at publish time (verified, then fastest, then most stars).
"""

from __future__ import annotations

import ast

from kcorpus import schema
from kcorpus.catalog import Catalog
from kcorpus.ids import content_id, normalize_code

METHOD = "exact"
_ITEMS = {  # kind -> (table, id column, code expression)
    "problem": ("problems", "problem_id", "code"),
    "candidate": ("candidates", "candidate_id", "code"),
    "kernel": ("kernels", "kernel_id", "code"),
}


class _Locals(ast.NodeTransformer):
    """Renames arguments and assigned names inside each function to v0, v1, ..."""

    def visit_FunctionDef(self, node):
        names: dict[str, str] = {}
        for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs:
            names.setdefault(a.arg, f"v{len(names)}")
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store):
                names.setdefault(n.id, f"v{len(names)}")
        for n in ast.walk(node):
            if isinstance(n, ast.arg) and n.arg in names:
                n.arg = names[n.arg]
            elif isinstance(n, ast.Name) and n.id in names:
                n.id = names[n.id]
        return node

    visit_AsyncFunctionDef = visit_FunctionDef


def canonical_code(code: str) -> str:
    text = normalize_code(code)
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return text
    return ast.unparse(_Locals().visit(tree))


def exact_dedup(catalog: Catalog) -> dict[str, int]:
    counts = {}
    for kind, (table, id_col, code_col) in _ITEMS.items():
        rows = catalog.rows(
            f"SELECT {id_col} AS item_id, {code_col} AS code FROM {table} t WHERE NOT EXISTS "
            f"(SELECT 1 FROM dedup d WHERE d.item_id = t.{id_col} AND d.method = ?)", [METHOD])
        out = [{"item_id": r["item_id"], "item_kind": kind, "method": METHOD,
                "cluster_id": content_id(kind, METHOD, canonical_code(r["code"]) if r["code"]
                                         else "empty:" + r["item_id"])}
               for r in rows]
        counts[f"{kind}s"] = catalog.insert_new("dedup", schema.table("dedup").to_arrow(out))
    counts["clusters"] = catalog.scalar(
        "SELECT count(DISTINCT cluster_id) FROM dedup WHERE method = ?", [METHOD])
    return counts
