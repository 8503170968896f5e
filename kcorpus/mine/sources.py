"""Sources to checkouts on disk: local directories as they are, git repositories cloned."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, UTC
from pathlib import Path

from kcorpus.config import GitSource, LicensePolicy, LocalSource
from kcorpus.ids import content_id
from kcorpus.mine.licenses import detect_license, license_class


class SourceError(RuntimeError):
    """A source could not be fetched; the stage records it and goes on."""


@dataclass
class Checkout:
    row: dict  # the `sources` row
    root: Path


def checkout(spec: LocalSource | GitSource, workdir: Path, policy: LicensePolicy,
             kind: str | None = None, license: str | None = None,
             stars: int | None = None) -> Checkout:
    """Fetch a source. `kind`, `license` and `stars` come from an API that resolved it (GitHub);
    the license is otherwise the config's override, else detected from the license file."""
    if isinstance(spec, LocalSource):
        root, url, commit = spec.path, str(spec.path), _tree_hash(spec.path)
    else:
        root, commit = _clone(spec, workdir / "checkouts")
        url = spec.url
    name = source_name(spec)
    kind = kind or spec.kind
    spdx = spec.license or license or detect_license(root)
    row = {
        "source_id": content_id(kind, url, commit),
        "kind": kind,
        "url": url,
        "repo_name": name,
        "commit_sha": commit,
        "license": spdx,
        "license_class": license_class(spdx, policy.allow),
        "stars": stars,
        "fetched_at": datetime.now(UTC),
    }
    return Checkout(row, root)


def source_name(spec) -> str | None:
    """The `repo_name` a local or git source's rows get (others: None, known after fetching)."""
    if isinstance(spec, LocalSource):
        return spec.name or spec.path.name
    if isinstance(spec, GitSource):
        return spec.name or _repo_name(spec.url)
    return getattr(spec, "name", None)


def _tree_hash(root: Path) -> str:
    """sha256 over the paths and bytes of the regular files under `root` (not following links)."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != ".git")
        for f in sorted(filenames):
            p = Path(dirpath) / f
            if p.is_symlink() or not p.is_file():
                continue
            h.update(str(p.relative_to(root)).encode("utf-8", "surrogateescape") + b"\0")
            h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def _repo_name(url: str) -> str:
    tail = re.sub(r"(\.git)?/*$", "", url)
    parts = re.split(r"[/:]", tail)
    return "/".join(parts[-2:]) if len(parts) >= 2 else tail


def _git(args: list[str], timeout: float, cwd: Path | None = None) -> str:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
    try:
        out = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True,
                             timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SourceError(f"git {args[0]} timed out after {timeout:.0f}s") from None
    if out.returncode != 0:
        raise SourceError(f"git {args[0]} failed: {out.stderr.strip()[-500:]}")
    return out.stdout.strip()


def _clone(spec: GitSource, into: Path) -> tuple[Path, str]:
    """Clone (shallow where the ref allows, large blobs filtered, time-limited); (root, commit)."""
    dest = into / content_id(spec.url, spec.ref)[:16]
    pinned = re.fullmatch(r"[0-9a-f]{7,40}", spec.ref) is not None
    t = spec.clone_timeout_s
    if (dest / ".git").exists() and not pinned:  # a branch moves: bring it up to date
        _git(["fetch", "--quiet", "--depth", "1", "origin", spec.ref], t, dest)
        _git(["checkout", "--quiet", "--detach", "FETCH_HEAD"], t, dest)
    elif not (dest / ".git").exists():
        into.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_suffix(".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        if pinned:
            _fetch_commit(spec.url, spec.ref, tmp, t)
        else:
            branch = [] if spec.ref == "HEAD" else ["--branch", spec.ref]
            _git(["clone", "--quiet", "--filter=blob:limit=1m", "--depth", "1", *branch, "--",
                  spec.url, str(tmp)], t)
        tmp.rename(dest)
    return dest, _git(["rev-parse", "HEAD"], 30, cwd=dest)


def _fetch_commit(url: str, sha: str, dest: Path, timeout: float) -> None:
    """Just that commit, shallow, where the server allows fetching by sha (GitHub does); else a
    full clone and a checkout."""
    dest.mkdir(parents=True)
    _git(["init", "--quiet"], timeout, dest)
    _git(["remote", "add", "origin", url], timeout, dest)
    try:
        if len(sha) != 40:
            raise SourceError("an abbreviated sha cannot be fetched by itself")
        _git(["fetch", "--quiet", "--depth", "1", "--filter=blob:limit=1m", "origin", sha],
             timeout, dest)
        _git(["checkout", "--quiet", "--detach", "FETCH_HEAD"], timeout, dest)
    except SourceError:
        shutil.rmtree(dest, ignore_errors=True)
        _git(["clone", "--quiet", "--filter=blob:limit=1m", "--", url, str(dest)], timeout)
        _git(["checkout", "--quiet", "--detach", sha], timeout, dest)
