"""AST-only extraction from one Python file: module classes, Triton kernels, dependency closures.

Mined code is never imported or run here. A file is a list of top-level statements; each binds
some names and uses others. The closure of a set of root names is every statement needed to
define them (helpers, constants, classes, imports), in file order.
"""

from __future__ import annotations

import ast
import builtins
import io
import tokenize
from dataclasses import dataclass, field

_BUILTINS = set(dir(builtins)) | {"__file__", "__name__"}
_MODULE_BASES = {"nn.Module", "torch.nn.Module", "Module"}
_KERNEL_DECORATORS = {"jit": "jit", "autotune": "autotune", "heuristics": "heuristics"}


@dataclass
class Statement:
    node: ast.stmt
    binds: set[str]
    uses: set[str]
    start: int  # first line, decorators included (1-based)
    end: int


@dataclass
class FileIndex:
    source: str
    statements: list[Statement]
    bound: dict[str, int] = field(default_factory=dict)  # name -> index of the last binder

    @property
    def lines(self) -> list[str]:
        return self.source.splitlines()


def index_file(source: str, tree: ast.Module) -> FileIndex:
    stmts = []
    for node in tree.body:
        if _is_main_guard(node):
            continue
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        stmts.append(Statement(node, binds(node), _uses(node), start, node.end_lineno))
    idx = FileIndex(source, stmts)
    for i, st in enumerate(stmts):
        for name in st.binds:
            idx.bound[name] = i
    return idx


def _is_main_guard(node: ast.stmt) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__")


def binds(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
    if isinstance(node, (ast.If, ast.Try, ast.With)) or type(node).__name__ == "TryStar":
        # conditional definitions (`try: from x import y except ImportError: ...`): the whole
        # block binds what any of its branches binds, and is kept whole when needed
        branches = [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", []),
                    *(s for h in getattr(node, "handlers", []) for s in h.body)]
        return {name for stmt in branches for name in binds(stmt)}
    return set()


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _uses(node: ast.stmt) -> set[str]:
    """Names the statement reads from the module scope, in one pass over its tree: every name
    read, less the names bound inside it (arguments, assignments, imports, nested definitions,
    exception and comprehension targets) unless declared global. Approximate by design: a name
    bound anywhere inside the statement counts as local throughout it."""
    loads: set[str] = set()
    local: set[str] = set()
    declared_global: set[str] = set()
    for n in ast.walk(node):
        t = type(n)
        if t is ast.Name:
            (loads if type(n.ctx) is ast.Load else local).add(n.id)
        elif t is ast.arg:
            local.add(n.arg)
        elif t is ast.Import or t is ast.ImportFrom:
            if n is not node:
                local |= {(x.asname or x.name).split(".")[0] for x in n.names}
        elif t is ast.ExceptHandler:
            if n.name:
                local.add(n.name)
        elif t in _SCOPES:
            if n is not node:
                local.add(n.name)
        elif t is ast.Global:
            declared_global |= set(n.names)
    if not isinstance(node, _SCOPES):
        local -= binds(node)  # what a module-level statement assigns is a binding, not a local
    return loads - (local - declared_global)


def closure(idx: FileIndex, roots: set[str]) -> tuple[list[int], set[str]]:
    """Indices of the statements needed for `roots`, and the names nothing in the file binds."""
    keep: set[int] = set()
    unresolved: set[str] = set()
    todo = list(roots)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        i = idx.bound.get(name)
        if i is None:
            if name not in _BUILTINS:
                unresolved.add(name)
            continue
        # every statement that binds the name (e.g. `x = 1` then `x += 1`) up to the last one
        for j, st in enumerate(idx.statements[: i + 1]):
            if name in st.binds and j not in keep:
                keep.add(j)
                todo.extend(st.uses - seen)
    return sorted(keep), unresolved


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    if isinstance(node, ast.Call):
        return _dotted(node.func)
    return ""


def module_classes(idx: FileIndex) -> list[ast.ClassDef]:
    """nn.Module subclasses of the file, directly or through classes of the same file."""
    found: dict[str, ast.ClassDef] = {}
    changed = True
    classes = [s.node for s in idx.statements if isinstance(s.node, ast.ClassDef)]
    while changed:
        changed = False
        for c in classes:
            if c.name not in found and any(
                _dotted(b) in _MODULE_BASES or _dotted(b) in found for b in c.bases
            ):
                found[c.name] = c
                changed = True
    return [c for c in classes if c.name in found]


def kernel_functions(idx: FileIndex) -> list[tuple[ast.FunctionDef, list[str]]]:
    """Top-level functions decorated with triton.jit / autotune / heuristics, with the kinds."""
    out = []
    for st in idx.statements:
        if not isinstance(st.node, ast.FunctionDef):
            continue
        kinds = [_KERNEL_DECORATORS[d] for d in
                 (_dotted(dec).rsplit(".", 1)[-1] for dec in st.node.decorator_list)
                 if d in _KERNEL_DECORATORS]
        if "jit" in kinds:
            out.append((st.node, kinds))
    return out


def launchers(idx: FileIndex, kernel: str) -> list[str]:
    """Top-level functions (not kernels) of the file that reference `kernel`."""
    return [st.node.name for st in idx.statements
            if isinstance(st.node, ast.FunctionDef) and kernel in st.uses
            and not any(_dotted(d).endswith("jit") for d in st.node.decorator_list)]


def function_names(idx: FileIndex) -> set[str]:
    return {st.node.name for st in idx.statements if isinstance(st.node, ast.FunctionDef)}


def import_modules(node: ast.stmt) -> list[str]:
    """Top-level package names an import statement reads; '.' for relative imports."""
    if isinstance(node, ast.Import):
        return [a.name.split(".")[0] for a in node.names]
    if isinstance(node, ast.ImportFrom):
        return ["."] if node.level else [(node.module or "").split(".")[0]]
    return []


_BLOCKS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.While,
           ast.With, ast.Try)


def render(idx: FileIndex, keep: list[int]) -> str:
    """The kept statements' original text (comments inside them included), in file order."""
    lines = idx.lines
    parts = ["\n".join(lines[idx.statements[i].start - 1: idx.statements[i].end]) for i in keep]
    out, prev_simple = [], False
    for i, text in zip(keep, parts):
        simple = not isinstance(idx.statements[i].node, _BLOCKS)
        if out:
            out.append("\n" if (simple and prev_simple) else "\n\n\n")
        out.append(text)
        prev_simple = simple
    return "".join(out) + "\n"


def rename(code: str, old: str, new: str) -> str:
    """Rename identifier tokens `old` to `new` (strings and comments untouched)."""
    lines = code.splitlines(keepends=True)
    hits = [t.start for t in tokenize.generate_tokens(io.StringIO(code).readline)
            if t.type == tokenize.NAME and t.string == old]
    for row, col in reversed(hits):
        line = lines[row - 1]
        lines[row - 1] = line[:col] + new + line[col + len(old):]
    return "".join(lines)
