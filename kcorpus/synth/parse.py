"""The program inside a completion: fenced blocks, or the whole text when it is code."""

from __future__ import annotations

import ast
import re

# every fenced block, with its language; a block in another language (```bash) is matched whole, so
# its closing fence is never taken for the opening of the next block
_FENCE = re.compile(r"```[ \t]*([\w.+-]*)[^\n]*\n(.*?)(?:```|\Z)", re.S)
_PYTHON = {"", "python", "py", "python3"}


def extract_program(text: str) -> str:
    """The code block that defines ModelNew (else the last parsable block); '' when none."""
    blocks = [b.strip("\n") for lang, b in _FENCE.findall(text) if lang.lower() in _PYTHON]
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
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True
