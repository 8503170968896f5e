"""Static checks of a candidate program, on its AST (standard library only).

Nothing here runs the candidate. Since verifier 0.3 the run observes what computed the output
(kernel ablation, the ATen op recorder, the host-compute check, the OS sandbox), so only what a
run cannot see is banned here; everything else real repositories write (try/except, context
managers, functools.partial, global caches, dunder attributes, device queries, file and network
calls, which the sandbox answers) is allowed. The checks, in order: it parses; defines ModelNew;
defines a `@triton.jit` kernel; then the rules below, each with its reason. torch compute calls
are listed in `torch_ops` (the run's recorder decides whether they fail the candidate).
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field

from kcorpus.verify import codes

# Modules a candidate may not import, and why: what they do happens where no check can see it.
DENIED_MODULES = {
    "gc": "reaches every live object, the reference's outputs included",
    "sys": "sys.modules and frames reach the verifier and the reference",
    "inspect": "frames reach the verifier's locals, the reference's outputs included",
    "ctypes": "native calls that neither the op recorder nor the sandbox's audit can see",
    "_ctypes": "native calls that neither the op recorder nor the sandbox's audit can see",
    "cffi": "native calls that neither the op recorder nor the sandbox's audit can see",
    "threading": "work in another thread escapes the op recorder and the watchdog",
    "_thread": "work in another thread escapes the op recorder and the watchdog",
    "concurrent": "work in another thread or process escapes the op recorder",
    "multiprocessing": "work in another process escapes the op recorder",
    "subprocess": "work in another process escapes the op recorder",
    "asyncio": "work in an event loop thread escapes the op recorder",
    "signal": "can disarm the forward watchdog",
    "pickle": "unpickling runs code the static check cannot read",
    "marshal": "loads code objects the static check cannot read",
    "shelve": "unpickling runs code the static check cannot read",
    "copyreg": "registers code for unpickling",
    "code": "an interactive interpreter: exec under another name",
    "codeop": "compiles code the static check cannot read",
    "runpy": "runs code the static check cannot read",
    "pkgutil": "imports under names built at run time",
    "zipimport": "imports code the static check cannot read",
    "builtins": "rebinding builtins changes what the verifier itself calls",
    "bdb": "trace functions read and change the verifier's frames",
    "pdb": "trace functions read and change the verifier's frames",
    "trace": "trace functions read and change the verifier's frames",
    "profile": "profile functions read the verifier's frames",
    "cProfile": "profile functions read the verifier's frames",
    "kcorpus": "the verifier itself: patching it changes what is checked",
    "__main__": "the worker itself: patching it changes what is checked",
}
# Other than the standard library, a worker has torch, triton and the small pure-Python packages
# they come with (GPU nodes install nothing else), so any other import fails there unless it is
# optional (inside a try that catches ImportError); numpy is named for its reason.
EXTRA_MODULES = {"torch", "triton", "packaging", "typing_extensions"}
DENIED_EXTRA = {"numpy": "host compute that the op recorder cannot see"}
FORBIDDEN_CALLS = {
    "eval": "runs code the static check cannot read",
    "exec": "runs code the static check cannot read",
    "compile": "builds code the static check cannot read",
    "__import__": "imports under names built at run time",
    "globals": "rewrites module state the kernels were compiled against",
    "locals": "reaches frames' state",
    "vars": "reaches objects' and frames' state",
    "breakpoint": "starts a debugger on the verifier's frames",
    "input": "reads the fork server's stdin, where the jobs arrive",
    "setattr": "assigns under names built at run time (patching)",
    "delattr": "deletes under names built at run time (patching)",
}
# Attributes that reach code objects, frames and class graphs: the way to the verifier's state.
INTROSPECTION = {
    "__globals__", "__code__", "__closure__", "__builtins__", "__subclasses__", "__bases__",
    "__base__", "__mro__", "__import__", "__loader__", "__spec__", "__traceback__", "f_back",
    "f_locals", "f_globals", "f_builtins", "f_code", "tb_frame", "tb_next", "gi_frame",
    "cr_frame", "ag_frame", "_getframe", "settrace", "setprofile", "CodeType",
}
# importlib is allowed (real code checks versions and optional packages with it); what loads code
# from files or reaches the import machinery is not, and `import_module` from a candidate is
# refused at run time for the modules denied above (worker.py).
IMPORT_MACHINERY = {"_bootstrap", "_bootstrap_external", "_gcd_import", "reload", "exec_module",
                    "load_module", "module_from_spec", "spec_from_file_location", "spec_from_loader",
                    "SourceFileLoader", "SourcelessFileLoader", "ExtensionFileLoader", "find_loader"}
# Tensors made from raw memory or per-element Python: nothing is dispatched, so the run's
# host-compute check cannot see them.
HIDDEN_TENSOR_SOURCES = {
    "apply_": "runs Python per element, invisible to the op recorder",
    "map_": "runs Python per element, invisible to the op recorder",
    "map2_": "runs Python per element, invisible to the op recorder",
    "frombuffer": "a tensor from raw host memory, invisible to the host-compute check",
    "from_dlpack": "a tensor from another library's memory, invisible to the host-compute check",
    "from_file": "a tensor from a file, invisible to the host-compute check",
    "from_buffer": "a storage from raw host memory, invisible to the host-compute check",
}
# Handlers torch calls from inside its dispatcher: a tensor subclass's or a mode's ops run where
# the op recorder (itself a dispatch mode) cannot see them.
DISPATCH_HOOKS = {"__torch_dispatch__", "__torch_function__", "TorchDispatchMode",
                  "TorchFunctionMode"}
# torch submodules that run work in other processes or build native code at run time
DENIED_TORCH = {
    "cpp_extension": "native CUDA/C++ built at run time, whose kernels no one records",
    "multiprocessing": "work in another process escapes the op recorder",
}
STREAM_NAMES = {"Stream", "stream", "set_stream", "ExternalStream", "graph", "CUDAGraph"}
PROTECTED_ROOTS = {"torch", "triton", "tl", "nn", "F", "math", "time", "builtins", "knobs"}
# torch functions and tensor methods that only allocate, view or describe: not listed as ops
LAYOUT_OPS = {
    "empty", "empty_like", "empty_strided", "zeros", "zeros_like", "full", "full_like", "ones",
    "ones_like", "new_empty", "new_zeros", "new_full", "new_ones", "view", "reshape",
    "permute", "transpose", "t", "contiguous", "expand", "expand_as", "flatten", "unflatten",
    "squeeze", "unsqueeze", "size", "stride", "numel", "dim", "is_contiguous", "data_ptr",
    "element_size", "to", "device", "dtype", "cdiv", "next_power_of_2", "arange", "split",
    "chunk", "unbind", "narrow", "select", "as_strided", "detach", "clone", "view_as",
    "reshape_as", "movedim", "float", "half", "bfloat16", "type_as", "cuda", "cpu",
    "get_device", "manual_seed", "no_grad", "inference_mode", "Size", "tensor",
}
TORCH_NAMESPACES = {"torch", "F", "functional", "nn"}


@dataclass
class StaticResult:
    failure_code: str = ""
    message: str = ""
    flags: list[str] = field(default_factory=list)
    torch_ops: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failure_code


def check(code: str, lenient: bool = False, generated: str = "") -> StaticResult:
    """The checks above. `generated` names a generator kcorpus runs itself (`inductor`), whose
    programs define their kernels in strings compiled at load time and import its runtime:
    only the parse and ModelNew checks apply; the run-time checks still decide. `lenient` is
    accepted for symmetry with the worker: torch ops are decided at run time either way."""
    if not code.strip():
        return StaticResult(codes.NO_CODE, "the completion contains no program")
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError) as e:
        return StaticResult(codes.PARSE_ERROR, f"does not parse: {e}")
    except RecursionError:
        return StaticResult(codes.PARSE_ERROR, "nesting too deep to parse")
    top = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    model_new = top.get("ModelNew")
    if not isinstance(model_new, ast.ClassDef):
        return StaticResult(codes.NO_MODELNEW, "defines no class ModelNew")
    if generated:
        return StaticResult(flags=[f"generated:{generated}"])
    if not any(_is_kernel(n) or _jit_call(n) for n in ast.walk(tree)):
        return StaticResult(codes.NO_KERNEL, "defines no @triton.jit kernel")
    for check_fn in (_imports, _forbidden, _reference, _streams, _patching):
        result = check_fn(tree)
        if result is not None:
            return result
    ops = _torch_compute_calls(model_new, top)
    return StaticResult(torch_ops=ops, flags=["torch_ops"] if ops else [])


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    if isinstance(node, ast.Call):
        return _dotted(node.func)
    return ""


def _is_kernel(fn: ast.AST) -> bool:
    return isinstance(fn, ast.FunctionDef) and any(
        _dotted(d).split(".")[-1] == "jit" for d in fn.decorator_list)


def _jit_call(node: ast.AST) -> bool:
    """`triton.jit(fn)` called, not used as a decorator (Unsloth builds kernels this way)."""
    return isinstance(node, ast.Call) and _dotted(node.func) in ("triton.jit", "jit")


def _private_torch(path: str) -> bool:
    """torch.<...>._private: internals that can switch off the dispatcher the recorder uses."""
    parts = path.split(".")
    return parts[0] == "torch" and any(p.startswith("_") and not p.startswith("__") for p in parts[1:])


def denied_module(path: str) -> str | None:
    """Why a candidate may never import module `path`, or None."""
    path = path.lstrip(".")
    root = path.split(".")[0]
    if _private_torch(path):
        return "torch internals can switch off the dispatcher that records torch ops"
    denied = [DENIED_TORCH[p] for p in path.split(".")[1:] if root == "torch" and p in DENIED_TORCH]
    return DENIED_MODULES.get(root) or DENIED_EXTRA.get(root) or (denied[0] if denied else None)


def _module_problem(path: str, optional: bool) -> str | None:
    """Why importing module `path` is not allowed, or None. An `optional` import (inside a try
    that catches ImportError) may name a package the worker lacks: it falls back at run time."""
    root = path.split(".")[0]
    if denied_module(path):
        return denied_module(path)
    if root not in EXTRA_MODULES and root not in sys.stdlib_module_names and not optional:
        return "not in a worker's environment (the standard library, torch and triton)"
    return None


_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def _optional_imports(tree: ast.Module) -> set[int]:
    """ids of import statements inside a try whose handlers catch a failed import."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(
                h.type is None or {_dotted(t) for t in (h.type.elts if isinstance(h.type, ast.Tuple)
                                                        else [h.type])} & _IMPORT_ERRORS
                for h in node.handlers):
            out |= {id(n) for stmt in node.body for n in ast.walk(stmt)
                    if isinstance(n, (ast.Import, ast.ImportFrom))}
    return out


def _imports(tree: ast.Module) -> StaticResult | None:
    optional = _optional_imports(tree)
    for node in ast.walk(tree):
        paths = []
        if isinstance(node, ast.Import):
            paths = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                return StaticResult(codes.FORBIDDEN_IMPORT, f"line {node.lineno}: a relative "
                                    "import: a candidate is one file")
            base = node.module or ""
            paths = [base] + [f"{base}.{a.name}" for a in node.names if a.name != "*"]
        for path in paths:
            why = _module_problem(path, id(node) in optional)
            if why:
                return StaticResult(codes.FORBIDDEN_IMPORT, f"line {node.lineno}: imports {path}: {why}")
    return None


def _forbidden(tree: ast.Module) -> StaticResult | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _dotted(node.func) if isinstance(node.func, (ast.Name, ast.Attribute)) else ""
            if name in FORBIDDEN_CALLS:
                return StaticResult(codes.FORBIDDEN_CALL,
                                    f"line {node.lineno}: calls {name}(): {FORBIDDEN_CALLS[name]}")
            if name == "getattr" and not (len(node.args) >= 2 and (
                    isinstance(node.args[1], ast.Constant) or _device_backend(node.args[1]))):
                return StaticResult(codes.FORBIDDEN_CALL, f"line {node.lineno}: getattr with a name "
                                    "built at run time hides what is reached")
            why = _name_lookup_problem(name, node)
            if why:
                return StaticResult(codes.FORBIDDEN_CALL, f"line {node.lineno}: {name}(): {why}")
        if isinstance(node, ast.Attribute):
            why = _attribute_problem(node)
            if why:
                return StaticResult(codes.FORBIDDEN_CALL, f"line {node.lineno}: {_dotted(node)}: {why}")
        hook = _dispatch_hook(node)
        if hook:
            return StaticResult(codes.FORBIDDEN_CALL, f"line {node.lineno}: {hook}: a tensor "
                                "subclass's or mode's handler runs where the op recorder cannot see")
        if isinstance(node, ast.Name) and node.id in INTROSPECTION:
            return StaticResult(codes.FORBIDDEN_CALL, f"line {node.lineno}: {node.id}: introspection "
                                "reaches the verifier's state")
    return None


def _device_backend(name: ast.AST) -> bool:
    """`getattr(torch, device.type)`: a device's backend module (torch.cuda, torch.cpu), the way
    Liger-Kernel and others enter a device context; the name can only be a device type."""
    return isinstance(name, ast.Attribute) and name.attr == "type"


def _name_lookup_problem(name: str, call: ast.Call) -> str | None:
    """getattr / attrgetter / methodcaller naming what an attribute access could not."""
    leaf = name.split(".")[-1]
    if leaf not in ("getattr", "attrgetter", "methodcaller", "hasattr"):
        return None
    names = call.args[1:2] if leaf in ("getattr", "hasattr") else call.args[:1]
    if leaf in ("attrgetter", "methodcaller") and not all(isinstance(a, ast.Constant) for a in call.args):
        return "a name built at run time hides what is reached"
    for a in names:
        text = str(a.value) if isinstance(a, ast.Constant) else ""
        parts = text.split(".")
        if any(p in INTROSPECTION or p in DISPATCH_HOOKS or p == "_C" or p == "__dict__"
               or (p.startswith("_") and not p.startswith("__")) for p in parts):
            return f"reaches {text}: internals the run cannot observe"
    return None


def _dispatch_hook(node: ast.AST) -> str | None:
    if isinstance(node, ast.FunctionDef) and node.name in DISPATCH_HOOKS:
        return node.name
    if isinstance(node, ast.Name) and node.id in DISPATCH_HOOKS:
        return node.id
    if isinstance(node, ast.Attribute) and node.attr in DISPATCH_HOOKS:
        return node.attr
    return None


def _attribute_problem(node: ast.Attribute) -> str | None:
    if node.attr in INTROSPECTION:
        return "introspection reaches code objects, frames and the verifier's state"
    if node.attr in HIDDEN_TENSOR_SOURCES:
        return HIDDEN_TENSOR_SOURCES[node.attr]
    if node.attr in IMPORT_MACHINERY:
        return "loads code the static check cannot read"
    if node.attr == "_C" or _private_torch(_dotted(node)):
        return "torch internals can switch off the dispatcher that records torch ops"
    if node.attr == "__dict__" and _dotted(node).split(".")[0] in ("torch", "triton", "tl", "F", "nn"):
        return "torch's namespace under names built at run time reaches its internals"
    if _dotted(node).startswith("torch.") and node.attr in DENIED_TORCH:
        return DENIED_TORCH[node.attr]
    return None


def _reference(tree: ast.Module) -> StaticResult | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "Model":
            return StaticResult(codes.USES_REFERENCE, f"line {node.lineno}: uses the reference Model")
    return None


def _streams(tree: ast.Module) -> StaticResult | None:
    """Side streams: timing's CUDA events see only the current stream."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in STREAM_NAMES:
            return StaticResult(codes.SIDE_STREAM, f"line {node.lineno}: uses {_dotted(node)}")
    return None


def _imported_names(tree: ast.Module) -> set[str]:
    """Names bound by import statements (modules and what was imported from them)."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return out


def _patching(tree: ast.Module) -> StaticResult | None:
    """Assignments into torch, triton, time... or into anything imported (a module, a class of
    one): they change what the verifier calls and times. `os.environ[...]` is allowed."""
    roots = PROTECTED_ROOTS | _imported_names(tree)
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        elif isinstance(node, ast.Delete):
            targets = node.targets
        for t in targets:
            root = _dotted(t).split(".")[0]
            environ = isinstance(t, ast.Subscript) and _dotted(t.value) == "os.environ"
            if isinstance(t, (ast.Attribute, ast.Subscript)) and root in roots and not environ:
                return StaticResult(codes.PATCHING, f"line {node.lineno}: assigns to {_dotted(t)}")
    return None


def _torch_compute_calls(model_new: ast.ClassDef, top: dict) -> list[str]:
    """torch.* / F.* calls that compute, in ModelNew's methods and the top-level functions of
    the program (listed for the verdict; the run's recorder decides)."""
    scopes = [n for n in model_new.body if isinstance(n, ast.FunctionDef) and n.name != "__init__"]
    scopes += [n for n in top.values() if isinstance(n, ast.FunctionDef) and not _is_kernel(n)]
    ops = set()
    for scope in scopes:
        for node in ast.walk(scope):
            if isinstance(node, ast.Call):
                parts = _dotted(node.func).split(".")
                if len(parts) >= 2 and parts[0] in TORCH_NAMESPACES and parts[-1] not in LAYOUT_OPS \
                        and not parts[-1][:1].isupper():
                    ops.add(".".join(parts))
            elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
                ops.add("@")
    return sorted(ops)
