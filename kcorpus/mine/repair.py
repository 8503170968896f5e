"""Guessed inputs repaired from what the module said when it refused them.

A module whose inputs were guessed (infer.py) often fails its probe with an error that names
the input it wanted. `repaired(program, error)` rewrites the program's `get_inputs()` (or, for
sizes, `get_init_inputs()`) to match, for these messages of PyTorch's, and gives None for any
other:

- a convolution's channels: `expected input[2, 16, 16, 16] to have 3 channels, but got 16`
  (dimension 1 of the tensor of that shape, else of one of that rank with 16 channels, becomes 3);
- a patch embedding's size (timm): `Input height (16) doesn't match model (224)` (a 4-d tensor
  of that height gets 224, and its width too when it was square);
- a linear layer's features: `mat1 and mat2 shapes cannot be multiplied (32x16 and 8x64)`
  (the last dimension of the input, 16 here, becomes 8);
- a norm's shape: `expected input with shape [*, 64], but got input of size[2, 8, 16]`
  (the input's trailing dimensions become 64);
- a kernel larger than what reached it: `Calculated padded input size per channel: (3 x 3).
  Kernel size: (7 x 7)` (the spatial dimensions of the input of that rank grow by the power
  of two that makes 3 at least 7: the layers before it shrank the input in proportion);
- an int where a sequence was wanted: `'int' object is not subscriptable`, `object of type 'int'
  has no len()` (each int get_init_inputs() gives a size-like parameter of the model,
  `img_size`, `window_size`, `grid_size`..., becomes a pair: `16` becomes `(16, 16)`);
- an unpacking of `x.shape`: `not enough values to unpack (expected 3, got 4)`, `too many values
  to unpack (expected 3)` (the one tensor input gets that many dimensions: its first ones, then
  its last; or 8s inserted before its last).

The problems stage probes the repaired programs of the guesses that failed in a further round
(at most `ROUNDS`, as a repair can reveal the next mismatch); a repaired program is only ever a
new guess, checked like the first ones. Only the source text is rewritten here: nothing runs.
"""

from __future__ import annotations

import ast
import re

ROUNDS = 2

_CHANNELS = re.compile(r"expected input\[([\d, ]+)\] to have (\d+) channels, but got (\d+)")
_HEIGHT = re.compile(r"Input height \((\d+)\) doesn't match model \((\d+)\)")
_MATMUL = re.compile(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)")
_NORM = re.compile(r"expected input with shape \[\*, ([\d, ]+)\], but got input of size\s*\[([\d, ]+)\]")
_UNPACK = re.compile(r"(?:not enough|too many) values to unpack \(expected (\d+)")
# an int where the module wanted a sequence (a size it indexes, measures or unpacks)
_SEQUENCE = re.compile(r"'int' object is not (?:subscriptable|iterable)|object of type 'int' has "
                       r"no len\(\)|cannot unpack non-iterable int object")
_SIZE_PARAM = re.compile(r"size|shape|resolution|grid|window|patch", re.I)
_KERNEL = re.compile(r"Calculated padded input size per channel: \(([\d x]+)\)\. "
                     r"Kernel size: \(([\d x]+)\)")


def repaired(program: str, error: str) -> str | None:
    """`program` with the input shapes `error` asks for, or None (no rule, or nothing changed)."""
    try:
        tree = ast.parse(program)
    except SyntaxError:
        return None
    fn = _function(tree, "get_inputs")
    tensors = _tensor_calls(fn) if fn is not None else []
    if tensors and _apply(tensors, error):
        return _replaced(program, fn)
    init = _function(tree, "get_init_inputs")
    if init is not None and _SEQUENCE.search(error) and _sizes_as_pairs(tree, init):
        return _replaced(program, init)
    return None


def _function(tree: ast.Module, name: str) -> ast.FunctionDef | None:
    return next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)


def _replaced(program: str, fn: ast.FunctionDef) -> str:
    """The program with the top-level function `fn` (changed in place) printed anew."""
    lines = program.splitlines(keepends=True)
    return "".join(lines[: fn.lineno - 1]) + ast.unparse(fn) + "\n" + "".join(lines[fn.end_lineno:])


def _sizes_as_pairs(tree: ast.Module, init: ast.FunctionDef) -> bool:
    """Each int that get_init_inputs() passes to a size-like parameter of Model.__init__
    (`img_size`, `window_size`, `grid`...) becomes a pair, in place; whether any did."""
    model = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Model"), None)
    ctor = model and next((n for n in model.body if isinstance(n, ast.FunctionDef)
                           and n.name == "__init__"), None)
    ret = next((n for n in ast.walk(init) if isinstance(n, ast.Return)), None)
    if ctor is None or ret is None or not isinstance(ret.value, (ast.List, ast.Tuple)):
        return False
    names = [a.arg for a in ctor.args.args[1:]]
    changed = False
    for i, value in enumerate(ret.value.elts):
        if (i < len(names) and _SIZE_PARAM.search(names[i]) and isinstance(value, ast.Constant)
                and type(value.value) is int):
            ret.value.elts[i] = ast.Tuple([ast.Constant(value.value)] * 2, ast.Load())
            changed = True
    return changed


def _apply(tensors: list[ast.Call], error: str) -> bool:
    """Change the shape arguments of `tensors` in place as `error` asks; whether it did."""
    shapes = [_shape(c) for c in tensors]
    if m := _CHANNELS.search(error):
        seen, channels, got = _ints(m.group(1)), int(m.group(2)), int(m.group(3))
        # the tensor the convolution saw, else (a stem changed its size first) one of its rank
        # with those channels
        hits = [i for i, s in enumerate(shapes) if s == seen] or [
            i for i, s in enumerate(shapes) if len(s) == len(seen) and s[1] == got]
        return bool(hits) and _set(tensors[hits[0]], {1: channels})
    if m := _HEIGHT.search(error):
        height, model = int(m.group(1)), int(m.group(2))
        hits = [i for i, s in enumerate(shapes) if len(s) == 4 and s[2] == height]
        if not hits:
            return False
        square = shapes[hits[0]][3] == height  # a square input stays square
        return _set(tensors[hits[0]], {2: model, 3: model} if square else {2: model})
    if m := _MATMUL.search(error):
        rows, features, need = int(m.group(1)), int(m.group(2)), int(m.group(3))
        hits = [i for i, s in enumerate(shapes) if s and s[-1] == features and _numel(s) % rows == 0]
        return bool(hits) and _set(tensors[hits[0]], {len(shapes[hits[0]]) - 1: need})
    if m := _NORM.search(error):
        normalized, got = _ints(m.group(1)), _ints(m.group(2))
        hits = [i for i, s in enumerate(shapes) if s == got and len(s) > len(normalized)]
        if not hits:
            return False
        start = len(got) - len(normalized)
        return _set(tensors[hits[0]], {start + k: v for k, v in enumerate(normalized)})
    if m := _KERNEL.search(error):
        padded, kernel = _ints(m.group(1).replace("x", ",")), _ints(m.group(2).replace("x", ","))
        scale = 1
        while any(p * scale < k for p, k in zip(padded, kernel)):
            scale *= 2
        # the spatial input the layer saw was downsampled first: grow the input as many times
        hits = [i for i, s in enumerate(shapes) if s and len(s) == len(padded) + 2]
        return bool(hits) and _set(tensors[hits[0]], {
            d: v * scale for d, v in enumerate(shapes[hits[0]]) if d >= 2})
    if (m := _UNPACK.search(error)) and len(tensors) == 1:
        rank, shape = int(m.group(1)), shapes[0]
        if not shape or rank == len(shape) or rank < 1:
            return False
        new = (shape[: rank - 1] + shape[-1:] if rank < len(shape)
               else shape[:-1] + [8] * (rank - len(shape)) + shape[-1:])
        tensors[0].args = [ast.Constant(v) for v in new]
        return True
    return False


def _tensor_calls(fn: ast.FunctionDef) -> list[ast.Call]:
    """The `torch.randn(2, 16, ...)`-style calls of get_inputs' returned list, in order."""
    ret = next((n for n in ast.walk(fn) if isinstance(n, ast.Return)), None)
    if ret is None or not isinstance(ret.value, (ast.List, ast.Tuple)):
        return []
    return [e for e in ret.value.elts if isinstance(e, ast.Call) and _shape(e) is not None]


def _shape(call: ast.Call) -> list[int] | None:
    args = call.args
    if len(args) == 1 and isinstance(args[0], (ast.Tuple, ast.List)):
        args = args[0].elts
    if args and all(isinstance(a, ast.Constant) and type(a.value) is int for a in args):
        return [a.value for a in args]
    return None


def _set(call: ast.Call, dims: dict[int, int]) -> bool:
    shape = _shape(call)
    new = [dims.get(i, v) for i, v in enumerate(shape)]
    if new == shape or any(v < 1 for v in new):
        return False
    call.args = [ast.Constant(v) for v in new]
    return True


def _ints(text: str) -> list[int]:
    return [int(t) for t in text.replace(" ", "").split(",") if t]


def _numel(shape: list[int]) -> int:
    n = 1
    for v in shape:
        n *= v
    return n
