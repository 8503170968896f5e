"""The program inside a completion: fenced blocks, or the whole text when it is code."""

from __future__ import annotations

import ast
import re

_FENCE = re.compile(r"```[ \t]*(?:python|py|python3)?[ \t]*\n(.*?)(?:```|\Z)", re.S | re.I)


def extract_program(text: str) -> str:
    """The code block that defines ModelNew (else the last parsable block); '' when none."""
    blocks = [b.strip("\n") for b in _FENCE.findall(text)]
    if not blocks and _parses(text) and re.search(r"^\s*(class|def|import|from)\s", text, re.M):
        blocks = [text.strip("\n")]
    with_model = [b for b in blocks if re.search(r"class\s+ModelNew\b", b)]
    if with_model:
        return with_model[-1] + "\n"
    parsable = [b for b in blocks if _parses(b)]
    return parsable[-1] + "\n" if parsable else (blocks[-1] + "\n" if blocks else "")


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError):
        return False
    return True
