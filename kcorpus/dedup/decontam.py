"""Decontamination: problems and candidates that match an evaluation set's items.

Evaluation sets are read at run time: a directory in KernelBench's layout
(`level*/N_Name.py`), a directory of TritonBench-style JSON files (a list of objects, the
PyTorch code under `code_field` or one of torch_code/python_code/code), or a Hub dataset id
(read with `datasets`). Three methods, each hit naming the benchmark item:

Before comparing, code is put in a plain form: comments, docstrings, type annotations and
formatting removed, local names canonicalised (as exact dedup does), then every identifier
that does not follow a `.` replaced by `V`.

1. hash: the plain forms are equal;
2. ngram13: at least `ngram_overlap` of the benchmark item's distinct 13-grams of normalised
   tokens occur in the item. 13-grams found in more than `boilerplate_share` of the benchmark's
   items (imports, `class Model(nn.Module)`, `get_inputs`) are ignored, so two unrelated
   problems of the same op type do not match on shared scaffolding;
3. minhash: estimated Jaccard of the near-dedup signatures at least `minhash_threshold`, over
   the same boilerplate-free text.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kcorpus.dedup.exact import canonical_code
from kcorpus.dedup.near import NearDedupConfig, signatures
from kcorpus.dedup.shingles import normalise

CODE_FIELDS = ("torch_code", "python_code", "code", "pytorch_code")
NAME_FIELDS = ("name", "file", "filename", "id", "problem_id")
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass
class BenchItem:
    benchmark: str
    name: str
    code: str


class EvalSetError(ValueError):
    pass


def load_eval_set(spec) -> list[BenchItem]:
    """The items of one configured evaluation set (config.EvalSet)."""
    if spec.hub is not None:
        return _from_dataset(spec)
    root = Path(spec.path)
    files = sorted(root.glob("level*/*.py")) or sorted(root.rglob("*.py"))
    items = [BenchItem(spec.name, p.relative_to(root).as_posix(), p.read_text()) for p in files]
    for p in sorted(root.rglob("*.json")):
        items += _from_json(spec, p, root)
    if not items:
        raise EvalSetError(f"evaluation set {spec.name}: no .py or .json items under {root}")
    return items


def _from_json(spec, path: Path, root: Path) -> list[BenchItem]:
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise EvalSetError(f"evaluation set {spec.name}: {path} is not JSON ({e})") from None
    rows = data if isinstance(data, list) else [data]
    return [BenchItem(spec.name, f"{path.relative_to(root).as_posix()}#{_name(r, i)}", code)
            for i, r in enumerate(rows) if isinstance(r, dict) and (code := _code(r, spec))]


def _from_dataset(spec) -> list[BenchItem]:
    import datasets

    ds = datasets.load_dataset(spec.hub, split=spec.split)
    return [BenchItem(spec.name, f"{spec.hub}#{_name(r, i)}", code)
            for i, r in enumerate(ds) if (code := _code(r, spec))]


def _code(row: dict, spec) -> str:
    fields = [spec.code_field] if spec.code_field else CODE_FIELDS
    return next((row[f] for f in fields if isinstance(row.get(f), str) and row[f].strip()), "")


def _name(row: dict, i: int) -> str:
    return str(next((row[f] for f in NAME_FIELDS if row.get(f) is not None), i))


class _NoAnnotations(ast.NodeTransformer):
    def visit_arg(self, node):
        node.annotation = None
        return node

    def visit_FunctionDef(self, node):
        node.returns = None
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node):
        if node.value is None:
            return None
        return ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)


def plain(codes: list[str]) -> list[str]:
    """The plain forms (see the module docstring) of the codes."""
    out = []
    for code in codes:
        text = canonical_code(code)
        try:
            text = ast.unparse(ast.fix_missing_locations(_NoAnnotations().visit(ast.parse(text))))
        except (SyntaxError, ValueError, RecursionError):
            pass
        out.append(text)
    return normalise(out)


def _grams(text: str, n: int) -> set[int]:
    tokens = _TOKEN.findall(text)
    return {hash(tuple(tokens[i: i + n])) for i in range(max(len(tokens) - n + 1, 1))}


class Matcher:
    """Built once from the benchmark items; `match` returns the hits for a batch of items."""

    def __init__(self, items: list[BenchItem], cfg):
        self.items, self.cfg = items, cfg
        texts = plain([b.code for b in items])
        self.hashes: dict[str, list[int]] = {}
        for j, t in enumerate(texts):
            self.hashes.setdefault(t, []).append(j)
        grams = [_grams(t, cfg.ngram) for t in texts]
        counts: dict[int, int] = {}
        for g in grams:
            for x in g:
                counts[x] = counts.get(x, 0) + 1
        limit = max(1, int(cfg.boilerplate_share * len(items)))
        self.boilerplate = {x for x, c in counts.items() if c > limit}
        self.grams = [g - self.boilerplate for g in grams]
        self.index: dict[int, list[int]] = {}
        for j, g in enumerate(self.grams):
            for x in g:
                self.index.setdefault(x, []).append(j)
        self.near = NearDedupConfig()
        self.sigs = signatures([self._strip(t) for t in texts], self.near)

    def _strip(self, normalised: str) -> str:
        """The text with its boilerplate 13-grams' tokens removed (for MinHash)."""
        tokens = _TOKEN.findall(normalised)
        n = self.cfg.ngram
        drop = set()
        for i in range(max(len(tokens) - n + 1, 0)):
            if hash(tuple(tokens[i: i + n])) in self.boilerplate:
                drop.update(range(i, i + n))
        return " ".join(t for i, t in enumerate(tokens) if i not in drop)

    def match(self, codes: list[str]) -> list[list[tuple[int, str, float]]]:
        """For each code: (benchmark item index, method, score) hits."""
        texts = plain(codes)
        sigs = signatures([self._strip(t) for t in texts], self.near)
        out = []
        for text, sig in zip(texts, sigs):
            hits = [(j, "hash", 1.0) for j in self.hashes.get(text, [])]
            grams = _grams(text, self.cfg.ngram) - self.boilerplate
            shared: dict[int, int] = {}
            for x in grams:
                for j in self.index.get(x, ()):
                    shared[j] = shared.get(j, 0) + 1
            hits += [(j, "ngram13", round(c / len(self.grams[j]), 4)) for j, c in shared.items()
                     if self.grams[j] and c / len(self.grams[j]) >= self.cfg.ngram_overlap]
            est = (self.sigs == sig).mean(axis=1)
            hits += [(int(j), "minhash", round(float(est[j]), 4))
                     for j in np.flatnonzero(est >= self.cfg.minhash_threshold)]
            out.append(hits)
        return out
