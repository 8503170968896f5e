"""Compile caches of the fork server's children (standard library only).

A child that runs a candidate's code gets caches of its own (Triton's and Inductor's, under
its working directory, deleted with it): whatever it writes there, no other job reads. A
candidate that planted a compiled artifact in a shared cache could make the next candidate's
torch.compile baseline slow, and so its speedup label high.

What depends only on the problem is compiled once, by a trusted child: a `baseline` job runs
the problem's reference alone (no candidate code) through torch.compile, as the verification's
timing does, writing its caches straight into the problem's directory (`baseline`). Each
candidate child of that problem then starts with a copy of them (`seed`), so its baseline
compile finds the reference's graph and kernels compiled. Problems are told apart by their
code (`problem_key`): two candidates of one problem share its caches.

The baseline writes where the problem's caches stay (`problem_dir`), and each seeded candidate
sees its copy at that same path (a private bind mount: pool.py, isolation.py). What Inductor
caches holds absolute paths into the caches it was made in (a cached autotuner saves its best
config beside its kernel's source), so a copy elsewhere leads back to the original. On the
H200, with the caches moved and then read-only, 215 of 249 and 116 of 119 seeded compiles
failed writing there (RESULTS.md, session 15). Through the bind, every such path leads to the
candidate's own copy: it may write there, and no other child sees what it wrote.

Jobs without candidate code (probes, Inductor's source generation) run only mined reference
code and keep the server's shared caches: a per-slot Triton cache and one Inductor cache.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from kcorpus.ids import content_id  # standard library only, as this module

NAMES = ("triton", "inductor")


def problem_key(job: dict) -> str:
    """The problem a job's reference is: a hash of its code and the device."""
    return content_id(job.get("device", "cpu"), job.get("problem_code", ""))


def needs_baseline(job: dict) -> bool:
    """A candidate's verification on a GPU that times torch.compile of its reference."""
    timing = job.get("timing") or {}
    return (job.get("candidate_code") is not None and job.get("device") == "cuda"
            and timing.get("compile_baseline", True))


def private(workdir: Path) -> dict[str, Path]:
    """A child's own cache directories, made under its working directory."""
    dirs = {name: workdir / "cache" / name for name in NAMES}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    return dirs


def problem_dir(root: Path, key: str) -> Path:
    return root / "problems" / key


def seed(root: Path, key: str, dirs: dict[str, Path]) -> bool:
    """Copy the problem's published caches into a child's own; whether there were any.
    A copy, not links: the child may write into its caches, never into the problem's."""
    src = problem_dir(root, key)
    if not src.is_dir():
        return False
    for name, dst in dirs.items():
        if (src / name).is_dir():
            shutil.copytree(src / name, dst, dirs_exist_ok=True, symlinks=True)
    return True


def baseline(root: Path, key: str) -> dict[str, Path]:
    """The cache directories a problem's baseline job writes: the problem's own, made empty."""
    dirs = {name: problem_dir(root, key) / name for name in NAMES}
    shutil.rmtree(problem_dir(root, key), ignore_errors=True)
    for d in dirs.values():
        d.mkdir(parents=True)
    return dirs


def discard(root: Path, key: str) -> None:
    """Drop what a failed baseline left: its candidates compile their own."""
    shutil.rmtree(problem_dir(root, key), ignore_errors=True)
