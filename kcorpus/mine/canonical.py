"""Turn one parsed file into canonical problems (KernelBench form) and kernel records.

A file is canonicalised when it defines its own inputs (`get_inputs`, optionally
`get_init_inputs`): the entry module (a class named `Model`, else the last nn.Module class) is
renamed `Model`, and only the statements it and the input functions need are kept. For a file
without inputs, every module class with a forward gets guessed programs (infer.py), which the
problems stage tries in the sandbox.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from kcorpus import optypes
from kcorpus.ids import code_id, content_id
from kcorpus.mine import extract, infer, kernels
from kcorpus.mine.repo_imports import Inliner, InlineError, RepoModules

INPUT_FUNCS = ("get_inputs", "get_init_inputs")
NO_INIT_INPUTS = "\n\ndef get_init_inputs():\n    return []\n"
KERNEL_ONLY = "_kernel_only"


@dataclass
class Reject:
    item: str
    reason: str
    detail: str


@dataclass
class Problem:
    entry_point: str
    code: str
    line_start: int
    line_end: int
    module_classes: int
    calls: frozenset[str] | None = None  # op names of its statements (optypes.op_types)
    # what parsing `code` gives at the top level (parts of the file's tree: not to be changed)
    nodes: list[ast.stmt] | None = None


def problems_from_file(idx: extract.FileIndex, allowed_imports: set[str],
                       ctx: RepoContext | None = None) -> tuple[list[Problem], list[Reject]]:
    modules = extract.module_classes(idx)
    if not modules:
        return [], []
    if "get_inputs" not in extract.function_names(idx):
        return [], []
    entry = next((m for m in modules if m.name == "Model"), modules[-1])
    rejects = [Reject(m.name, "not_entry", f"the file's entry module is {entry.name}")
               for m in modules if m is not entry]
    roots = {entry.name, *(f for f in INPUT_FUNCS if f in extract.function_names(idx))}
    keep, unresolved = extract.closure(idx, roots)
    rendered: list[extract.Statement] = []
    nodes: list[ast.stmt] = []
    code = program_source(idx, keep, unresolved, allowed_imports, entry.name, ctx, as_model=True,
                          rendered=rendered, nodes=nodes)
    if isinstance(code, Reject):
        return [], rejects + [code]
    if "get_init_inputs" not in roots:
        code += NO_INIT_INPUTS
        nodes += ast.parse(NO_INIT_INPUTS).body
    used = [m for m in modules if any(m.name in idx.statements[i].binds for i in keep)]
    rejects = [r for r in rejects if r.item not in {m.name for m in used}]
    calls = frozenset().union(*(st.calls for st in rendered))
    return [Problem(entry.name, code, entry.lineno, entry.end_lineno, len(used), calls,
                    nodes)], rejects


@dataclass
class RepoContext:
    """Where a file sits in its checkout, so same-repository imports can be inlined."""

    repo: RepoModules
    module: str
    is_package: bool


def program_source(idx: extract.FileIndex, keep: list[int], unresolved: set[str],
                   allowed: set[str], entry: str, ctx: RepoContext | None,
                   as_model: bool = False, rendered: list | None = None,
                   nodes: list | None = None) -> str | Reject:
    """The kept statements as one program, what they import from the same repository inlined
    ahead of them; or why that cannot be. With `as_model`, `entry` is renamed `Model`. The
    statements the program is made of are added to `rendered`, where given, and the
    top-level nodes parsing the program would give to `nodes` (extract.parts_nodes)."""
    prefix, drop, inlined = "", set(), []
    if ctx is not None:
        inliner = Inliner(ctx.repo)
        try:
            unresolved = inliner.resolve_stars(idx, unresolved, ctx.module, ctx.is_package, 0)
            unresolved = _eager(idx, keep, unresolved)
            if not unresolved:
                drop = inliner.repo_imports(idx, keep, ctx.module, ctx.is_package)
        except InlineError as e:
            return Reject(entry, e.reason, e.detail)
        prefix, inlined = inliner.code(), inliner.statements
    unresolved = _eager(idx, keep, unresolved)
    if unresolved:
        return Reject(entry, "unresolved_names",
                      f"uses names the file does not define: {', '.join(sorted(unresolved))}")
    kept = [k for k in keep if k not in drop]
    bad = _check_statements(inlined + [idx.statements[k] for k in kept], allowed,
                            entry if as_model else "Model", standins=as_model)
    if bad is not None:
        return bad
    if rendered is not None:
        rendered += inlined + [idx.statements[k] for k in kept]
    renamed = (entry, "Model") if as_model and entry != "Model" else None
    parts = extract.render_parts(idx, kept, renamed)
    code = extract.join_parts(idx, parts)
    if renamed:
        if re.search(rf"\b{re.escape(entry)}\b", prefix):  # rare: tokenizing it all is slow
            prefix = extract.rename(prefix, entry, "Model")
    if nodes is not None:
        nodes += (ast.parse(prefix).body if prefix else []) + extract.parts_nodes(idx, parts)
    return f"{prefix}\n\n{code}" if prefix else code


def _eager(idx: extract.FileIndex, keep: list[int], unresolved: set[str]) -> set[str]:
    """Of the names the file does not define, those read when its statements run. A name read
    only inside function bodies fails only if that code runs (KernelBench's Swin files call an
    unimported `checkpoint` behind `use_checkpoint=False`), as loading the file itself would:
    the problems stage's probe, or the kernel check, finds out."""
    if not unresolved:
        return unresolved
    eager = set().union(*(extract.eager_reads(idx.statements[k].node) for k in keep))
    return unresolved & eager


def _check_statements(stmts: list[extract.Statement], allowed: set[str],
                      entry: str, standins: bool = False) -> Reject | None:
    """The program's top-level statements: no second `Model`, only allowed imports (and
    stand-ins for the others, extract._standins, only where `standins`)."""
    if entry != "Model" and any("Model" in st.binds for st in stmts):
        return Reject(entry, "name_conflict", "another definition is already called Model")
    missing = sorted({st.standin for st in stmts if st.standin})
    if missing and not standins:
        return Reject(entry, "import_not_allowed", f"imports {missing[0]}")
    for mod in sorted({m for st in stmts for m in st.imports}):  # imports at any depth
        if mod == ".":
            return Reject(entry, "relative_import", "needs a relative import")
        if mod not in allowed:
            return Reject(entry, "import_not_allowed", f"imports {mod}")
    return None


@dataclass
class Guess:
    entry_point: str
    programs: list[str]
    line_start: int
    line_end: int
    module_classes: int


def guesses_from_file(idx: extract.FileIndex, allowed_imports: set[str],
                      ctx: RepoContext | None = None) -> tuple[list[Guess], list[Reject]]:
    """For a file without get_inputs: guessed programs for each module class with a forward."""
    if "get_inputs" in extract.function_names(idx):
        return [], []
    out, rejects = [], []
    modules = extract.module_classes(idx)
    for cls in modules:
        if not any(isinstance(n, ast.FunctionDef) and n.name == "forward" for n in cls.body):
            rejects.append(Reject(cls.name, "no_forward", "defines no forward (a base class?)"))
            continue
        keep, unresolved = extract.closure(idx, {cls.name})
        body = program_source(idx, keep, unresolved, allowed_imports, cls.name, ctx, as_model=True)
        if isinstance(body, Reject):
            rejects.append(body)
            continue
        programs = infer.guesses(body, cls)
        if not programs:
            rejects.append(Reject(cls.name, "no_guess", "no constructor arguments could be guessed"))
            continue
        used = sum(any(m.name in idx.statements[i].binds for i in keep) for m in modules)
        out.append(Guess(cls.name, programs, cls.lineno, cls.end_lineno, used))
    return out, rejects


def guess_row(g: Guess, source_id: str, path: str) -> dict:
    return {"module_id": content_id("guess", *g.programs), "source_id": source_id,
            "origin_path": path, "line_start": g.line_start, "line_end": g.line_end,
            "entry_point": g.entry_point, "module_classes": g.module_classes,
            "programs": g.programs}


def kernels_from_file(idx: extract.FileIndex, allowed_imports: set[str],
                      ctx: RepoContext | None = None) -> list[kernels.Kernel]:
    """Every top-level `@triton.jit` function, with its closure and flag (kernels.py)."""
    return kernels.kernels_from_file(idx, kernels.KernelConfig(allowed_imports),
                                     program_source, ctx)


def problem_row(p: Problem, source_id: str, path: str) -> dict:
    # the program's own nodes where known: parsing the code again cost as much as all the rest
    tree = ast.parse(p.code) if p.nodes is None else ast.Module(p.nodes, type_ignores=[])
    cats = optypes.op_types(p.code, tree, p.calls)
    return {
        "problem_id": code_id(p.code, tree=tree),
        "source_id": source_id,
        "origin_path": path,
        "line_start": p.line_start,
        "line_end": p.line_end,
        "entry_point": p.entry_point,
        "code": p.code,
        "inputs_origin": "defined",
        "op_types": cats,
        "level": optypes.level(cats, p.module_classes),
        "input_signature": None,
        "flops": None,
        "bytes_moved": None,
        "degenerate_flags": [],
    }


def kernel_row(k: kernels.Kernel, source_id: str, path: str) -> dict:
    return {
        "kernel_id": code_id(k.code, k.name),
        "source_id": source_id,
        "origin_path": path,
        "line_start": k.line_start,
        "line_end": k.line_end,
        "name": k.name,
        "decorators": k.decorators,
        "launchers": k.launchers,
        "code": k.code,
        "standalone": k.standalone,
        "needs": k.needs,
        "launch_site": k.launch_site,
        "wrappers": k.wrappers,
        KERNEL_ONLY: k.kernel_only,  # until the sandbox check settles the code (kernel_check)
    }
