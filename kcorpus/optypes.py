"""Op categories of a PyTorch program, read statically from the names its code calls.

This is the static first pass: it reads call and attribute names (`F.softmax`, `nn.Conv2d`,
`x.sum`, the `@` operator) and maps them to categories. Categories are ordered by how much they
say about a kernel; the first one found is the row's `op_type`.
"""

from __future__ import annotations

import ast
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


def op_types(code: str) -> list[str]:
    """Categories of the ops `code` calls, most specific first."""
    tree = ast.parse(code)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            names.add(f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", ""))
        elif isinstance(node, ast.BinOp):
            names.add("__matmul__" if isinstance(node.op, ast.MatMult) else
                      "add" if isinstance(node.op, _BINOPS) else "")
    found = [cat for cat, pat in CATEGORIES if any(pat.match(n) for n in names if n)]
    if "softmax" in found and "matmul" in found and re.search(r"attn|attention", code, re.I):
        found.insert(0, "attention")
    return list(dict.fromkeys(found))


def level(categories: list[str], module_classes: int) -> str:
    """single_op, fusion or model."""
    if module_classes >= 3 or len(categories) >= 5:
        return "model"
    if len(categories) <= 1 and module_classes <= 1:
        return "single_op"
    return "fusion"
