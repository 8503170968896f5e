"""Same-repository imports are inlined into the mined problem (AST only), or rejected clearly."""

from __future__ import annotations

import contextlib
import subprocess
import sys

from kcorpus.catalog import Catalog
from kcorpus.config import load_config
from kcorpus.mine.stage import mine
from tests.conftest import make_git_repo, write_pipeline

MIT = ("MIT License\n\nPermission is hereby granted, free of charge, to any person obtaining a "
       "copy of this software")
FILES = {
    "LICENSE": MIT,
    "src/mylib/__init__.py": "",
    "src/mylib/utils.py": "import math\n\n\ndef to_2tuple(x):\n    return (x, x)\n\n\n"
                          "SCALE = math.sqrt(2.0)\n",
    "src/mylib/layers/__init__.py": "from .mlp import Mlp\nfrom .mlp import Mlp as FeedForward\n",
    "src/mylib/layers/mlp.py": (
        "import torch.nn as nn\nfrom ..utils import to_2tuple, SCALE\n\n\n"
        "class Mlp(nn.Module):\n    def __init__(self, dim, hidden):\n        super().__init__()\n"
        "        self.fc1 = nn.Linear(dim, hidden)\n        self.fc2 = nn.Linear(hidden, dim)\n"
        "        self.pair = to_2tuple(dim)\n\n"
        "    def forward(self, x):\n        return self.fc2(self.fc1(x).relu()) * SCALE\n"),
    "models/net.py": (
        "import torch\nimport torch.nn as nn\nfrom mylib.layers import Mlp, FeedForward as FF\n\n\n"
        "class Net(nn.Module):\n    def __init__(self, dim):\n        super().__init__()\n"
        "        self.a = Mlp(dim, 2 * dim)\n        self.b = FF(dim, dim)\n\n"
        "    def forward(self, x):\n        return self.b(self.a(x))\n\n\n"
        "def get_inputs():\n    return [torch.randn(4, 16)]\n\n\n"
        "def get_init_inputs():\n    return [16]\n"),
    "models/whole.py": (
        "import torch\nimport torch.nn as nn\nimport mylib.layers as L\n\n\n"
        "class Whole(nn.Module):\n    def forward(self, x):\n        return L.Mlp(4, 4)(x)\n\n\n"
        "def get_inputs():\n    return [torch.randn(2, 4)]\n"),
}


@contextlib.contextmanager
def _mined(tmp_path):
    """The catalog after mining the git repository at tmp_path/repo."""
    cfg = load_config(write_pipeline(tmp_path / "p.yaml", "name: r\nsources:\n"
                                     f"  - {{kind: git, url: {(tmp_path / 'repo').as_uri()}}}\n"))
    with Catalog(tmp_path / "c.duckdb") as cat:
        mine(cat, cfg, tmp_path / "wd")
        yield cat


def test_imports_from_the_same_repository_are_inlined(tmp_path):
    make_git_repo(tmp_path / "repo", FILES)
    with _mined(tmp_path) as cat:
        [net] = cat.rows("SELECT code FROM problems WHERE origin_path = 'models/net.py'")
        code = net["code"]
        assert "class Mlp(nn.Module)" in code and "def to_2tuple" in code and "SCALE =" in code
        assert "mylib" not in code and "FF = FeedForward" in code and "class Model(" in code
        reasons = {r["path"]: r["reason"] for r in cat.rows("SELECT path, reason FROM rejects")}
        assert reasons["models/whole.py"] == "module_import"
        # the helper module's own class, mined from its file, was inlined too
        [mlp] = cat.rows("SELECT programs FROM guesses WHERE entry_point = 'Mlp'")
        assert "def to_2tuple" in mlp["programs"][0]
    run = ("import sys, torch; ns = {}; exec(sys.stdin.read(), ns); "
           "m = ns['Model'](*ns['get_init_inputs']()); print(tuple(m(*ns['get_inputs']()).shape))")
    out = subprocess.run([sys.executable, "-c", run], input=code, capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == "(4, 16)", out.stderr


CONDITIONAL = '''import torch
import torch.nn as nn

try:
    from torch.nn.functional import gelu as _act
except ImportError:
    def _act(x):
        return x * torch.sigmoid(1.702 * x)

if hasattr(torch, "rsqrt"):
    def _inv(x):
        return torch.rsqrt(x)
else:
    def _inv(x):
        return 1.0 / torch.sqrt(x)


class Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Linear(dim, dim)

    def forward(self, x):
        return _act(self.fc(x)) * _inv(x.pow(2).mean(-1, keepdim=True) + 1e-6)


def get_inputs():
    return [torch.randn(4, 16)]


def get_init_inputs():
    return [16]
'''


def test_names_bound_under_try_or_if_are_carried_with_their_block(tmp_path):
    make_git_repo(tmp_path / "repo", {"LICENSE": MIT, "block.py": CONDITIONAL,
                                      "bad.py": CONDITIONAL.replace(
                                          "from torch.nn.functional import gelu as _act",
                                          "from scipy.special import expit as _act"),
                                      "required.py": CONDITIONAL.replace(
                                          "from torch.nn.functional import gelu as _act",
                                          "from scipy.special import expit as _act").replace(
                                          "    def _act(x):\n", "    raise\n    def _act(x):\n")})
    with _mined(tmp_path) as cat:
        [row] = cat.rows("SELECT code FROM problems WHERE origin_path = 'block.py'")
        # the optional import that works here is taken; the `if` block is carried whole
        assert "from torch.nn.functional import gelu as _act" in row["code"]
        assert "except ImportError:" not in row["code"] and "if hasattr(torch" in row["code"]
        [bad] = cat.rows("SELECT code FROM problems WHERE origin_path = 'bad.py'")
        assert "scipy" not in bad["code"] and "def _act(x):\n    return x * torch" in bad["code"]
        [req] = cat.rows("SELECT reason, detail FROM rejects WHERE path = 'required.py'")
        assert (req["reason"], req["detail"]) == ("import_not_allowed", "imports scipy")


SHAPES = {
    "LICENSE": MIT,
    "pkg/__init__.py": "",
    "pkg/log.py": "import logging\n\n\ndef get_logger(name):\n    return logging.getLogger(name)\n",
    "pkg/functional.py": "import torch\n\n\ndef scaled(x):\n    return x * 2.0\n",
    "pkg/acts.py": (
        "import torch\nimport torch.nn as nn\nfrom .log import get_logger\n\n"
        "logger = get_logger(__name__)\n\n\n"
        "class Swish(nn.Module):\n    def forward(self, x):\n        logger.debug('swish')\n"
        "        return x * torch.sigmoid(x)\n"),
    "pkg/blocks.py": (
        "import torch\nimport torch.nn as nn\nfrom .acts import *\nfrom pkg import functional\n"
        "from .log import get_logger\n\nlogger = get_logger(__name__)\n\n"
        "try:\n    from apex.normalization import fused_rms_norm\n    has_apex = True\n"
        "except ImportError:\n    has_apex = False\n\n\n"
        "class Block(nn.Module):\n    def __init__(self, dim):\n        super().__init__()\n"
        "        self.fc = nn.Linear(dim, dim)\n        self.act = Swish()\n\n"
        "    def forward(self, x):\n        if has_apex:\n            return fused_rms_norm(x)\n"
        "        logger.debug('block')\n        return functional.scaled(self.act(self.fc(x)))\n\n\n"
        "def get_inputs():\n    return [torch.randn(4, 16)]\n\n\n"
        "def get_init_inputs():\n    return [16]\n"),
}


def test_star_imports_optional_imports_submodules_and_loggers_are_resolved(tmp_path):
    """The shapes real repositories use (timm's `from .activations import *`, apex behind
    `try`, fairseq's `from fairseq import utils`, diffusers' `logger = logging.get_logger`)."""
    make_git_repo(tmp_path / "repo", SHAPES)
    with _mined(tmp_path) as cat:
        [row] = cat.rows("SELECT code FROM problems WHERE origin_path = 'pkg/blocks.py'")
    code = row["code"]
    assert "class Swish(nn.Module)" in code  # found through the star import
    assert "import fused_rms_norm" not in code and "fused_rms_norm = None" in code  # fallback
    assert "functional = types.SimpleNamespace(scaled=scaled)" in code
    assert "get_logger" not in code and "from ." not in code
    run = ("import sys, torch; ns = {}; exec(sys.stdin.read(), ns); "
           "m = ns['Model'](*ns['get_init_inputs']()); x = ns['get_inputs']()[0]; "
           "y = m(x); print(tuple(y.shape), bool(torch.allclose("
           "y, 2 * torch.nn.functional.silu(m.fc(x)))))")
    out = subprocess.run([sys.executable, "-c", run], input=code, capture_output=True, text=True,
                         timeout=120)
    assert out.stdout.strip() == "(4, 16) True", out.stderr
