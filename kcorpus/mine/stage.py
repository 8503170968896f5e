"""The mine stage: every configured source into `sources`, `problems`, `kernels` and `rejects`.

Triton kernels flagged standalone are confirmed in sandboxed children (kernel_check.py) before
the source's rows are written. A source already mined at the same commit (same `source_id`) is
skipped, so a rebuild only reads what changed. A source that fails to fetch, or whose license
the policy excludes, is recorded with its reason and the stage goes on; an excluded source is
mined once the policy allows it. A `kind: hf` dataset is one source per repository of its rows
(hf_source.py).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from kcorpus import schema
from kcorpus.catalog import Catalog
from kcorpus.config import GitHubSource, HfSource, PipelineConfig
from kcorpus.ids import content_id
from kcorpus.mine import hf_source
from kcorpus.mine.per_file import mine_tree
from kcorpus.mine.github_source import resolve
from kcorpus.mine.kernel_check import CheckConfig, check_kernels
from kcorpus.mine.licenses import allowed
from kcorpus.mine.sources import SourceError, checkout
from kcorpus.progress import bar
from kcorpus.rejects import reject_row


def mine(catalog: Catalog, cfg: PipelineConfig, workdir: Path) -> dict[str, int]:
    counts = {"sources": 0, "files": 0, "problems": 0, "guesses": 0, "kernels": 0, "rejects": 0}
    with bar("mine", total=len(cfg.sources)) as progress:
        for spec in cfg.sources:
            if isinstance(spec, GitHubSource):
                resolved, failures = resolve(spec, workdir / "github-cache")
                for name, error in failures:
                    _fetch_failed(catalog, name, error, counts)
                for r in resolved:
                    _mine_source(catalog, cfg, workdir, r.spec, counts,
                                 dict(kind="github", license=r.license, stars=r.stars))
            elif isinstance(spec, HfSource):
                _mine_dataset(catalog, cfg, workdir, spec, counts)
            else:
                _mine_source(catalog, cfg, workdir, spec, counts, {})
            progress.advance()
    return counts


def _fetch_failed(catalog: Catalog, label: str, error: str, counts: dict[str, int]) -> None:
    row = reject_row("mine", content_id("source", label), label, "", "fetch_failed", error)
    counts["rejects"] += catalog.insert_new("rejects", schema.table("rejects").to_arrow([row]))


def _mine_source(catalog, cfg, workdir, spec, counts, resolved: dict) -> None:
    label = getattr(spec, "url", None) or str(getattr(spec, "path", ""))
    try:
        co = checkout(spec, workdir, cfg.license_policy, **resolved)
    except SourceError as e:
        return _fetch_failed(catalog, label, str(e), counts)
    _store_checked(catalog, cfg, [m for m in [_mine_checkout(catalog, cfg, co, counts, [])] if m],
                   counts)


HF_BATCH = 256  # repositories of a dataset whose kernels are checked in one sandbox run


def _mine_dataset(catalog, cfg, workdir, spec: HfSource, counts) -> None:
    """A Stack-style dataset: each repository of its rows is a source of its own."""
    batch = []
    try:
        for hf in hf_source.checkouts(spec, workdir, cfg.license_policy, cfg.mine.max_file_bytes):
            mined = _mine_checkout(catalog, cfg, hf.checkout, counts, hf.rejects)
            shutil.rmtree(hf.checkout.root, ignore_errors=True)
            batch += [mined] if mined else []
            if len(batch) >= HF_BATCH:
                _store_checked(catalog, cfg, batch, counts)
                batch = []
    except SourceError as e:
        _fetch_failed(catalog, spec.dataset, str(e), counts)
    _store_checked(catalog, cfg, batch, counts)


@dataclass
class _Mined:
    source: dict
    was_excluded: bool
    rows: dict[str, list[dict]]  # table -> rows


def _mine_checkout(catalog, cfg, co, counts, rejects: list[dict]) -> _Mined | None:
    """One checkout's rows (kernels not yet checked), or None when its source id is mined
    already (or still excluded by the license policy)."""
    sid = co.row["source_id"]
    pol = cfg.license_policy
    permitted = allowed(co.row["license_class"], pol.allow_copyleft, pol.allow_unknown)
    seen = bool(catalog.rows("SELECT 1 FROM sources WHERE source_id = ?", [sid]))
    was_excluded = seen and bool(catalog.rows(f"SELECT 1 {_EXCLUDED}", [sid]))
    if seen and not (permitted and was_excluded):
        return None
    problems, kernels, guesses = [], [], []
    if not permitted:
        rejects.append(reject_row("mine", sid, "", "", "license_excluded",
                                  f"license {co.row['license']} ({co.row['license_class']}) "
                                  "is not allowed by license_policy"))
    else:
        _extract(co.root, sid, cfg, problems, kernels, guesses, rejects, counts)
    return _Mined(co.row, was_excluded, {"problems": problems, "kernels": kernels,
                                         "guesses": guesses, "rejects": rejects})


_EXCLUDED = "FROM rejects WHERE source_id = ? AND reason = 'license_excluded'"


def _store_checked(catalog, cfg, mined: list[_Mined], counts) -> None:
    """Check the kernels of these sources in one sandbox run, then store each source."""
    check_kernels([k for m in mined for k in m.rows["kernels"]],
                  CheckConfig(workers=cfg.mine.workers))
    for m in mined:
        with catalog.transaction():  # a source's rows land together or not at all
            if m.was_excluded:  # under a stricter policy before; mined now
                catalog.con.execute(f"DELETE {_EXCLUDED}", [m.source["source_id"]])
            counts["sources"] += catalog.insert_new(
                "sources", schema.table("sources").to_arrow([m.source]))
            for name, rows in m.rows.items():
                counts[name] += catalog.insert_new(name, schema.table(name).to_arrow(rows))


def _extract(root: Path, sid: str, cfg: PipelineConfig, problems: list, kernels: list,
             guesses: list, rejects: list, counts: dict[str, int]) -> None:
    for rows in mine_tree(root, sid, cfg.mine.max_file_bytes, set(cfg.mine.allowed_imports),
                          cfg.mine.workers):
        counts["files"] += 1
        problems += rows.problems
        kernels += rows.kernels
        guesses += rows.guesses
        rejects += rows.rejects
