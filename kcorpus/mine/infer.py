"""Guessing constructor arguments and inputs for modules whose file defines none (AST only).

As paritybench does, but per file and per class: each guess is a whole canonical program (the
class's closure renamed `Model`, plus `get_init_inputs` and `get_inputs`); the problems stage
runs them in the sandbox and keeps the first sound one.

Constructor arguments: a parameter with a default is left to its default; a required one is
filled from its annotation (int 16, float 1.0, bool True) or its name (channels, features, dim,
hidden, ... 16; heads 4; kernel_size 3; stride, groups 1; eps 1e-5; dropout 0.0; num_classes
10; ...); two guesses, with widths 16 and 32. Inputs: one float tensor per forward parameter,
shaped by what the program uses (2-d convolutions and pooling: (2, C, 16, 16); 1-d: (2, C, 32);
otherwise (2, 8, C) and (2, C)), C being the first width-like argument. At most
`MAX_GUESSES` programs per module.
"""

from __future__ import annotations

import ast
import re


MAX_GUESSES = 8
_WIDTH = re.compile(r"(channel|feature|dim|hidden|d_model|embed|planes|width|size|inp|oup|c_?in|"
                    r"c_?out|nf|ni|nout|n_?in|n_?out)", re.I)
_BY_NAME: list[tuple[str, object]] = [
    (r"head", 4), (r"kernel", 3), (r"stride|dilation|groups", 1), (r"padding|pad", 1),
    (r"eps|epsilon", 1e-5), (r"drop|^p$", 0.0), (r"class", 10), (r"layer|depth|block|num_", 2),
    (r"ratio|reduction|expan|mult|factor", 4), (r"scale|alpha|beta|gamma|temp|momentum", 1.0),
    (r"bias|affine|inplace|residual|use_|enable", True),
]
_CONV2D = re.compile(r"conv2d|batchnorm2d|pool2d|instancenorm2d|upsample|interpolate|pixel", re.I)
_CONV1D = re.compile(r"conv1d|batchnorm1d|pool1d", re.I)


def guesses(body: str, cls: ast.ClassDef) -> list[str]:
    """Candidate programs for `cls`, whose closure's source (the class renamed `Model`) is
    `body`, most plausible first."""
    header = "" if re.search(r"^import torch$", body, re.M) else "import torch\n"
    init_sets = [_init_args(cls, w) for w in (16, 32)]
    programs = []
    for args, width in init_sets:
        if args is None:
            continue
        for shape in _input_shapes(body, width):
            inputs = ", ".join(f"torch.randn{shape}" for _ in range(_forward_arity(cls)))
            programs.append(f"{header}{body}\n\ndef get_init_inputs():\n    return [{args}]\n\n\n"
                            f"def get_inputs():\n    return [{inputs}]\n")
    return list(dict.fromkeys(programs))[:MAX_GUESSES]


def _method(cls: ast.ClassDef, name: str) -> ast.FunctionDef | None:
    return next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == name), None)


def _forward_arity(cls: ast.ClassDef) -> int:
    fwd = _method(cls, "forward")
    if fwd is None:
        return 1
    required = len(fwd.args.args) - 1 - len(fwd.args.defaults)
    return max(1, required)


def _init_args(cls: ast.ClassDef, width: int) -> tuple[str | None, int]:
    """(the positional arguments as source, the width C they imply); None when a required
    argument cannot be guessed."""
    init = _method(cls, "__init__")
    if init is None:
        return "", width
    params = init.args.args[1:]
    required = params[: len(params) - len(init.args.defaults)]
    values, first_width = [], None
    for p in required:
        value = _guess(p, width)
        if value is None:
            return None, width
        if first_width is None and isinstance(value, int) and _WIDTH.search(p.arg):
            first_width = value
        values.append(repr(value))
    return ", ".join(values), first_width or width


def _guess(p: ast.arg, width: int):
    ann = ast.unparse(p.annotation) if p.annotation is not None else ""
    for pattern, value in _BY_NAME:
        if re.search(pattern, p.arg, re.I) and not _WIDTH.search(p.arg):
            return value
    if _WIDTH.search(p.arg) or ann == "int":
        return width
    return {"float": 1.0, "bool": True, "int": width}.get(ann)


def _input_shapes(program: str, c: int) -> list[tuple]:
    if _CONV2D.search(program):
        return [(2, c, 16, 16), (2, c, 8, 8)]
    if _CONV1D.search(program):
        return [(2, c, 32), (2, c, 16)]
    return [(2, 8, c), (2, c), (2, c, 16, 16)]
