"""Static checks of a candidate program, on its AST (standard library only).

Nothing here runs the candidate. The checks, in order: it parses; defines ModelNew; has a
`@triton.jit` kernel that code reachable from ModelNew launches; imports only allowed modules;
no eval/exec/open/dynamic getattr, no try/except, no threads or streams, no assignment into
torch/triton/time/..., no use of the reference Model; torch compute calls are listed (and fail
the candidate unless lenient). Names built at run time are caught later, by recording the ATen
ops that forward dispatches.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

from kcorpus.verify import codes

ALLOWED_IMPORTS = {"torch", "triton", "math", "typing", "functools", "dataclasses",
                   "collections", "itertools", "operator", "__future__", "enum", "abc", "numbers"}
FORBIDDEN_CALLS = {"eval", "exec", "compile", "open", "__import__", "globals", "locals", "vars",
                   "breakpoint", "input", "setattr", "delattr", "id", "memoryview"}
STREAM_NAMES = {"Stream", "stream", "set_stream", "ExternalStream", "Thread", "Process",
                "Timer", "graph", "CUDAGraph"}
PROTECTED_ROOTS = {"torch", "triton", "tl", "nn", "F", "math", "time", "builtins"}
# torch functions and tensor methods that only allocate, view or describe: allowed in forward
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
    only the parse and ModelNew checks apply; the run-time checks (launches counted, ATen ops
    recorded, correctness) still decide."""
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
    kernels = {name for name, n in top.items() if isinstance(n, ast.FunctionDef) and _is_kernel(n)}
    if not kernels:
        return StaticResult(codes.NO_KERNEL, "defines no @triton.jit kernel")
    reachable = _reachable(model_new, top)
    if not reachable & kernels:
        return StaticResult(codes.UNREACHABLE_KERNEL,
                            f"ModelNew never reaches a kernel ({', '.join(sorted(kernels))})")
    for check_fn in (_imports, _forbidden, _reference, _streams, _patching):
        result = check_fn(tree)
        if result is not None:
            return result
    ops = _torch_compute_calls(model_new, top, reachable - kernels)
    if ops and not lenient:
        return StaticResult(codes.TORCH_OPS, f"forward computes with torch: {', '.join(ops)}",
                            torch_ops=ops)
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


def _is_kernel(fn: ast.FunctionDef) -> bool:
    return any(_dotted(d).split(".")[-1] == "jit" for d in fn.decorator_list)


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _reachable(start: ast.ClassDef, top: dict[str, ast.AST]) -> set[str]:
    """Top-level names that ModelNew's code reaches, directly or through other definitions."""
    seen, todo = set(), list(_names(start))
    while todo:
        name = todo.pop()
        if name in seen or name not in top:
            continue
        seen.add(name)
        todo.extend(_names(top[name]))
    return seen


def _imports(tree: ast.Module) -> StaticResult | None:
    for node in ast.walk(tree):
        mods = []
        if isinstance(node, ast.Import):
            mods = [a.name.split(".")[0] for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            mods = ["."] if node.level else [(node.module or "").split(".")[0]]
        bad = [m for m in mods if m not in ALLOWED_IMPORTS]
        if bad:
            return StaticResult(codes.FORBIDDEN_IMPORT, f"line {node.lineno}: imports {bad[0]}")
    return None


def _forbidden(tree: ast.Module) -> StaticResult | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
            return StaticResult(codes.TRY_EXCEPT, f"line {node.lineno}: try/except can hide a "
                                "fallback path around the kernel")
        if isinstance(node, ast.Call):
            name = _dotted(node.func) if isinstance(node.func, (ast.Name, ast.Attribute)) else ""
            if name in FORBIDDEN_CALLS:
                return StaticResult(codes.FORBIDDEN_CALL, f"line {node.lineno}: calls {name}()")
            if name == "getattr" and not (len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)):
                return StaticResult(codes.FORBIDDEN_CALL,
                                    f"line {node.lineno}: getattr with a name built at run time")
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            return StaticResult(codes.FORBIDDEN_CALL, f"line {node.lineno}: global state")
        if isinstance(node, ast.Attribute) and node.attr.startswith("__") and node.attr not in (
            "__init__", "__class__", "__name__"
        ):
            return StaticResult(codes.FORBIDDEN_CALL, f"line {node.lineno}: touches {node.attr}")
    return None


def _reference(tree: ast.Module) -> StaticResult | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == "Model":
            return StaticResult(codes.USES_REFERENCE, f"line {node.lineno}: uses the reference Model")
    return None


def _streams(tree: ast.Module) -> StaticResult | None:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in STREAM_NAMES:
            return StaticResult(codes.SIDE_STREAM, f"line {node.lineno}: uses {_dotted(node)}")
    return None


def _patching(tree: ast.Module) -> StaticResult | None:
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
            if isinstance(t, (ast.Attribute, ast.Subscript)) and root in PROTECTED_ROOTS:
                return StaticResult(codes.PATCHING, f"line {node.lineno}: assigns to {_dotted(t)}")
    return None


def _torch_compute_calls(model_new: ast.ClassDef, top: dict, helpers: set[str]) -> list[str]:
    """torch.* / F.* calls that compute, in ModelNew.forward and the helpers it reaches."""
    scopes = [n for n in model_new.body if isinstance(n, ast.FunctionDef) and n.name != "__init__"]
    scopes += [top[h] for h in helpers if isinstance(top.get(h), ast.FunctionDef)]
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
