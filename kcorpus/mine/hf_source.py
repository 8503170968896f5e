"""`kind: hf`: a Stack-style dataset of files (one row per file) as one checkout per repository.

For users who mine at KernelBook's scale without the GitHub API. Steps, in order:

1. stream: the dataset is read with `datasets` in streaming mode (`dataset` a Hub id, or a local
   directory of Parquet files laid out the same way), `data_dir` and `split` as given, only the
   mapped columns, at most `max_rows` rows.
2. group: each row is written under a directory of its repository, at its own path, so imports
   between files of the same repository resolve as in a git checkout. A row without content, or
   whose path is absolute, climbs out (`..`) or is unusable, is a reject of that repository.
3. identify: a repository's source id hashes the rows it got (repository, path, commit, content),
   so a rebuild over the same rows finds every repository mined already and mines nothing; a
   repository with a changed or new row is mined again (unchanged code is still one row).
4. license: from the license column (a string or a list, as the Stacks have it), the most common
   value over the repository's rows, through the pipeline's license policy like any source.

Nothing mined is imported: the trees are mined as checkouts, AST only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, UTC
from pathlib import Path, PurePosixPath

from kcorpus.config import HfSource, LicensePolicy
from kcorpus.ids import content_id
from kcorpus.mine.licenses import license_class
from kcorpus.mine.sources import Checkout, SourceError
from kcorpus.rejects import reject_row

MAX_PATH = 400
_NO_LICENSE = {"", "none", "no_license", "no license"}


@dataclass
class _Repo:
    name: str
    root: Path
    hashes: list[str] = field(default_factory=list)
    licenses: Counter = field(default_factory=Counter)
    commits: set[str] = field(default_factory=set)
    bad_rows: list[tuple[str, str, str]] = field(default_factory=list)  # (path, reason, detail)
    paths: set[str] = field(default_factory=set)


@dataclass
class HfCheckout:
    checkout: Checkout
    rejects: list[dict]  # rows of the repository that could not become files


def checkouts(spec: HfSource, workdir: Path, policy: LicensePolicy,
              max_bytes: int) -> Iterator[HfCheckout]:
    """One checkout per repository of the dataset's rows, in repository order."""
    into = workdir / "hf" / content_id(spec.dataset, spec.data_dir or "", spec.split)[:16]
    shutil.rmtree(into, ignore_errors=True)
    repos: dict[str, _Repo] = {}
    for row in stream(spec):
        _add(repos, into, row, spec, policy, max_bytes)
    for name in sorted(repos):
        yield _checkout(repos[name], spec, policy)


def stream(spec: HfSource) -> Iterator[dict]:
    """The dataset's rows, only the mapped columns, at most `max_rows`."""
    try:
        from datasets import load_dataset

        token = os.environ.get(spec.token_env) if spec.token_env else None
        ds = load_dataset(spec.dataset, data_dir=spec.data_dir, split=spec.split,
                          streaming=True, revision=spec.revision, token=token)
    except Exception as e:  # not found, no such split, offline: the source is a fetch failure
        raise SourceError(f"dataset {spec.dataset} (data_dir {spec.data_dir}, split "
                          f"{spec.split}) could not be opened: {type(e).__name__}: {e}") from None
    wanted = [c for c in spec.columns.model_dump().values() if c]
    for i, row in enumerate(ds):
        if spec.max_rows is not None and i >= spec.max_rows:
            return
        missing = [c for c in wanted if c not in row]
        if missing:
            raise SourceError(f"dataset {spec.dataset}: no column {', '.join(missing)} (columns: "
                              f"{', '.join(sorted(row))}); set columns: in the source")
        yield {c: row[c] for c in wanted}


def _add(repos: dict[str, _Repo], into: Path, row: dict, spec: HfSource,
         policy: LicensePolicy, max_bytes: int) -> None:
    cols = spec.columns
    name = str(row[cols.repo] or "")
    repo = repos.get(name)
    if repo is None:
        repo = repos[name] = _Repo(name, into / content_id("repo", name)[:16])
    path, content = str(row[cols.path] or ""), row[cols.content]
    commit = str(row[cols.commit]) if cols.commit and row[cols.commit] is not None else ""
    data = content.encode("utf-8", "surrogatepass") if isinstance(content, str) else content
    why = _bad_path(path) or ("" if isinstance(data, bytes) else "no_content")
    if not why and path in repo.paths:
        why = "duplicate_path"
    if why:
        repo.bad_rows.append((path[:MAX_PATH], why, f"row of {name}: {why.replace('_', ' ')}"))
        return
    repo.paths.add(path)
    repo.hashes.append(content_id(name, path, commit, hashlib.sha256(data).hexdigest()))
    if commit:
        repo.commits.add(commit)
    if cols.license:
        repo.licenses[_license(row[cols.license], policy)] += 1
    target = repo.root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data[: max_bytes + 1])  # over the limit is still a too_large reject


def _bad_path(path: str) -> str:
    p = PurePosixPath(path)
    if not path or "\x00" in path or len(path) > MAX_PATH or p.is_absolute():
        return "bad_path"
    if any(part in ("..", ".", "") for part in path.split("/")) or "\\" in path:
        return "bad_path"
    return ""


def _license(value, policy: LicensePolicy) -> str:
    """A license cell as one SPDX id: of a list, the first the policy allows, else the first."""
    values = [str(v) for v in value] if isinstance(value, (list, tuple)) else [value]
    values = [v for v in values if v is not None and str(v).strip().lower() not in _NO_LICENSE]
    if not values:
        return "none"
    return next((v for v in values if v in policy.allow), values[0])


def _checkout(repo: _Repo, spec: HfSource, policy: LicensePolicy) -> HfCheckout:
    rows = hashlib.sha256("\n".join(sorted(repo.hashes)).encode()).hexdigest()
    bad = sorted(repo.bad_rows)
    rows_id = content_id(rows, *(f"{p}:{r}" for p, r, _ in bad))
    commit = next(iter(repo.commits)) if len(repo.commits) == 1 else f"rows:{rows_id}"
    spdx = repo.licenses.most_common(1)[0][0] if repo.licenses else "unknown"
    url = f"{spec.dataset}#{repo.name}" if Path(spec.dataset).is_absolute() else \
        f"hf://datasets/{spec.dataset}#{repo.name}"
    sid = content_id("hf", url, rows_id)
    row = {"source_id": sid, "kind": "hf", "url": url, "repo_name": repo.name,
           "commit_sha": commit, "license": spdx, "license_class": license_class(spdx, policy.allow),
           "stars": None, "fetched_at": datetime.now(UTC)}
    root = repo.root.with_name(f"{repo.root.name}-{rows_id[:16]}")  # by content: per_file
    repo.root.mkdir(parents=True, exist_ok=True)                       # caches trees by path
    repo.root.rename(root)
    rejects = [reject_row("mine", sid, path, "", reason, detail) for path, reason, detail in bad]
    return HfCheckout(Checkout(row, root), rejects)
