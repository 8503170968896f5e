"""Walk a checkout's Python files; every file that cannot be mined yields a reason, not an error."""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass
from pathlib import Path

SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", "node_modules", ".tox", ".venv", "venv"}


@dataclass
class ParsedFile:
    path: str  # relative to the checkout root, '/'-separated
    source: str | None = None
    tree: ast.Module | None = None
    reason: str = ""  # set when the file was skipped
    detail: str = ""


def list_python_files(root: Path) -> list[Path]:
    """Every *.py path under `root` (links included, not followed into), in a stable order."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        out += [Path(dirpath) / n for n in sorted(filenames) if n.endswith(".py")]
    return out


def read_python_file(root: Path, p: Path, max_bytes: int) -> ParsedFile:
    rel = p.relative_to(root).as_posix()
    if p.is_symlink():
        target = p.resolve()
        if not target.is_relative_to(root):
            return ParsedFile(rel, reason="symlink_outside", detail=f"links to {target}")
        if not target.is_file():
            return ParsedFile(rel, reason="not_a_file", detail=f"links to {target}")
    size = p.stat().st_size
    if size > max_bytes:
        return ParsedFile(rel, reason="too_large", detail=f"{size} bytes > {max_bytes}")
    data = p.read_bytes()
    if b"\x00" in data:
        return ParsedFile(rel, reason="binary", detail="contains NUL bytes")
    try:
        source = data.decode("utf-8")
    except UnicodeDecodeError as e:
        return ParsedFile(rel, reason="not_utf8", detail=str(e))
    try:
        tree = ast.parse(source, filename=rel)
    except SyntaxError as e:
        return ParsedFile(rel, reason="syntax_error",
                          detail=f"line {e.lineno}: {e.msg} (Python 2 or broken code)")
    except (RecursionError, MemoryError):
        return ParsedFile(rel, reason="too_deep", detail="nesting too deep to parse")
    except ValueError as e:
        return ParsedFile(rel, reason="unparsable", detail=str(e))
    return ParsedFile(rel, source, tree)
