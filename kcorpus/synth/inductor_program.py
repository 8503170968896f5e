"""Turning Inductor's generated module into a candidate program (text and AST only).

The program is: the reference with `Model` renamed `ModelNew` (same constructor, so the same
parameters and state dict), Inductor's module with its benchmark harness removed and its
`call` renamed `inductor_call`, and a forward that passes `inductor_call` what the compiled
graph's placeholders named: `L['self']...` becomes `self...`, `L['x']` the forward argument `x`
(and `L['x'].size()[0]` its batch size, where the batch is dynamic).
"""

from __future__ import annotations

import ast
import re

from kcorpus.mine.extract import first_line, rename

_DROP = {"benchmark_compiled_module", "get_args", "get_inputs", "get_init_inputs"}
# Inductor notes each kernel's file in its cache, a sandbox directory gone once the compile
# ends: a host path in the corpus, and the same kernel different text from child to child
_KERNEL_PATH = re.compile(r"^# kernel path: .*\n", re.M)


class AssemblyError(ValueError):
    pass


def assemble(reference: str, generated: str, args: list[str], outputs: list) -> str:
    params = forward_params(reference)
    signature = forward_signature(reference)
    exprs = [arg_expression(a, params) for a in args]
    ref = rename(_without(reference, _DROP), "Model", "ModelNew")
    gen = rename(_without(_KERNEL_PATH.sub("", generated), _DROP, main_guard=True), "call",
                 "inductor_call")
    if outputs[0] == "tensor":
        ret = "outputs[0]"
    else:
        ret = f"{outputs[0]}(outputs[:{outputs[1]}])"
    forward = (f"def _inductor_forward({signature}):\n"
               f"    outputs = inductor_call([{', '.join(exprs)}])\n"
               f"    return {ret}\n\n\nModelNew.forward = _inductor_forward\n")
    return f"{ref.rstrip()}\n\n\n{gen.rstrip()}\n\n\n{forward}"


def forward_params(reference: str) -> list[str]:
    fwd = _forward(reference)
    return [a.arg for a in fwd.args.posonlyargs + fwd.args.args][1:]


def forward_signature(reference: str) -> str:
    """Model.forward's parameters as written, defaults included (`self, x, mask=None`): a
    forward whose inputs leave out an argument with a default keeps working."""
    return ast.unparse(_forward(reference).args)


def _forward(reference: str) -> ast.FunctionDef:
    tree = ast.parse(reference)
    model = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Model"), None)
    fwd = model and next((n for n in model.body if isinstance(n, ast.FunctionDef)
                          and n.name == "forward"), None)
    if fwd is None:
        raise AssemblyError("the reference has no Model.forward")
    if fwd.args.vararg or fwd.args.kwarg or fwd.args.kwonlyargs:
        raise AssemblyError("Model.forward takes *args, **kwargs or keyword-only arguments")
    return fwd


def arg_expression(source: str, params: list[str]) -> str:
    """`L['self']._modules['fc']._parameters['weight']` -> `self._modules['fc']...`."""
    expr = re.sub(r"L\['([A-Za-z_]\w*)'\]", lambda m: m.group(1), source)
    try:
        tree = ast.parse(expr, mode="eval")
    except SyntaxError:
        raise AssemblyError(f"cannot express argument {source!r}") from None
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    if not names <= {"self", *params}:
        raise AssemblyError(f"argument {source!r} reads {sorted(names - {'self', *params})}")
    return expr


def _without(code: str, names: set[str], main_guard: bool = False) -> str:
    """The code less the top-level definitions in `names` (and the `__main__` block)."""
    tree = ast.parse(code)
    lines = code.splitlines()
    drop = set()
    for node in tree.body:
        named = getattr(node, "name", None) in names
        guard = main_guard and isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)
        if named or guard:
            drop.update(range(first_line(node) - 1, node.end_lineno))
    return "\n".join(line for i, line in enumerate(lines) if i not in drop) + "\n"
