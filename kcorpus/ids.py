"""Content ids: sha256 of normalised code, first 16 bytes in hex.

Normalising parses the code and prints it back without comments, docstrings or formatting, so
the same module mined twice, or the same completion generated twice, gets one id.
"""

from __future__ import annotations

import ast
import hashlib


def content_id(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()[:32]


def normalize_code(code: str, tree: ast.Module | None = None) -> str:
    """Code without comments, docstrings and formatting; the text itself when it does not parse.
    `tree`: the code already parsed (it is changed: its docstrings are dropped)."""
    if tree is None:
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            return code.strip()
    todo: list[ast.AST] = [tree]
    while todo:  # statements only: a docstring is never inside an expression
        node = todo.pop()
        body = getattr(node, "body", None)
        if (
            isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            node.body = body[1:] or [ast.Pass()]
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            block = getattr(node, field, None)
            if isinstance(block, list):
                todo += [n for n in block if isinstance(n, ast.AST)]
    return ast.unparse(tree)


def code_id(code: str, *context: str, tree: ast.Module | None = None) -> str:
    return content_id(*context, normalize_code(code, tree))
