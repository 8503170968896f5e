"""Op categories of a PyTorch program.

Two passes. The static one (`op_types`, at mining time) reads call and attribute names
(`F.softmax`, `nn.Conv2d`, `x.sum`, the `@` operator). The run-time one (`aten_op_types`, after
the problems stage ran the reference in the sandbox) maps the ATen ops its forward actually
dispatched (`addmm`, `convolution`, `_softmax`, `native_layer_norm`, ...), so a module hiding
its ops behind helpers or `nn` layers is labelled by what it computes; it replaces the static
labels where it is known. Categories are ordered by how much they say about a kernel; the first
one found is the row's `op_type`.
"""

from __future__ import annotations

import ast
import functools
import re

CATEGORIES: list[tuple[str, re.Pattern]] = [
    (cat, re.compile(rf"^(?:{pat})$", re.IGNORECASE)) for cat, pat in [
        ("attention", r"scaled_dot_product_attention|multiheadattention|flash_attn\w*"),
        ("conv", r"conv(?:_?transpose)?[123]d|conv|unfold|fold"),
        ("matmul", r"matmul|mm|bmm|linear|addmm|baddbmm|einsum|bilinear|__matmul__"),
        ("norm", r"(?:layer|batch|group|instance|rms)_?norm\d?d?|normalize|rsqrt"),
        ("softmax", r"softmax|log_softmax|softmin"),
        ("pooling", r"(?:adaptive_)?(?:max|avg|lp)_?pool[123]d|(?:adaptive)?(?:max|avg)pool[123]d"),
        ("loss", r"\w*_loss|cross_entropy|\w+loss|kl_div"),
        ("scan", r"cumsum|cumprod|cummax|cummin|logcumsumexp"),
        ("reduction", r"sum|mean|amax|amin|max|min|prod|std|var|logsumexp|argmax|argmin|norm"),
        ("indexing", r"gather|scatter\w*|index_select|embedding|take|index_add|masked_fill"),
        ("elementwise", r"relu|relu6|gelu|silu|mish|sigmoid|tanh|exp|log|sqrt|abs|clamp|pow|"
                        r"add|mul|sub|div|where|leaky_relu|elu|selu|softplus|hardswish|"
                        r"hardtanh|dropout|erf|sin|cos|neg|reciprocal|maximum|minimum"),
    ]
]
_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow)


@functools.lru_cache(maxsize=1 << 16)
def _categories(name: str) -> frozenset[str]:
    """The categories one called name falls in (names recur across files: mining asks often)."""
    return frozenset(cat for cat, pat in CATEGORIES if pat.match(name))


def op_name(node: ast.Call | ast.BinOp) -> str:
    """What a call or an operator counts as: the called name, `__matmul__` for `@`, `add` for
    arithmetic ("" for anything else)."""
    if isinstance(node, ast.Call):
        f = node.func
        return f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
    return ("__matmul__" if isinstance(node.op, ast.MatMult) else
            "add" if isinstance(node.op, _BINOPS) else "")


def op_types(code: str, tree: ast.Module | None = None, names: set[str] | None = None
             ) -> list[str]:
    """Categories of the ops `code` calls, most specific first (`tree`: the code parsed;
    `names`: its op_name()s, already collected, e.g. by the miner's scan of its statements)."""
    if names is None:
        tree = tree or ast.parse(code)
        names = {op_name(n) for n in ast.walk(tree) if isinstance(n, (ast.Call, ast.BinOp))}
    hits = set().union(*(_categories(n) for n in names if n))
    found = [cat for cat, _ in CATEGORIES if cat in hits]
    if "softmax" in found and "matmul" in found and re.search(r"attn|attention", code, re.I):
        found.insert(0, "attention")
    return list(dict.fromkeys(found))


ATEN: list[tuple[str, re.Pattern]] = [
    (cat, re.compile(rf"^_*(?:{pat})$")) for cat, pat in [
        ("attention", r"scaled_dot_product\w*|\w*flash_attention\w*|\w*efficient_attention\w*"),
        ("conv", r"\w*convolution\w*|conv\w*|im2col|col2im"),
        ("matmul", r"mm|addmm|bmm|baddbmm|matmul|linear|addmv|mv|dot|einsum|addbmm"),
        ("norm", r"native_(?:layer|batch|group)_norm\w*|\w*batch_norm\w*|\w*layer_norm|group_norm|"
                 r"rms_norm|\w*instance_norm"),
        ("softmax", r"softmax|log_softmax|softmax_backward_data"),
        ("pooling", r"\w*pool[123]d\w*"),
        ("loss", r"\w*_loss\w*|nll_loss\w*|kl_div|cross_entropy\w*|binary_cross_entropy\w*"),
        ("scan", r"cumsum|cumprod|cummax|cummin|logcumsumexp"),
        ("reduction", r"sum|mean|amax|amin|max|min|prod|std|var|var_mean|std_mean|logsumexp|"
                      r"argmax|argmin|norm|linalg_vector_norm|all|any|count_nonzero|topk|sort"),
        ("indexing", r"gather|scatter\w*|index_select|index|index_put|index_add|embedding\w*|"
                     r"take\w*|masked_fill|masked_select|nonzero|where|roll|flip|cat|stack|pad|"
                     r"constant_pad_nd|repeat\w*"),
        ("elementwise", r"\w+"),  # every other compute op: relu, add, mul, exp, clamp, ...
    ]
]


def aten_op_types(aten_ops: list[str], scalar_output: bool = False) -> list[str]:
    """Categories of the ATen compute ops a forward ran, most specific first. A forward that
    reduces to a scalar through reductions is a loss, however it is written."""
    names = [op.split(".")[0] for op in aten_ops]
    found = [next(cat for cat, pat in ATEN if pat.match(n)) for n in names]
    roots = {"rsqrt"} | ({"sqrt"} if "mean" in names or "var" in names else set())
    if "norm" not in found and "reduction" in found and (
            roots & set(names) or ({"linalg_vector_norm", "norm"} & set(names) and "div" in names)):
        found.append("norm")  # a norm written out: mean of squares and (r)sqrt, or x / ||x||
    if scalar_output and "reduction" in found and "loss" not in found:
        found.append("loss")
    if "matmul" in found and "softmax" in found and "attention" not in found and any(
            n in ("bmm", "matmul", "baddbmm") for n in names):
        found.append("attention")  # batched scores, softmax, batched values: attention
    order = [cat for cat, _ in ATEN]
    found = sorted(set(found), key=order.index)
    return ["loss", *(c for c in found if c != "loss")] if "loss" in found else found


def aten_level(aten_ops: list[str], static_level: str) -> str:
    """single_op (one compute op), model (the static pass saw a model, or 8+ ops) or fusion."""
    if static_level == "model" or len(aten_ops) >= 8:
        return "model"
    return "single_op" if len(aten_ops) <= 1 else "fusion"


def level(categories: list[str], module_classes: int) -> str:
    """single_op, fusion or model."""
    if module_classes >= 3 or len(categories) >= 5:
        return "model"
    if len(categories) <= 1 and module_classes <= 1:
        return "single_op"
    return "fusion"
