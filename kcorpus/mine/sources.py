"""Sources to checkouts on disk: local directories as they are, git repositories cloned."""

from __future__ import annotations

import hashlib
import os
import re
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


def checkout(spec: LocalSource | GitSource, workdir: Path, policy: LicensePolicy) -> Checkout:
    if isinstance(spec, LocalSource):
        root, url, commit = spec.path, str(spec.path), _tree_hash(spec.path)
        name = spec.name or spec.path.name
    else:
        root, commit = _clone(spec, workdir / "checkouts")
        url = spec.url
        name = spec.name or _repo_name(spec.url)
    spdx = spec.license or detect_license(root)
    row = {
        "source_id": content_id(spec.kind, url, commit),
        "kind": spec.kind,
        "url": url,
        "repo_name": name,
        "commit_sha": commit,
        "license": spdx,
        "license_class": license_class(spdx, policy.allow),
        "stars": None,
        "fetched_at": datetime.now(UTC),
    }
    return Checkout(row, root)


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
    """Clone (shallow where the ref allows, large blobs filtered) and return (root, commit)."""
    dest = into / content_id(spec.url, spec.ref)[:16]
    pinned = re.fullmatch(r"[0-9a-f]{7,40}", spec.ref) is not None
    if (dest / ".git").exists() and not pinned:  # a branch moves: bring it up to date
        _git(["fetch", "--quiet", "--depth", "1", "origin", spec.ref], spec.clone_timeout_s, dest)
        _git(["checkout", "--quiet", "--detach", "FETCH_HEAD"], spec.clone_timeout_s, dest)
    elif not (dest / ".git").exists():
        into.mkdir(parents=True, exist_ok=True)
        args = ["clone", "--quiet", "--filter=blob:limit=1m"]
        if not pinned:
            args += ["--depth", "1"] + ([] if spec.ref == "HEAD" else ["--branch", spec.ref])
        tmp = dest.with_suffix(".partial")
        subprocess.run(["rm", "-rf", str(tmp)], check=False)
        _git([*args, "--", spec.url, str(tmp)], spec.clone_timeout_s)
        if pinned:
            _git(["checkout", "--quiet", spec.ref], spec.clone_timeout_s, cwd=tmp)
        tmp.rename(dest)
    return dest, _git(["rev-parse", "HEAD"], 30, cwd=dest)
