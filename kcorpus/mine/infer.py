"""Guessing constructor arguments and inputs for modules whose file defines none (AST only).

As paritybench does, but per file and per class: each guess is a whole canonical program (the
class's closure renamed `Model`, plus `get_init_inputs` and `get_inputs`); the problems stage
runs them in the sandbox and keeps the first sound one.

Constructor arguments: a parameter with a default is left to its default; a required one is
filled from its annotation (int 16, float 1.0, bool True) or its name (channels, features, dim,
hidden, ... 16; heads 4; kernel_size 3; stride, groups 1; eps 1e-5; dropout 0.0; num_classes
10; ...); a config object annotated with a dataclass of the program whose fields all have
defaults is built with them (`RegNetCfg()`); a module argument (`fn: nn.Module`) is
`nn.Identity()`; two guesses, with widths 16 and 32. Inputs: one float tensor per forward parameter,
shaped by what the program uses (2-d convolutions and pooling: (2, C, 16, 16); 1-d: (2, C, 32);
otherwise (2, 8, C) and (2, C)), C being the first width-like argument. Forward arguments that
are sizes (annotated int, named H/W, a size tuple) get 4 (or (4, 4)), the tensors then being
tokens (2, 16, C). At most
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


class _Src(str):
    """A guessed argument given as source (`nn.Identity()`), not as a value to repr."""

    def __repr__(self) -> str:
        return str(self)


def guesses(body: str, cls: ast.ClassDef) -> list[str]:
    """Candidate programs for `cls`, whose closure's source (the class renamed `Model`) is
    `body`, most plausible first."""
    header = "" if re.search(r"^import torch$", body, re.M) else "import torch\n"
    init_sets = [_init_args(cls, w, body) for w in (16, 32)]
    programs = []
    for args, width in init_sets:
        if args is None:
            continue
        for inputs in _inputs(cls, body, width):
            programs.append(f"{header}{body}\n\ndef get_init_inputs():\n    return [{args}]\n\n\n"
                            f"def get_inputs():\n    return [{inputs}]\n")
    return list(dict.fromkeys(programs))[:MAX_GUESSES]


_SPATIAL = re.compile(r"^(h|w|H|W|height|width|hh|ww)$")
_SIZE = re.compile(r"size|shape|hw|resolution", re.I)


def _inputs(cls: ast.ClassDef, body: str, width: int) -> list[str]:
    """The forward arguments as source: a tensor per required argument, except arguments
    that are sizes (annotated int or float, named H/W, or a (H, W) size tuple): then the
    tensors are tokens (2, H*W, C) and the sizes 4 by 4."""
    params = _forward_params(cls)
    sizes = [_size_value(p) for p in params]
    if any(v is not None for v in sizes):
        return [", ".join(v if v is not None else f"torch.randn(2, 16, {width})"
                          for v in sizes)]
    return [", ".join(f"torch.randn{shape}" for _ in range(max(1, len(params))))
            for shape in _input_shapes(body, width)]


def _size_value(p: ast.arg) -> str | None:
    ann = ast.unparse(p.annotation) if p.annotation is not None else ""
    if _SPATIAL.match(p.arg) or ann == "int":
        return "4"
    if ann == "float":
        return "1.0"
    if ann == "bool":
        return "False"
    if _SIZE.search(p.arg) and ann.startswith(("Tuple", "tuple", "List", "list")):
        return "(4, 4)"
    return None


def _forward_params(cls: ast.ClassDef) -> list[ast.arg]:
    fwd = _method(cls, "forward")
    if fwd is None:
        return []
    params = fwd.args.args[1:]
    return params[: len(params) - len(fwd.args.defaults)]


def _method(cls: ast.ClassDef, name: str) -> ast.FunctionDef | None:
    return next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == name), None)


def _init_args(cls: ast.ClassDef, width: int, body: str = "") -> tuple[str | None, int]:
    """(the positional arguments as source, the width C they imply); None when a required
    argument cannot be guessed."""
    init = _method(cls, "__init__")
    if init is None:
        return "", width
    params = init.args.args[1:]
    required = params[: len(params) - len(init.args.defaults)]
    values, first_width = [], None
    for p in required:
        value = _guess(p, width, body)
        if value is None:
            return None, width
        if first_width is None and isinstance(value, int) and _WIDTH.search(p.arg):
            first_width = value
        values.append(repr(value))
    return ", ".join(values), first_width or width


_MODULE_ARG = re.compile(r"^(module|fn|m|main|base|backbone|model)$")


def _guess(p: ast.arg, width: int, body: str = ""):
    ann = ast.unparse(p.annotation) if p.annotation is not None else ""
    config = _config_class(ann, body)
    if config:  # a config object: the program's own class, built with its defaults
        return _Src(f"{config}()")
    if "nn.Module" in ann or (not ann and _MODULE_ARG.match(p.arg)):
        return _Src("torch.nn.Identity()")
    for pattern, value in _BY_NAME:
        if re.search(pattern, p.arg, re.I) and not _WIDTH.search(p.arg):
            return value
    if _WIDTH.search(p.arg) or ann == "int":
        return width
    return {"float": 1.0, "bool": True, "int": width}.get(ann)


def _config_class(ann: str, body: str) -> str | None:
    """The annotation's class when the program defines it as a dataclass whose fields all
    have defaults (`cfg: RegNetCfg`)."""
    name = re.fullmatch(r"(?:Optional\[)?([A-Z]\w*)\]?", ann)
    if name is None or not body:
        return None
    m = re.search(rf"^@(?:dataclasses\.)?dataclass\b.*\nclass {name.group(1)}\b.*:\n"
                  rf"((?:[ \t]+.*\n|\s*\n)*)", body, re.M)
    if m is None:
        return None
    fields = re.findall(r"^[ \t]{4}(\w+)\s*:\s*([^=\n]+?)(=.*)?$", m.group(1), re.M)
    return name.group(1) if all(default for _, _, default in fields) else None


def _input_shapes(program: str, c: int) -> list[tuple]:
    if _CONV2D.search(program):
        return [(2, c, 16, 16), (2, c, 8, 8)]
    if _CONV1D.search(program):
        return [(2, c, 32), (2, c, 16)]
    return [(2, 8, c), (2, c), (2, c, 16, 16)]
