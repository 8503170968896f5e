"""`kcorpus bench mine`: extraction rate beside `ast.parse`, yields, and runnability trials."""

from __future__ import annotations

import json

from tests.conftest import run_cli

TREE = {
    "layers/norm.py": (
        "import torch\nimport torch.nn as nn\n\n\n"
        "class RMSNorm(nn.Module):\n    def __init__(self, dim, eps=1e-6):\n        super().__init__()\n"
        "        self.eps = eps\n        self.weight = nn.Parameter(torch.ones(dim))\n\n"
        "    def forward(self, x):\n"
        "        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight\n"),
    "layers/act.py": (
        "import torch\nimport torch.nn as nn\n\n\n"
        "class Swish(nn.Module):\n    def forward(self, x):\n        return x * torch.sigmoid(x)\n\n\n"
        "class Broken(nn.Module):\n    def forward(self, x):\n        return x.no_such_method()\n"),
    "kernels/add.py": (
        "import triton\nimport triton.language as tl\n\n\n@triton.jit\n"
        "def add_kernel(x, y, out, n, BLOCK: tl.constexpr):\n"
        "    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)\n"
        "    tl.store(out + i, tl.load(x + i, mask=i < n) + tl.load(y + i, mask=i < n), mask=i < n)\n"),
    "notes.py": "print('no modules here')\n",
}


def test_bench_mine_reports_rates_yields_and_runnable_modules_by_kind(tmp_path):
    for rel, text in TREE.items():
        (tmp_path / "tree" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "tree" / rel).write_text(text)
    out = run_cli("bench", "mine", str(tmp_path / "tree"), "--workers", "1", "--trials").stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["files"] == result["ast_parse_files"] == 4
    assert result["extract_files_per_s"] > 0 and result["ast_parse_files_per_s"] > 0
    assert (result["modules"], result["guessed"], result["kernels"]) == (3, 3, 1)
    assert result["runnable"] == 2  # the norm and the activation; Broken fails in the sandbox
    kinds = result["by_kind"]
    assert (kinds["norm"]["runnable"], kinds["activation"]["runnable"]) == (1, 1)
    assert kinds["other"]["top_rejects"] == {"not_runnable": 1}
    assert 0 < result["peak_rss_mb"] < 2048
    assert "kind" in out and "top rejects" in out  # the table before the JSON line


def test_bench_mine_names_a_missing_directory(tmp_path):
    proc = run_cli("bench", "mine", str(tmp_path / "nowhere"), check=False)
    assert proc.returncode == 2 and "nowhere" in proc.stderr
