"""Inlining what a module imports from its own repository (AST only: nothing is imported).

`from timm.layers import Mlp` or `from .helpers import to_2tuple` in a mined file is resolved to
the file of the same checkout that defines the name (following re-exports in `__init__.py`), and
the definition's own closure is carried along, recursively, ahead of the file's code. Modules
are named from their paths (`a/b/c.py` is `a.b.c`, `a/b/__init__.py` is `a.b`; a leading `src/`
is dropped too). A name a file does not bind itself is looked up in the same-repository modules
it star-imports (`from .activations import *`), the last such import first, as Python would.
A submodule imported by name (`from fairseq import utils`, used as `utils.f(x)`) becomes a
namespace of the attributes used. A name two inlined files define differently is renamed in the
later file's code (`rel_logits_1d` becomes `rel_logits_1d_halo_attn` there). A whole-module
import (`import timm.layers as L`), a cycle or a chain deeper than `MAX_DEPTH` is a reject.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from kcorpus.mine import extract
from kcorpus.mine.files import read_python_file

MAX_DEPTH = 16


class InlineError(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


class RepoModules:
    """Module names of one checkout, and their files indexed on demand."""

    def __init__(self, root: Path, paths: list[Path], max_bytes: int,
                 allowed_imports: set[str] | None = None):
        self.root, self.max_bytes = root, max_bytes
        self.allowed = allowed_imports
        self.files = paths
        self.paths: dict[str, Path] = {}
        self.packages: set[str] = set()
        for p in paths:
            for name in _names_of(p.relative_to(root)):
                self.paths.setdefault(name, p)
                self.packages.add(name.split(".")[0])
        self._indexes: dict[str, extract.FileIndex | None] = {}
        self.memo: dict[tuple[str, str], list | InlineError] = {}  # Inliner's, per import
        self._units: dict[tuple, tuple] = {}

    def unit(self, unit: tuple) -> tuple[str, list[extract.Statement], dict[str, str]]:
        """A unit's text, its statements, and the names it defines (imports aside), each with
        what identifies its definition (a rewritten statement's text, else module and line);
        cached."""
        if unit not in self._units:
            if unit[0] in ("alias", "namespace"):
                line = (f"{unit[1]} = {unit[2]}\n" if unit[0] == "alias" else
                        f"import types\n{unit[1]} = types.SimpleNamespace("
                        f"{', '.join(f'{a}={a}' for a in unit[2])})\n")
                self._units[unit] = (line, [extract.statement(n, 1, 1)
                                            for n in ast.parse(line).body], {})
            else:
                idx = self.index(unit[1])
                sts = [idx.statements[k] for k in unit[2]]
                defines = {n: st.text or f"{unit[1]}:{st.start}" for st in sts
                           if not isinstance(st.node, (ast.Import, ast.ImportFrom))
                           for n in st.binds}
                self._units[unit] = (extract.render(idx, list(unit[2])), sts, defines)
        return self._units[unit]

    def importable(self, top: str) -> bool:
        """Whether a program may import the package `top` ('.' is a relative import): the
        allowlist's packages and the repository's own, which get inlined."""
        return top == "." or top in self.packages or (self.allowed is not None
                                                      and top in self.allowed)

    def module_name(self, path: Path) -> tuple[str, bool]:
        rel = path.relative_to(self.root)  # the root's own __init__.py is the package ""
        return (_names_of(rel) or [""])[0], rel.name == "__init__.py"

    def index(self, module: str) -> extract.FileIndex | None:
        if module not in self._indexes:
            p = self.paths.get(module)
            f = read_python_file(self.root, p, self.max_bytes) if p is not None else None
            self._indexes[module] = (extract.index_file(f.source, f.tree, self.importable)
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


def _attributes(idx: extract.FileIndex, keep: list[int], name: str) -> list[str]:
    """The attributes the kept statements read from `name` (`name.attr`), sorted."""
    return sorted({n.attr for k in keep for n in ast.walk(idx.statements[k].node)
                   if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)
                   and n.value.id == name})


def _names_of(rel: Path) -> list[str]:
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    names = [".".join(parts)] if parts else []
    if len(parts) > 1 and parts[0] in ("src", "lib", "python"):
        names.append(".".join(parts[1:]))
    return names


# ("block", module, statement indices), ("alias", new name, old name) or
# ("namespace", name, attributes): `name = types.SimpleNamespace(attribute=attribute, ...)`
Unit = tuple


class Inliner:
    """Builds the code a set of kept statements needs from the rest of the repository.

    What one imported name needs (its units, dependencies first) is worked out once per
    checkout and memoised on the RepoModules, errors included; an Inliner only assembles units,
    each once, and checks that no two modules define a name differently."""

    def __init__(self, repo: RepoModules):
        self.repo = repo
        self.blocks: list[str] = []
        self.statements: list[extract.Statement] = []  # behind the blocks, for checking
        self.defined: dict[str, tuple[str, str]] = {}  # name -> (module, definition)
        self._seen: set[Unit] = set()
        self._active: set[tuple[str, str]] = set()
        # module -> {name: new name}: a name two inlined modules define differently keeps its
        # first definition; the later module's is renamed in that module's blocks
        self.renames: dict[str, dict[str, str]] = {}

    def repo_imports(self, idx: extract.FileIndex, keep: list[int], module: str,
                     is_package: bool) -> set[int]:
        """Inline what `keep` imports from the repository; returns the statements to drop."""
        drop, units = self._imports(idx, keep, module, is_package, 0)
        self._add_all(units)
        return drop

    def resolve_stars(self, idx: extract.FileIndex, names: set[str], module: str,
                      is_package: bool, depth: int) -> set[str]:
        """Inline the names the file's same-repository star imports provide; the rest stay."""
        left, units = self._stars(idx, names, module, is_package, depth)
        self._add_all(units)
        return left

    def _imports(self, idx, keep, module, is_package, depth) -> tuple[set[int], list[Unit]]:
        if depth > MAX_DEPTH:
            raise InlineError("import_too_deep", f"more than {MAX_DEPTH} levels of imports")
        drop, units = set(), []
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
                    continue  # resolved name by name, through _stars
                if self._is_submodule(target, alias.name):
                    local = alias.asname or alias.name
                    units += self._namespace(f"{target}.{alias.name}", local,
                                             _attributes(idx, keep, local), depth + 1)
                    continue
                units += self._units(target, alias.name, depth + 1)
                if alias.asname and alias.asname != alias.name:
                    units.append(("alias", alias.asname, alias.name))
            drop.add(i)
        return drop, units

    def _is_submodule(self, module: str, name: str) -> bool:
        idx = self.repo.index(module)
        return ((idx is None or name not in idx.bound)
                and f"{module}.{name}" in self.repo.paths)

    def _namespace(self, module: str, local: str, attrs: list[str], depth: int) -> list[Unit]:
        """`from pkg import submodule` used as `submodule.f(...)`: the attributes used are
        inlined and gathered in a namespace of that name."""
        units = [u for a in attrs for u in self._units(module, a, depth)]
        return [*units, ("namespace", local, tuple(attrs))]

    def _units(self, module: str, name: str, depth: int) -> list[Unit]:
        key, memo = (module, name), self.repo.memo
        if key not in memo:
            if key in self._active:  # an import cycle: the outer call brings it
                return []
            self._active.add(key)
            try:
                memo[key] = self._bring(module, name, depth)
            except InlineError as e:
                memo[key] = e
            finally:
                self._active.discard(key)
        if isinstance(memo[key], InlineError):
            raise memo[key]
        return memo[key]

    def _bring(self, module: str, name: str, depth: int) -> list[Unit]:
        idx = self.repo.index(module)
        if idx is None:
            if self.repo.index(f"{module}.{name}") is not None:
                raise InlineError("module_import", f"imports the module {module}.{name}")
            raise InlineError("import_unresolved", f"no file for {module} in the repository")
        is_package = self.repo.paths[module].name == "__init__.py"
        i = idx.bound.get(name)
        if i is None:
            left, units = self._stars(idx, {name}, module, is_package, depth)
            if left:
                raise InlineError("import_unresolved", f"{module} defines no {name}")
            return units
        node = idx.statements[i].node
        if isinstance(node, ast.ImportFrom):  # a re-export: follow it
            target = self.repo.target(node, module, is_package)
            alias = next(a for a in node.names if (a.asname or a.name) == name)
            if target is None:
                return [("block", module, (i,))]
            units = list(self._units(target, alias.name, depth + 1))
            if alias.asname and alias.asname != alias.name:
                units.append(("alias", alias.asname, alias.name))
            return units
        keep, unresolved = extract.closure(idx, {name})
        unresolved, units = self._stars(idx, unresolved, module, is_package, depth)
        if unresolved:
            raise InlineError("unresolved_names", f"{module}.{name} uses "
                              f"{', '.join(sorted(unresolved))}, defined nowhere in its file")
        drop, more = self._imports(idx, keep, module, is_package, depth)
        return [*units, *more, ("block", module, tuple(k for k in keep if k not in drop))]

    def _stars(self, idx, names, module, is_package, depth) -> tuple[set[str], list[Unit]]:
        if not names:
            return names, []
        stars = self._star_targets(idx, module, is_package)
        left, units = set(), []
        for name in sorted(names):
            source = next((t for t in stars if self._provides(t, name, depth + 1)), None)
            if source is None:
                left.add(name)
            else:
                units += self._units(source, name, depth + 1)
        return left, units

    def _star_targets(self, idx: extract.FileIndex, module: str, is_package: bool) -> list[str]:
        found = [self.repo.target(s.node, module, is_package) for s in idx.statements
                 if isinstance(s.node, ast.ImportFrom) and any(a.name == "*" for a in s.node.names)]
        return [t for t in reversed(found) if t is not None]  # the last import wins

    def _provides(self, module: str, name: str, depth: int) -> bool:
        """Whether `from module import *` binds `name` (no `__all__` check: public names)."""
        idx = self.repo.index(module)
        if idx is None or name.startswith("_") or depth > MAX_DEPTH:
            return False
        if name in idx.bound:
            return True
        is_package = self.repo.paths[module].name == "__init__.py"
        return any(self._provides(t, name, depth + 1)
                   for t in self._star_targets(idx, module, is_package))

    def _add_all(self, units: list[Unit]) -> None:
        for unit in units:
            if unit in self._seen:
                continue
            self._seen.add(unit)
            text, statements, defines = self.repo.unit(unit)
            renames = self.renames.setdefault(unit[1], {}) if unit[0] == "block" else {}
            for name, definition in defines.items():
                other = self.defined.setdefault(name, (unit[1], definition))
                if other[1] != definition and name not in renames:
                    renames[name] = self._fresh(name, unit[1])
                    self.defined[renames[name]] = (unit[1], definition)
            for old, fresh in renames.items():
                if re.search(rf"\b{re.escape(old)}\b", text):
                    text = extract.rename(text, old, fresh)
            self.blocks.append(text)
            self.statements += statements

    def _fresh(self, name: str, module: str) -> str:
        """A name for `module`'s own `name`, another module's being inlined already."""
        base = f"{name}_{module.rsplit('.', 1)[-1].lstrip('_')}"
        fresh, n = base, 1
        while fresh in self.defined:
            n += 1
            fresh = f"{base}{n}"
        return fresh

    def code(self) -> str:
        return "\n\n".join(self.blocks)
