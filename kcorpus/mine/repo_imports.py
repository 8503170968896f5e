"""Inlining what a module imports from its own repository (AST only: nothing is imported).

`from timm.layers import Mlp` or `from .helpers import to_2tuple` in a mined file is resolved to
the file of the same checkout that defines the name (following re-exports in `__init__.py`), and
the definition's own closure is carried along, recursively, ahead of the file's code. Modules
are named from their paths (`a/b/c.py` is `a.b.c`, `a/b/__init__.py` is `a.b`; a leading `src/`
is dropped too). A name two inlined files define differently, a whole-module import
(`import timm.layers as L`), a cycle or a chain deeper than `MAX_DEPTH` is a reject.
"""

from __future__ import annotations

import ast
from pathlib import Path

from kcorpus.mine import extract
from kcorpus.mine.files import read_python_file

MAX_DEPTH = 6


class InlineError(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class RepoModules:
    """Module names of one checkout, and their files indexed on demand."""

    def __init__(self, root: Path, paths: list[Path], max_bytes: int):
        self.root, self.max_bytes = root, max_bytes
        self.files = paths
        self.paths: dict[str, Path] = {}
        self.packages: set[str] = set()
        for p in paths:
            for name in _names_of(p.relative_to(root)):
                self.paths.setdefault(name, p)
                self.packages.add(name.split(".")[0])
        self._indexes: dict[str, extract.FileIndex | None] = {}

    def module_name(self, path: Path) -> tuple[str, bool]:
        rel = path.relative_to(self.root)
        return _names_of(rel)[0], rel.name == "__init__.py"

    def index(self, module: str) -> extract.FileIndex | None:
        if module not in self._indexes:
            p = self.paths.get(module)
            f = read_python_file(self.root, p, self.max_bytes) if p is not None else None
            self._indexes[module] = (extract.index_file(f.source, f.tree)
                                     if f is not None and f.tree is not None else None)
        return self._indexes[module]

    def target(self, node: ast.ImportFrom, current: str, is_package: bool) -> str | None:
        """The absolute module an import reads, when it is this repository's; else None."""
        if node.level:
            base = current.split(".") if is_package else current.split(".")[:-1]
            if node.level > 1:
                base = base[: len(base) - node.level + 1]
            return ".".join([*base, *([node.module] if node.module else [])])
        if node.module and node.module.split(".")[0] in self.packages:
            return node.module
        return None


def _names_of(rel: Path) -> list[str]:
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    names = [".".join(parts)] if parts else []
    if len(parts) > 1 and parts[0] in ("src", "lib", "python"):
        names.append(".".join(parts[1:]))
    return names


class Inliner:
    """Builds the code a set of kept statements needs from the rest of the repository."""

    def __init__(self, repo: RepoModules):
        self.repo = repo
        self.blocks: list[str] = []
        self.nodes: list[ast.stmt] = []  # the statements behind the blocks, for checking
        self.defined: dict[str, str] = {}  # name -> the module that defines it
        self._done: set[tuple[str, str]] = set()

    def repo_imports(self, idx: extract.FileIndex, keep: list[int], module: str,
                     is_package: bool, depth: int = 0) -> set[int]:
        """Inline what `keep` imports from the repository; returns the statements to drop."""
        if depth > MAX_DEPTH:
            raise InlineError("import_too_deep", f"more than {MAX_DEPTH} levels of imports")
        drop = set()
        for i in keep:
            node = idx.statements[i].node
            if isinstance(node, ast.Import):
                own = [a.name for a in node.names if a.name.split(".")[0] in self.repo.packages]
                if own:
                    raise InlineError("module_import", f"imports the module {own[0]} whole")
            if not isinstance(node, ast.ImportFrom):
                continue
            target = self.repo.target(node, module, is_package)
            if target is None:
                continue
            for alias in node.names:
                if alias.name == "*":
                    raise InlineError("star_import", f"from {target} import *")
                self._bring(target, alias.name, depth + 1)
                if alias.asname and alias.asname != alias.name:
                    self._alias(alias.asname, alias.name)
            drop.add(i)
        return drop

    def _bring(self, module: str, name: str, depth: int) -> None:
        if (module, name) in self._done:
            return
        self._done.add((module, name))
        idx = self.repo.index(module)
        if idx is None:
            if self.repo.index(f"{module}.{name}") is not None:
                raise InlineError("module_import", f"imports the module {module}.{name}")
            raise InlineError("import_unresolved", f"no file for {module} in the repository")
        i = idx.bound.get(name)
        if i is None:
            raise InlineError("import_unresolved", f"{module} defines no {name}")
        node = idx.statements[i].node
        path = self.repo.paths[module]
        is_package = path.name == "__init__.py"
        if isinstance(node, ast.ImportFrom):  # a re-export: follow it
            target = self.repo.target(node, module, is_package)
            alias = next(a for a in node.names if (a.asname or a.name) == name)
            if target is None:
                self._block(idx, [i], module, name)
                return
            self._bring(target, alias.name, depth + 1)
            if alias.asname and alias.asname != alias.name:
                self._alias(alias.asname, alias.name)
            return
        keep, unresolved = extract.closure(idx, {name})
        if unresolved:
            raise InlineError("unresolved_names", f"{module}.{name} uses "
                              f"{', '.join(sorted(unresolved))}, defined nowhere in its file")
        drop = self.repo_imports(idx, keep, module, is_package, depth)
        self._block(idx, [k for k in keep if k not in drop], module, name)

    def _block(self, idx: extract.FileIndex, keep: list[int], module: str, name: str) -> None:
        for k in keep:
            for bound in idx.statements[k].binds:
                node = idx.statements[k].node
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    continue
                other = self.defined.setdefault(bound, module)
                if other != module:
                    raise InlineError("name_conflict", f"{bound} is defined in {other} and {module}")
        self.blocks.append(extract.render(idx, keep))
        self.nodes += [idx.statements[k].node for k in keep]

    def _alias(self, new: str, old: str) -> None:
        line = f"{new} = {old}\n"
        self.blocks.append(line)
        self.nodes += ast.parse(line).body

    def code(self) -> str:
        return "\n\n".join(self.blocks)
