"""Content ids: sha256 of normalised code, first 16 bytes in hex.

Normalising parses the code and prints it back without comments, docstrings or formatting, so
the same module mined twice, or the same completion generated twice, gets one id.
"""

from __future__ import annotations

import ast
import hashlib

try:  # ast.unparse's own printer (ast._Unparser up to 3.13, _ast_unparse from 3.14)
    from ast import _Unparser as _Printer
except ImportError:  # pragma: no cover - Python 3.14
    try:
        from _ast_unparse import Unparser as _Printer
    except ImportError:
        _Printer = None


if _Printer is not None:
    class _Unparser(_Printer):
        """ast.unparse's printer, its methods unchanged, dispatching on a table by node type
        instead of building each method's name: the same text a quarter faster (the id of
        every mined problem unparses it; tests/test_problem_ids.py compares the two)."""

        _methods: dict[type, object] = {}

        def traverse(self, node):
            if type(node) is list:
                for item in node:
                    self.traverse(item)
                return
            method = self._methods.get(type(node))
            if method is None:
                method = self._methods[type(node)] = getattr(type(self),
                                                             "visit_" + type(node).__name__)
            method(self, node)


def unparse(tree: ast.AST) -> str:
    return _Unparser().visit(tree) if _Printer is not None else ast.unparse(tree)


def content_id(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()[:32]


def normalize_code(code: str, tree: ast.Module | None = None) -> str:
    """Code without comments, docstrings and formatting; the text itself when it does not parse.
    `tree`: the code already parsed (left as it was)."""
    if tree is None:
        try:
            tree = ast.parse(code)
        except (SyntaxError, ValueError):
            return code.strip()
    stripped: list[tuple[ast.AST, list]] = []
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
            stripped.append((node, body))
            node.body = body[1:] or [ast.Pass()]
        for field in ("body", "orelse", "finalbody", "handlers", "cases"):
            block = getattr(node, field, None)
            if isinstance(block, list):
                todo += [n for n in block if isinstance(n, ast.AST)]
    try:
        return unparse(tree)
    finally:
        for node, body in stripped:
            node.body = body


def code_id(code: str, *context: str, tree: ast.Module | None = None) -> str:
    return content_id(*context, normalize_code(code, tree))
