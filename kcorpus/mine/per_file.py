"""Mining one file into rows, and a tree of files in parallel (AST only: nothing is imported).

`mine_tree` spreads files over `workers` processes in chunks; each process reads, parses and
extracts its files and sends back plain rows. The order of the results follows the files.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kcorpus.mine import canonical, extract
from kcorpus.mine.files import ParsedFile, list_python_files, read_python_file
from kcorpus.mine.repo_imports import RepoModules
from kcorpus.rejects import reject_row

CHUNK = 64
# fewer files than this are mined in this process: for a tree of small files (a KernelBench
# level, 100 files) starting the pool cost more than the second core gave (0.64 s against 0.44)
POOL_MIN_FILES = 3 * CHUNK


@dataclass
class FileRows:
    path: str
    problems: list[dict] = field(default_factory=list)
    kernels: list[dict] = field(default_factory=list)
    guesses: list[dict] = field(default_factory=list)
    rejects: list[dict] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)  # the file's nn.Module class names


def mine_file(f: ParsedFile, sid: str, allowed_imports: set[str],
              ctx: canonical.RepoContext | None = None) -> FileRows:
    """The rows of one file. Optional imports resolve against the repository when `ctx` is
    given, else against the allowlist."""
    out = FileRows(f.path)
    if f.tree is None:
        out.rejects.append(reject_row("mine", sid, f.path, "", f.reason, f.detail))
        return out
    try:
        importable = (ctx.repo.importable if ctx is not None
                      else lambda top: top == "." or top in allowed_imports)
        idx = extract.index_file(f.source, f.tree, importable)
        out.modules = [m.name for m in extract.module_classes(idx)]
        probs, prejects = canonical.problems_from_file(idx, allowed_imports, ctx)
        kerns = canonical.kernels_from_file(idx, allowed_imports, ctx)
        guesses, grejects = canonical.guesses_from_file(idx, allowed_imports, ctx)
        out.problems = [canonical.problem_row(p, sid, f.path) for p in probs]
        out.kernels = [canonical.kernel_row(k, sid, f.path) for k in kerns]
        out.guesses = [canonical.guess_row(g, sid, f.path) for g in guesses]
    except (RecursionError, MemoryError):
        return FileRows(f.path, rejects=[reject_row("mine", sid, f.path, "", "too_deep",
                                                    "nesting too deep to analyse")])
    except SyntaxError as e:  # a statement's text, cut from the file, that does not parse alone
        return FileRows(f.path, rejects=[reject_row("mine", sid, f.path, "", "unrenderable",
                                                    f"a program cut from it does not parse: {e}")])
    out.rejects = [reject_row("mine", sid, f.path, r.item, r.reason, r.detail)
                   for r in prejects + grejects]
    if not (probs or kerns or guesses or out.rejects):
        out.rejects.append(reject_row("mine", sid, f.path, "", "no_modules",
                                      "no nn.Module class or Triton kernel"))
    return out


_REPOS: dict[Path, RepoModules] = {}  # set before forking: workers inherit it


def _repo(root: Path, max_bytes: int, allowed: set[str]) -> RepoModules:
    if root not in _REPOS or _REPOS[root].allowed != allowed:
        _REPOS.clear()
        _REPOS[root] = RepoModules(root, list_python_files(root), max_bytes, allowed)
    return _REPOS[root]


@contextlib.contextmanager
def _fewer_collections():
    """Parsing allocates millions of AST nodes that stay alive in the index caches but form no
    cycles; at the default thresholds the cyclic collector rescans them all the time (about a
    third of extraction's time on pytorch-image-models)."""
    before = gc.get_threshold()
    gc.set_threshold(50_000, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def _mine_chunk(args: tuple[Path, list[Path], str, int, set[str]]) -> list[FileRows]:
    root, paths, sid, max_bytes, allowed = args
    repo = _repo(root, max_bytes, allowed)
    out = []
    with _fewer_collections():
        for p in paths:
            module, is_package = repo.module_name(p)
            ctx = canonical.RepoContext(repo, module, is_package)
            out.append(mine_file(read_python_file(root, p, max_bytes), sid, allowed, ctx))
    return out


def mine_tree(root: Path, sid: str, max_bytes: int, allowed_imports: set[str],
              workers: int = 1) -> Iterator[FileRows]:
    root = Path(root).resolve()
    paths = _repo(root, max_bytes, allowed_imports).files
    chunks = [(root, paths[i:i + CHUNK], sid, max_bytes, allowed_imports)
              for i in range(0, len(paths), CHUNK)]
    if workers <= 1 or len(paths) < POOL_MIN_FILES:
        for chunk in chunks:
            yield from _mine_chunk(chunk)
        return
    ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    with ctx.Pool(workers) as pool:
        for rows in pool.imap(_mine_chunk, chunks):
            yield from rows
