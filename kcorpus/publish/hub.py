"""Publishing a release directory to a Hugging Face Hub dataset repo.

One release is one commit: `create_repo` (exist_ok), the current head from `repo_info` as
`parent_commit` (the commit fails if someone pushed in between), every file of the release
added and the files of the previous release that it no longer has deleted, then `create_tag`
with the version on that commit. The commit is atomic on the Hub: a push that fails before it
leaves the repo as it was. The token comes from the environment variable `token_env`, else
the huggingface-cli login; huggingface_hub sends it only in the Authorization header. Uploads
go through hf_xet where it is installed, else Git LFS.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

KEEP = {".gitattributes"}


@dataclass
class HubTarget:
    repo_id: str
    endpoint: str | None = None
    private: bool = False
    token_env: str = "HF_TOKEN"

    @classmethod
    def from_config(cls, publish) -> HubTarget:
        return cls(publish.repo.removeprefix("hf://datasets/"), publish.endpoint,
                   publish.private, publish.token_env)

    @property
    def url(self) -> str:
        return f"hf://datasets/{self.repo_id}"


def push(target: HubTarget, release: Path, version: str, description: str = "") -> str:
    """Commit the release directory to the repo and tag it; returns the commit id."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    api = HfApi(endpoint=target.endpoint, token=os.environ.get(target.token_env) or None)
    api.create_repo(target.repo_id, repo_type="dataset", private=target.private, exist_ok=True)
    info = api.repo_info(target.repo_id, repo_type="dataset")
    files = sorted(p for p in release.rglob("*") if p.is_file())
    new = {p.relative_to(release).as_posix() for p in files}
    ops = [CommitOperationAdd(p.relative_to(release).as_posix(), str(p)) for p in files]
    ops += [CommitOperationDelete(s.rfilename) for s in info.siblings or []
            if s.rfilename not in new and s.rfilename not in KEEP]
    commit = api.create_commit(target.repo_id, ops, commit_message=f"kcorpus release {version}",
                               commit_description=description, parent_commit=info.sha,
                               repo_type="dataset")
    api.create_tag(target.repo_id, tag=version, revision=commit.oid, repo_type="dataset",
                   tag_message=f"kcorpus release {version}")
    return commit.oid


def pull(repo: str, dest: Path, endpoint: str | None = None, token_env: str = "HF_TOKEN") -> Path:
    """Download a release (`ORG/NAME@VERSION`, or `hf://datasets/ORG/NAME@VERSION`; the latest
    commit without `@`) into DEST/ORG/NAME/VERSION and return that directory."""
    from huggingface_hub import snapshot_download

    name, _, version = repo.removeprefix("hf://datasets/").partition("@")
    if name.count("/") != 1:
        raise ValueError(f"{repo!r}: expected ORG/NAME[@VERSION]")
    target = Path(dest) / name / (version or "main")
    snapshot_download(name, repo_type="dataset", revision=version or None, local_dir=target,
                      endpoint=endpoint, token=os.environ.get(token_env) or None)
    return target
