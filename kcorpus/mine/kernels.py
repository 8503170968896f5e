"""Triton kernels of one file, each with what it needs and whether it stands alone (AST only).

A `@triton.jit` function rarely needs its whole file: it needs the JIT functions it calls and the
module-level constants it reads. So every top-level JIT function of a parsed file becomes a
kernel record, whatever the rest of the file imports. Per kernel, in order:

1. wrappers: decorators that are not Triton's own (`@libentry()`, `@pointwise_dynamic(...)`)
   are dropped from the kernel and recorded; `jit`, `autotune` and `heuristics` stay, with their
   arguments (configs, keys, heuristics).
2. closure: the statements the kernel uses, transitively (JIT helpers, constants, imports), in
   file order, with what they import from the same repository inlined (repo_imports.py).
3. launch site: the file's functions and classes that reference the kernel. Where their closure
   is as clean as the kernel's, they are part of `code`; else their source is `launch_site`.
4. flag: a closure whose names all resolve and that imports only torch, triton and the standard
   library is a `standalone` candidate (confirmed later under Triton's interpreter in a sandboxed
   child, `kcorpus/mine/kernel_check.py`); any other is `needs_repo`, and `needs` says why.
"""

from __future__ import annotations

import ast
import copy
import sys
from dataclasses import dataclass, field

from kcorpus.mine import extract

TRITON_DECORATORS = {"jit", "autotune", "heuristics"}
# what a standalone kernel may import besides the standard library
KERNEL_PACKAGES = {"torch", "triton"}


@dataclass
class KernelConfig:
    """What may be imported: the mine config's allowlist for modules; a standalone kernel may
    import torch, triton and the standard library (its check runs in the sandbox)."""

    allowed_imports: set[str]

    @property
    def kernel_imports(self) -> set[str]:
        return KERNEL_PACKAGES | set(sys.stdlib_module_names) | {"__future__"}


@dataclass
class Kernel:
    name: str
    decorators: list[str]
    launchers: list[str]
    code: str
    line_start: int
    line_end: int
    standalone: bool = False  # after extraction: a candidate; after the sandbox check: confirmed
    needs: str = ""  # why it needs its repository ('' when standalone)
    launch_site: str = ""  # launchers' source, when they are not part of `code`
    wrappers: list[str] = field(default_factory=list)  # non-Triton decorators dropped
    # (code, launch_site) without the launchers, where `code` has them: what the sandbox
    # check falls back to when the launchers do not load
    kernel_only: tuple[str, str] | None = None


def decorator_name(dec: ast.expr) -> str:
    return extract._dotted(dec).rsplit(".", 1)[-1]


def strip_wrappers(idx: extract.FileIndex) -> tuple[extract.FileIndex, dict[str, list[str]]]:
    """The file with every JIT function's non-Triton decorators removed, and what was removed
    per function."""
    statements, dropped = [], {}
    if "jit" not in idx.source:
        return idx, dropped
    for st in idx.statements:
        node = st.node
        names = ([decorator_name(d) for d in node.decorator_list]
                 if isinstance(node, ast.FunctionDef) else [])
        if "jit" not in names or set(names) <= TRITON_DECORATORS:
            statements.append(st)
            continue
        kept = [d for d in node.decorator_list if decorator_name(d) in TRITON_DECORATORS]
        dropped[node.name] = [n for n in names if n not in TRITON_DECORATORS]
        new = copy.copy(node)
        new.decorator_list = kept
        start = extract.first_line(new)
        lines = idx.lines
        text = "\n".join([*(_lines(lines, d) for d in kept),
                          *lines[node.lineno - 1: node.end_lineno]])
        statements.append(extract.statement(new, start, node.end_lineno, text))
    if not dropped:
        return idx, dropped
    out = extract.FileIndex(idx.source, statements)
    for i, st in enumerate(statements):
        for name in st.binds:
            out.bound[name] = i
    return out, dropped


def _lines(lines: list[str], dec: ast.expr) -> str:
    """A decorator's source lines, its `@` included."""
    return "\n".join(lines[dec.lineno - 1: dec.end_lineno])


def launch_sites(idx: extract.FileIndex, kernel: str) -> list[str]:
    """Top-level functions (not JIT functions) and classes of the file that reference `kernel`."""
    out = []
    for st in idx.statements:
        node = st.node
        if isinstance(node, ast.ClassDef) or (
                isinstance(node, ast.FunctionDef)
                and "jit" not in {decorator_name(d) for d in node.decorator_list}):
            if kernel in st.uses:
                out.append(node.name)
        elif isinstance(node, ast.AsyncFunctionDef) and kernel in st.uses:
            out.append(node.name)
    return out


def kernels_from_file(idx: extract.FileIndex, cfg: KernelConfig, program_source,
                      ctx=None) -> list[Kernel]:
    """Every top-level JIT function of the file as a Kernel. `program_source` is
    canonical.program_source (the closure as one program, or a Reject)."""
    stripped, dropped = strip_wrappers(idx)
    out = []
    for fn, kinds in extract.kernel_functions(stripped):
        out.append(_kernel(stripped, fn, kinds, dropped.get(fn.name, []), cfg, program_source,
                           ctx))
    return out


def _kernel(idx, fn, kinds, wrappers, cfg, program_source, ctx) -> Kernel:
    launch = launch_sites(idx, fn.name)
    allowed = cfg.kernel_imports
    k = Kernel(fn.name, kinds, launch, "", extract.first_line(fn), fn.end_lineno,
               wrappers=wrappers)
    keep, unresolved = extract.closure(idx, {fn.name})
    alone = program_source(idx, keep, unresolved, allowed, fn.name, ctx)
    site = extract.render(idx, sorted(idx.bound[n] for n in launch)) if launch else ""
    if isinstance(alone, str):
        k.code, k.standalone, k.launch_site = alone, True, site
    else:
        k.code, k.needs, k.launch_site = (extract.render(idx, keep),
                                          f"{alone.reason}: {alone.detail}", site)
        return k
    if launch:
        keep, unresolved = extract.closure(idx, {fn.name, *launch})
        both = program_source(idx, keep, unresolved, allowed, fn.name, ctx)
        if isinstance(both, str):  # the launchers need nothing more: one program with them
            k.kernel_only = (k.code, k.launch_site)
            k.code, k.launch_site = both, ""
    return k
