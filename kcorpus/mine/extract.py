"""AST-only extraction from one Python file: module classes, Triton kernels, dependency closures.

Mined code is never imported or run here. A file is a list of top-level statements; each binds
some names and uses others. The closure of a set of root names is every statement needed to
define them (helpers, constants, classes, imports), in file order.
"""

from __future__ import annotations

import ast
import builtins
import functools
import io
import re
import sys
import textwrap
import tokenize
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from kcorpus import optypes

_BUILTINS = set(dir(builtins)) | {"__file__", "__name__"}
_MODULE_BASES = {"nn.Module", "torch.nn.Module", "Module"}
_KERNEL_DECORATORS = {"jit": "jit", "autotune": "autotune", "heuristics": "heuristics"}


@dataclass
class Statement:
    node: ast.stmt
    binds: set[str]
    start: int  # first line, decorators included (1-based)
    end: int
    text: str | None = None  # the text to render, where it is not the lines start..end
    standin: str = ""  # the package a stand-in replaces (index_file), where it is one
    _scan: tuple[set[str], frozenset[str], frozenset[str]] | None = None

    @property
    def uses(self) -> set[str]:
        """Names read from the module scope (worked out on first use: most are never asked)."""
        return self._scanned()[0]

    @property
    def imports(self) -> frozenset[str]:
        """Packages imported anywhere inside ('.': relative)."""
        return self._scanned()[1]

    @property
    def calls(self) -> frozenset[str]:
        """What optypes.op_names finds inside: the names called, and operators."""
        return self._scanned()[2]

    def _scanned(self) -> tuple[set[str], frozenset[str], frozenset[str]]:
        if self._scan is None:
            uses, imports, calls = _uses(self.node)
            self._scan = (uses, frozenset(imports), frozenset(calls))
        return self._scan


@dataclass
class FileIndex:
    source: str
    statements: list[Statement]
    bound: dict[str, int] = field(default_factory=dict)  # name -> index of the last binder

    @functools.cached_property
    def lines(self) -> list[str]:
        return self.source.splitlines()


def index_file(source: str, tree: ast.Module,
               importable: Callable[[str], bool] | None = None) -> FileIndex:
    """Index the file's top-level statements. With `importable` (top-level package name, or '.'
    for a relative import -> whether a program may import it), an optional import
    (`try: import x` / `except ImportError: fallback`) is replaced by the branch that applies:
    its body when everything the body imports is importable, else the first handler's body."""
    lines = source.splitlines()
    stmts = []
    for node in tree.body:
        if _is_main_guard(node):
            continue
        if _is_logger(node):  # `logger = logging.get_logger(__name__)`, any logging module
            line = f"{node.targets[0].id} = __import__('logging').getLogger(__name__)"
            stmts.append(statement(ast.parse(line).body[0], node.lineno, node.end_lineno, line))
            continue
        if importable and _unavailable(node, importable):
            stmts += _standins(node)
            continue
        branch = _optional_import_branch(node, importable) if importable else None
        for sub in branch if branch is not None else [node]:
            start = first_line(sub)
            text = None
            if branch is not None:
                # on the `try` line and not its first statement: the stub for missing names
                stub = sub.lineno == node.lineno and sub is not node.body[0]
                text = (textwrap.dedent("\n".join(lines[start - 1: sub.end_lineno]))
                        if _own_lines(sub, lines) and not stub else ast.unparse(sub))
            stmts.append(statement(sub, start, sub.end_lineno, text))
    idx = FileIndex(source, stmts)
    for i, st in enumerate(stmts):
        for name in st.binds:
            idx.bound[name] = i
    return idx


def _own_lines(node: ast.stmt, lines: list[str]) -> bool:
    """Whether the statement is alone on its lines (`try: import x` and `a = 1; b = 2` are not),
    so that its lines, dedented, are its text."""
    first = lines[first_line(node) - 1].encode()
    start = min([node.col_offset] + [d.col_offset - 1 for d in getattr(node, "decorator_list", [])])
    tail = lines[node.end_lineno - 1].encode()[node.end_col_offset:].strip()
    return not first[:start].strip() and (not tail or tail.startswith(b"#"))


def _unavailable(node: ast.stmt, importable: Callable[[str], bool]) -> bool:
    """A third-party package's names that programs may not import (the standard library's are
    judged by the allowlists as they are)."""
    return (isinstance(node, ast.ImportFrom) and not node.level and node.module is not None
            and not importable(node.module.split(".")[0])
            and node.module.split(".")[0] not in sys.stdlib_module_names
            and all(a.name != "*" for a in node.names))


def _standins(node: ast.ImportFrom) -> list[Statement]:
    """`from pkg import A` of a package a program may not import: a stand-in class per name
    that raises when it is used, so code that only names it (a table of layers, an isinstance
    check) still runs. Problems may keep stand-ins (the probe finds out whether the module
    needs the real one); kernels may not (`standin` marks them)."""
    out = []
    for a in node.names:
        name = a.asname or a.name
        text = (f"class {name}:  # stand-in: {node.module} is not available\n"
                f"    def __init__(self, *args, **kwargs):\n"
                f"        raise ImportError({f'{name} needs {node.module}'!r})")
        st = statement(ast.parse(text).body[0], node.lineno, node.end_lineno, text)
        st.standin = node.module.split(".")[0]
        out.append(st)
    return out


def first_line(node: ast.stmt) -> int:
    """The statement's first line (1-based), its decorators included."""
    return min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])


def statement(node: ast.stmt, start: int, end: int, text: str | None = None) -> Statement:
    return Statement(node, binds(node), start, end, text)


_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception"}


def _optional_import_branch(node: ast.stmt, importable: Callable[[str], bool]) -> list | None:
    if not (isinstance(node, ast.Try) and node.handlers and not node.finalbody):
        return None
    if not any(isinstance(s, (ast.Import, ast.ImportFrom)) for s in node.body):
        return None
    for h in node.handlers:
        names = [] if h.type is None else [_dotted(e) for e in getattr(h.type, "elts", [h.type])]
        if names and not set(names) & _IMPORT_ERRORS:
            return None
    body = node.body + node.orelse
    fallback = node.handlers[0].body
    if all(importable(m) for s in body for n in ast.walk(s) for m in import_modules(n)):
        return body
    if any(isinstance(s, ast.Raise) for s in fallback):
        return body  # the import is required: keep it, and let the import check reject it
    missing = sorted(set().union(*map(binds, body)) - set().union(*map(binds, fallback)))
    if missing:  # code guarded by a flag may still name them; using them fails in the probe
        stub = ast.parse(" = ".join([*missing, "None"])).body[0]
        ast.copy_location(stub, node)
        stub.end_lineno = node.end_lineno
        fallback = [*fallback, stub]
    return fallback


def _is_logger(node: ast.stmt) -> bool:
    return (isinstance(node, ast.Assign) and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Call)
            and _dotted(node.value.func).split(".")[-1] in ("get_logger", "getLogger"))


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
        return {n.id for t in targets for n in all_nodes(t) if type(n) is ast.Name}
    if isinstance(node, (ast.If, ast.Try, ast.With)) or type(node).__name__ == "TryStar":
        # conditional definitions (`try: from x import y except ImportError: ...`): the whole
        # block binds what any of its branches binds, and is kept whole when needed
        branches = [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", []),
                    *(s for h in getattr(node, "handlers", []) for s in h.body)]
        return {name for stmt in branches for name in binds(stmt)}
    return set()


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def all_nodes(root: ast.AST) -> Iterator[ast.AST]:
    """Every node under `root`, itself included, in no set order: ast.walk without its
    per-node generators, and without the `ctx` markers (Load, Store) no caller reads as nodes.
    The scan of every statement is mining's largest cost after parsing."""
    todo = [root]
    while todo:
        n = todo.pop()
        yield n
        fields = _CHILD_FIELDS.get(type(n))
        if fields is None:
            fields = _CHILD_FIELDS[type(n)] = tuple(f for f in n._fields if f != "ctx")
        for f in fields:
            v = getattr(n, f, None)
            if type(v) is list:
                todo += [x for x in v if isinstance(x, ast.AST)]
            elif isinstance(v, ast.AST):
                todo.append(v)


def _uses(node: ast.stmt) -> tuple[set[str], set[str], set[str]]:
    """Names the statement reads from the module scope, the packages it imports at any depth,
    and the names it calls and operators it applies (optypes.op_names), in one pass over its
    tree. The names: every name read, less the names bound inside it
    (arguments, assignments, imports, nested definitions, exception and comprehension targets)
    unless declared global. Approximate by design: a name bound anywhere inside the statement
    counts as local throughout it."""
    loads: set[str] = set()
    local: set[str] = set()
    declared_global: set[str] = set()
    imports: set[str] = set()
    calls: set[str] = set()
    for n in all_nodes(node):
        t = type(n)
        if t is ast.Name:
            (loads if type(n.ctx) is ast.Load else local).add(n.id)
        elif t is ast.Call or t is ast.BinOp:
            calls.add(optypes.op_name(n))
        elif t is ast.arg:
            local.add(n.arg)
        elif t is ast.Import or t is ast.ImportFrom:
            imports.update(import_modules(n))
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
    return loads - (local - declared_global), imports, calls


def eager_reads(node: ast.AST) -> set[str]:
    """Names read when the statement itself runs: everything but function and lambda bodies
    (decorators, defaults and annotations included), which run only when called."""
    out: set[str] = set()
    todo = [node]
    while todo:
        n = todo.pop()
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            todo += [*n.decorator_list, *n.args.defaults, *(d for d in n.args.kw_defaults if d)]
            todo += [a.annotation for a in ast.walk(n.args) if isinstance(a, ast.arg)
                     and a.annotation is not None] + ([n.returns] if n.returns else [])
            continue
        if isinstance(n, ast.Lambda):
            todo += [*n.args.defaults, *(d for d in n.args.kw_defaults if d)]
            continue
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            out.add(n.id)
        todo += list(ast.iter_child_nodes(n))
    return out


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
    """Top-level functions decorated with triton.jit / autotune / heuristics, with the kinds.
    Only Triton's: `@cute.jit` (CUTLASS's CuTe DSL), `@numba.jit` or a bare `jit` imported from
    elsewhere are other compilers' functions, not kernels this corpus can check."""
    out = []
    triton = None
    for st in idx.statements:
        if not isinstance(st.node, ast.FunctionDef):
            continue
        named = [(d, d.rsplit(".", 1)[-1]) for d in map(_dotted, st.node.decorator_list)]
        if not any(last == "jit" for _, last in named):
            continue
        triton = triton if triton is not None else _triton_names(idx)
        kinds = [_KERNEL_DECORATORS[last] for full, last in named
                 if last in _KERNEL_DECORATORS and _from_triton(full, triton)]
        if "jit" in kinds:
            out.append((st.node, kinds))
    return out


def _triton_names(idx: FileIndex) -> tuple[set[str], set[str], bool]:
    """(names bound to triton or a submodule, names imported from one, whether other packages
    are imported by name `jit`/`autotune`/`heuristics`), over the file's imports at any depth."""
    modules, names, foreign = {"triton"}, set(), False
    for st in idx.statements:
        if st.standin:  # `from numba import jit`, the package not allowed: index_file's stand-in
            foreign |= bool(st.binds & set(_KERNEL_DECORATORS)) and st.standin != "triton"
            continue
        for n in all_nodes(st.node):
            if isinstance(n, ast.Import):
                modules |= {(a.asname or a.name).split(".")[0] for a in n.names
                            if a.name.split(".")[0] == "triton"}
            elif isinstance(n, ast.ImportFrom) and n.module:
                bound = {a.asname or a.name for a in n.names}
                if n.module.split(".")[0] == "triton":
                    names |= bound
                    modules |= bound  # `from triton import language as tl`
                elif bound & set(_KERNEL_DECORATORS):
                    foreign = True
    return modules, names, foreign


def _from_triton(dotted: str, triton: tuple[set[str], set[str], bool]) -> bool:
    modules, names, foreign = triton
    root, _, rest = dotted.partition(".")
    if rest:
        return root in modules
    return root in names or not foreign  # a bare name from a star import: Triton's unless
    # the file imports that name from another package


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


@dataclass
class Part:
    """One kept statement as the program shows it: `verbatim` when parsing the text gives back
    its node alone (its own lines, alone on them and unchanged, or its node printed)."""

    index: int
    text: str
    verbatim: bool


def render_parts(idx: FileIndex, keep: list[int],
                 renamed: tuple[str, str] | None = None) -> list[Part]:
    """The kept statements' original text (comments inside them included), in file order;
    `renamed` (old, new) renames an identifier in the statements that mention it."""
    lines, stmts = idx.lines, idx.statements
    old = re.compile(rf"\b{re.escape(renamed[0])}\b") if renamed is not None else None
    out = []
    for i in keep:
        st = stmts[i]
        alone = ((i == 0 or stmts[i - 1].end < st.start)
                 and (i + 1 == len(stmts) or stmts[i + 1].start > st.end))
        text = st.text if st.text is not None else "\n".join(lines[st.start - 1: st.end])
        verbatim = st.text is None and alone
        if st.text is None and not alone and not _parses(text):
            text, verbatim = ast.unparse(st.node), True  # after a string's last line, say
        if old is not None and old.search(text):
            text, verbatim = rename(text, *renamed), False
        out.append(Part(i, text, verbatim))
    return out


def _parses(text: str) -> bool:
    """Whether lines shared with another statement (`a = 1; b = 2`) parse alone: they are then
    kept whole, as they always were (the ids of programs made of them stay the same)."""
    try:
        ast.parse(text)
    except SyntaxError:
        return False
    return True


def join_parts(idx: FileIndex, parts: list[Part]) -> str:
    out, prev_simple = [], False
    for part in parts:
        simple = not isinstance(idx.statements[part.index].node, _BLOCKS)
        if out:
            out.append("\n" if (simple and prev_simple) else "\n\n\n")
        out.append(part.text)
        prev_simple = simple
    return "".join(out) + "\n"


def parts_nodes(idx: FileIndex, parts: list[Part]) -> list[ast.stmt]:
    """The top-level statements that parsing `join_parts` would give, parsing only the parts
    that are not verbatim (their own nodes are the rest). Shared with the file's index: not to
    be changed."""
    out: list[ast.stmt] = []
    for part in parts:
        out += [idx.statements[part.index].node] if part.verbatim else ast.parse(part.text).body
    return out


def render(idx: FileIndex, keep: list[int], renamed: tuple[str, str] | None = None) -> str:
    """The kept statements' text as one program (render_parts, join_parts)."""
    return join_parts(idx, render_parts(idx, keep, renamed))


def rename(code: str, old: str, new: str) -> str:
    """Rename identifier tokens `old` to `new` (strings and comments untouched)."""
    lines = code.splitlines(keepends=True)
    hits = [t.start for t in tokenize.generate_tokens(io.StringIO(code).readline)
            if t.type == tokenize.NAME and t.string == old]
    for row, col in reversed(hits):
        line = lines[row - 1]
        lines[row - 1] = line[:col] + new + line[col + len(old):]
    return "".join(lines)
