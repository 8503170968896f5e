"""A `github` source resolved into pinned git sources: explicit repositories and a search."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kcorpus.config import GitHubSource, GitSource
from kcorpus.mine.github import GitHubClient, GitHubError


@dataclass
class Resolved:
    spec: GitSource  # pinned to the commit sha the API gave
    license: str | None
    stars: int | None


def resolve(spec: GitHubSource, cache_dir: Path) -> tuple[list[Resolved], list[tuple[str, str]]]:
    """Repositories to clone, and (repository, error) for those that could not be resolved."""
    client = GitHubClient(spec.api_url, cache_dir=cache_dir)
    wanted: list[tuple[str, str | None, dict | None]] = []
    failures: list[tuple[str, str]] = []
    for entry in spec.repos:
        name, _, ref = entry.partition("@")
        wanted.append((name, ref or None, None))
    if spec.search:
        try:
            wanted += [(item["full_name"], None, item)
                       for item in client.search_repositories(spec.search, spec.max_repos)]
        except GitHubError as e:
            failures.append((f"search:{spec.search}", str(e)))
    out = []
    for name, ref, meta in wanted:
        try:
            out.append(_pin(client, spec, name, ref, meta))
        except (GitHubError, KeyError, TypeError) as e:
            failures.append((name, f"{type(e).__name__}: {e}"))
    return out, failures


def _pin(client: GitHubClient, spec: GitHubSource, name: str, ref: str | None,
         meta: dict | None) -> Resolved:
    meta = meta or client.repo(name)
    sha = client.commit_sha(name, ref or meta["default_branch"])
    lic = (meta.get("license") or {}).get("spdx_id")
    git = GitSource(kind="git", url=meta["clone_url"], ref=sha, name=meta.get("full_name", name),
                    license=spec.license, clone_timeout_s=spec.clone_timeout_s)
    return Resolved(git, None if lic in (None, "NOASSERTION") else lic,
                    meta.get("stargazers_count"))
