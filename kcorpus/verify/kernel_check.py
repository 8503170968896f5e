"""In a sandboxed child: does a mined kernel's closure run with torch and triton alone?

The job's `code` is loaded as a module under Triton's interpreter (`TRITON_INTERPRET=1`, which
the CPU sandbox sets). It passes when loading imports nothing beyond the standard library, torch
and triton, `name` is a Triton kernel (a JIT function, through any autotune or heuristics
wrapper), and every JIT function it reaches, itself included, compiles under the interpreter
(its AST rewritten and compiled by Triton) with every global name it reads defined. Imports
only the standard library and triton (the worker's rule).
"""

from __future__ import annotations

import ast
import builtins
import sys
import types
from collections.abc import Callable

_ALONE = {"torch", "triton", "kcorpus"} | set(sys.stdlib_module_names)


def check(job: dict, load: Callable[[str], types.ModuleType]) -> dict:
    """{"id", "kind": "kernel_check", "ok", "message"}."""
    out = {"id": job.get("id"), "kind": "kernel_check", "ok": False, "message": ""}
    before = set(sys.modules)
    try:
        mod = load(job["code"])
        extra = sorted({m.split(".")[0] for m in set(sys.modules) - before} - _ALONE
                       - {mod.__name__})
        if extra:
            out["message"] = f"loading it imports {', '.join(extra)}"
            return out
        fn = _function(getattr(mod, job["name"], None))
        if fn is None:
            out["message"] = f"{job['name']} is not a Triton kernel after loading"
            return out
        _compile_all(fn, set())
    except Exception as e:  # what the closure lacks, or what the interpreter refuses
        out["message"] = f"{type(e).__name__}: {str(e)[:500]}"
        return out
    out["ok"] = True
    return out


def _function(obj):
    """The interpreted (or JIT) function behind autotune/heuristics wrappers, else None."""
    from triton.runtime.jit import KernelInterface

    for _ in range(8):
        if obj is None or not isinstance(obj, KernelInterface):
            return None
        inner = getattr(obj, "fn", None)
        if not isinstance(inner, KernelInterface):
            return obj
        obj = inner
    return None


def _compile_all(kernel, seen: set[int]) -> None:
    """Rewrite and compile `kernel` under the interpreter, check its globals, then recurse into
    the JIT functions it reads."""
    if id(kernel) in seen:
        return
    seen.add(id(kernel))
    if hasattr(kernel, "rewrite"):
        kernel.rewrite()  # the interpreter's compile: its AST transformed and compiled
    fn = kernel.fn
    missing = sorted(n for n in _global_reads(fn) if n not in fn.__globals__
                     and not hasattr(builtins, n))
    if missing:
        raise NameError(f"{fn.__name__} reads {', '.join(missing)}, defined nowhere")
    for name in _global_reads(fn):
        value = fn.__globals__.get(name)
        for obj in [value, *_attributes(value)]:
            inner = _function(obj)
            if inner is not None:
                _compile_all(inner, seen)


def _global_reads(fn) -> set[str]:
    import inspect
    import textwrap

    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    node = tree.body[0]
    local = {a.arg for a in ast.walk(node.args) if isinstance(a, ast.arg)}
    local |= {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
              and not isinstance(n.ctx, ast.Load)}
    reads = {n.id for b in node.body for n in ast.walk(b) if isinstance(n, ast.Name)
             and isinstance(n.ctx, ast.Load)}
    return reads - local


def _attributes(value) -> list:
    """A namespace's attributes (`tle.program_id`), where the global is one."""
    if isinstance(value, types.SimpleNamespace):
        return list(vars(value).values())
    return []
