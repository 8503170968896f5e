"""The mine stage: every configured source into `sources`, `problems`, `kernels` and `rejects`.

A source already mined at the same commit (same `source_id`) is skipped, so a rebuild only reads
what changed. A source that fails to fetch, or whose license the policy excludes, is recorded
with its reason and the stage goes on; an excluded source is mined once the policy allows it.
"""

from __future__ import annotations

from pathlib import Path

from kcorpus import schema
from kcorpus.catalog import Catalog
from kcorpus.config import GitHubSource, PipelineConfig
from kcorpus.ids import content_id
from kcorpus.mine.per_file import mine_tree
from kcorpus.mine.github_source import resolve
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
    sid = co.row["source_id"]
    pol = cfg.license_policy
    permitted = allowed(co.row["license_class"], pol.allow_copyleft, pol.allow_unknown)
    excluded = "FROM rejects WHERE source_id = ? AND reason = 'license_excluded'"
    seen = bool(catalog.rows("SELECT 1 FROM sources WHERE source_id = ?", [sid]))
    was_excluded = seen and bool(catalog.rows(f"SELECT 1 {excluded}", [sid]))
    if seen and not (permitted and was_excluded):
        return  # this commit is already mined, or still excluded by the license policy
    problems, kernels, guesses, rejects = [], [], [], []
    if not permitted:
        rejects.append(reject_row("mine", sid, "", "", "license_excluded",
                                  f"license {co.row['license']} ({co.row['license_class']}) "
                                  "is not allowed by license_policy"))
    else:
        _extract(co.root, sid, cfg, problems, kernels, guesses, rejects, counts)
    with catalog.transaction():  # a source's rows land together or not at all
        if was_excluded:  # under a stricter policy before; mined now
            catalog.con.execute(f"DELETE {excluded}", [sid])
        counts["sources"] += catalog.insert_new("sources", schema.table("sources").to_arrow([co.row]))
        for name, rows in (("problems", problems), ("kernels", kernels), ("guesses", guesses),
                           ("rejects", rejects)):
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
