"""A mined problem's id is the id of its code, however the program was put together.

The miner builds the id from the file's own parsed statements instead of parsing the program
again (canonical.problem_row); these files make every case where a statement's text is not its
own lines alone: a renamed entry module, inlined same-repository imports, statements sharing a
line (one of them after a string's last line, whose lines do not parse alone), an optional
import's chosen branch, a logger, a stand-in for a package that is not allowed, docstrings at
every level, and a program without get_init_inputs.
"""

from __future__ import annotations

import ast

from kcorpus.ids import code_id, normalize_code
from kcorpus.mine.per_file import mine_tree

HEAD = "import torch\nimport torch.nn as nn\n"
INPUTS = "\n\ndef get_inputs():\n    return [torch.randn(2, 4)]\n"
MODULE = ("\n\nclass {name}(nn.Module):\n    '''doc'''\n    def forward(self, x):\n"
          "        '''doc'''\n        return {body}\n")
FILES = {
    "pkg/__init__.py": "",
    "pkg/helpers.py": "'''module doc'''\nimport torch\n\n\ndef scale(x):\n    return x * 2\n",
    "renamed.py": HEAD + MODULE.format(name="Net", body="x + 1") + INPUTS
                  + "\n\ndef get_init_inputs():\n    return []\n",
    "inlined.py": HEAD + "from pkg.helpers import scale\n"
                  + MODULE.format(name="Model", body="scale(x)") + INPUTS,
    "shared_line.py": "import torch; import torch.nn as nn\nK = 3; J = 4\n"
                      + MODULE.format(name="Model", body="x * K + J") + INPUTS,
    "after_string.py": "import torch\nimport torch.nn as nn\nS = \"\"\"a\nb\"\"\"; J = 2\n"
                       + MODULE.format(name="Model", body="x * J") + INPUTS,
    "optional.py": HEAD + "try:\n    import einops\nexcept ImportError:\n    einops = None\n"
                   + "try: import math\nexcept ImportError: math = None\n"
                   + MODULE.format(name="Model", body="x * math.pi if einops is None else x")
                   + INPUTS,
    "logger.py": HEAD + "import logging\nlogger = logging.getLogger(__name__)\n"
                 + MODULE.format(name="Model", body="x.relu() if logger else x") + INPUTS,
    "standin.py": HEAD + "from timm.layers import DropPath\n"
                  + "LAYERS = {'drop': DropPath}\n"
                  + MODULE.format(name="Model", body="x if LAYERS else x") + INPUTS,
}


def _mined(tmp_path) -> dict[str, dict]:
    for rel, text in FILES.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    allowed = {"torch", "math", "logging", "einops"}
    return {r.path: p for r in mine_tree(tmp_path, "s", 1 << 20, allowed, 1) for p in r.problems}


def test_every_problem_id_is_the_id_of_its_code(tmp_path):
    problems = _mined(tmp_path)
    assert set(problems) == {p for p in FILES if not p.startswith("pkg/")}
    for path, row in problems.items():
        assert row["problem_id"] == code_id(row["code"]), path
    assert "class Model(" in problems["renamed.py"]["code"]
    assert "def scale(" in problems["inlined.py"]["code"]
    assert "raise ImportError" in problems["standin.py"]["code"]


def test_normalising_a_given_tree_leaves_it_as_it_was(tmp_path):
    tree = ast.parse(FILES["renamed.py"])
    before = ast.dump(tree)
    text = normalize_code(FILES["renamed.py"], tree)
    assert "doc" not in text and ast.dump(tree) == before


def test_the_ids_printer_writes_what_ast_unparse_writes():
    """Over this package's own files and the statements Python's grammar allows (match,
    async, f-strings, star-expressions, decorators, walrus, lambdas, global)."""
    from pathlib import Path

    from kcorpus.ids import unparse

    extra = ("async def f(*a, b=1, **k):\n    async with x as y:\n        await z\n"
             "    async for i in y:\n        yield i\n"
             "match p:\n    case [1, *rest] if rest:\n        pass\n    case {'k': v, **kw}:\n"
             "        pass\n    case Point(x=0) | None:\n        pass\n"
             "x = f'{a!r:>{w}}' + (b := 2) if c else lambda q, /, r: q[1:2, ...]\n"
             "@d.e(1)\nclass C(B, metaclass=M):\n    global g\n    del a[0], b.c\n"
             "try:\n    raise E from e\nexcept* (A, B) as err:\n    pass\n")
    root = Path(__file__).parents[1]
    sources = [extra] + [p.read_text() for d in ("kcorpus", "tests", "flows")
                         for p in sorted((root / d).rglob("*.py"))]
    for src in sources:
        tree = ast.parse(src)
        assert unparse(tree) == ast.unparse(tree)
