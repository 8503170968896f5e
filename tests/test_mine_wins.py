"""Modules the miner used to reject and now makes into programs, each run for real.

A real git repository with the losses measured on pytorch-image-models: a helper two inlined
modules define differently, a config dataclass and a module argument in constructors, size
arguments in forward, a third-party import used only in a table of layers, and a name read only
inside a function body. The programs run in a fresh interpreter, never in this process.
"""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import make_git_repo
from tests.test_mine import MIT, config, file_url, run_mine

A = '''import torch.nn as nn


def helper(x):
    return x + 1


class AddOne(nn.Module):
    def forward(self, x):
        return helper(x)
'''

B = A.replace("x + 1", "x * 2").replace("AddOne", "Double")

NET = '''import torch.nn as nn
from dataclasses import dataclass

from .a import AddOne
from .b import Double
from torchvision.ops.misc import FrozenBatchNorm2d

LAYERS = dict(frozen=FrozenBatchNorm2d, identity=nn.Identity)


@dataclass
class NetCfg:
    depth: int = 2
    scale: float = 1.0


class Both(nn.Module):
    def __init__(self, cfg: NetCfg, inner: nn.Module):
        super().__init__()
        self.cfg, self.inner = cfg, inner
        self.plus, self.times = AddOne(), Double()
        self.norm = LAYERS["identity"]()

    def forward(self, x):
        return self.norm(self.times(self.plus(self.inner(x)))) * self.cfg.scale


class Tokens(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.proj = nn.Linear(dim, dim)

    def forward(self, x, H: int, W: int):
        B, N, C = x.shape
        assert N == H * W
        if self.training and False:
            x = checkpoint(self.proj, x)
        return self.proj(x).transpose(1, 2).reshape(B, C, H, W)
'''

# exec each program, run Model(*get_init_inputs()) on get_inputs(); the output and the inputs
RUNNER = r"""
import json, sys
import torch
for code in json.load(sys.stdin):
    ns = {"__name__": "kcorpus_problem"}
    exec(compile(code, "<problem>", "exec"), ns)
    inputs = ns["get_inputs"]()
    out = ns["Model"](*ns["get_init_inputs"]())(*inputs)
    x = inputs[0]
    print(json.dumps({"shape": list(out.shape), "add_then_double":
                      out.shape == x.shape and bool(torch.allclose(out, (x + 1) * 2))}))
"""


def test_former_rejects_become_programs_that_run(tmp_path, catalog):
    repo = tmp_path / "models"
    make_git_repo(repo, {"LICENSE": MIT, "pkg/__init__.py": "", "pkg/a.py": A, "pkg/b.py": B,
                         "pkg/net.py": NET})
    cfg = config(tmp_path, [{"kind": "git", "url": file_url(repo)}])

    run_mine(catalog, cfg, tmp_path)

    guesses = {g["entry_point"]: g["programs"] for g in catalog.rows(
        "SELECT entry_point, programs FROM guesses WHERE origin_path = 'pkg/net.py'")}
    assert set(guesses) == {"Both", "Tokens"}, catalog.rows("SELECT * FROM rejects")
    both, tokens = guesses["Both"][0], guesses["Tokens"][0]
    # the second helper is renamed where its module uses it, not a name_conflict
    assert "def helper_b(x):" in both and "return helper_b(x)" in both
    assert "class FrozenBatchNorm2d:  # stand-in" in both and "from torchvision" not in both
    assert "return [NetCfg(), torch.nn.Identity()]" in both
    assert "return [torch.randn(2, 16, 16), 4, 4]" in tokens
    proc = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps([both, tokens]),
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ran = [json.loads(line) for line in proc.stdout.splitlines()]
    assert ran[0]["add_then_double"] is True  # each module kept its own helper
    assert ran[1]["shape"] == [2, 16, 4, 4]
    assert catalog.rows("SELECT path, reason FROM rejects WHERE path LIKE 'pkg/%.py' "
                        "AND path <> 'pkg/__init__.py'") == []
