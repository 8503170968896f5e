"""Decontamination against evaluation sets read at run time, through the pipeline's stages."""

from __future__ import annotations

import json

import datasets

from kcorpus.catalog import Catalog
from kcorpus.config import load_config
from kcorpus.stages import STAGES
from tests.conftest import write_pipeline

HEADER = "import torch\nimport torch.nn as nn\n\n"
KB_ITEM = HEADER + '''class Model(nn.Module):
    """
    Simple model that performs a Softmax activation.
    """
    def __init__(self):
        super(Model, self).__init__()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        Applies Softmax activation to the input tensor.
        """
        return torch.softmax(x, dim=1)

batch_size = 16
dim = 16384

def get_inputs():
    x = torch.randn(batch_size, dim)
    return [x]

def get_init_inputs():
    return []  # No special initialization inputs needed
'''
KB_OTHERS = {
    "level1/19_ReLU.py": KB_ITEM.replace("Softmax", "ReLU").replace("torch.softmax(x, dim=1)",
                                                                     "torch.relu(x)"),
    "level1/26_GELU_.py": KB_ITEM.replace("Softmax", "GELU").replace(
        "torch.softmax(x, dim=1)", "torch.nn.functional.gelu(x)"),
    "level2/1_Conv2D_ReLU_BiasAdd.py": HEADER + (
        "class Model(nn.Module):\n    def __init__(self, c):\n        super().__init__()\n"
        "        self.conv = nn.Conv2d(c, c, 3)\n        self.bias = nn.Parameter(torch.randn(c, 1, 1))\n\n"
        "    def forward(self, x):\n        return torch.relu(self.conv(x)) + self.bias\n\n"
        "def get_inputs():\n    return [torch.randn(8, 3, 32, 32)]\n\n"
        "def get_init_inputs():\n    return [3]\n"),
}
# a planted copy of 23_Softmax: class and variables renamed, reformatted, docstrings dropped
PLANTED = HEADER + '''

class SoftmaxNet(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, inp):
        return torch.softmax(inp, dim=1)


batch_size = 16
dim = 16384


def get_inputs():
    inp = torch.randn(batch_size, dim)
    return [inp]


def get_init_inputs():
    return []
'''
# the same op type, a different problem
UNRELATED = HEADER + '''

class TemperatureLogSoftmax(nn.Module):
    def __init__(self, temperature=2.0):
        super().__init__()
        self.temperature = temperature

    def forward(self, logits):
        scaled = logits / self.temperature
        return torch.log_softmax(scaled, dim=-1) + 0.5 * torch.softmax(scaled, dim=0)


def get_inputs():
    return [torch.randn(64, 1000)]


def get_init_inputs():
    return [1.5]
'''
TRITONBENCH = [{"file": "layer_norm_fwd.py", "torch_code": HEADER + (
    "class Model(nn.Module):\n    def __init__(self, d):\n        super().__init__()\n"
    "        self.norm = nn.LayerNorm(d)\n\n    def forward(self, x):\n        return self.norm(x)\n"
    "\n\ndef get_inputs():\n    return [torch.randn(32, 4096)]\n\n\n"
    "def get_init_inputs():\n    return [4096]\n")}]


def test_a_planted_copy_is_caught_and_an_unrelated_problem_of_the_same_op_is_not(tmp_path):
    kb = tmp_path / "KernelBench"
    for rel, code in {"level1/23_Softmax.py": KB_ITEM, **KB_OTHERS}.items():
        (kb / rel).parent.mkdir(parents=True, exist_ok=True)
        (kb / rel).write_text(code)
    (tmp_path / "tb").mkdir()
    (tmp_path / "tb" / "tritonbench_g.json").write_text(json.dumps(TRITONBENCH))
    (tmp_path / "repo").mkdir()
    (tmp_path / "repo" / "softmax_copy.py").write_text(PLANTED)
    (tmp_path / "repo" / "temperature.py").write_text(UNRELATED)
    cfg = load_config(write_pipeline(tmp_path / "p.yaml", (
        "name: dc\nsources:\n  - {kind: local, path: repo, license: MIT}\n"
        "dedup:\n  decontaminate:\n    sets:\n      - {name: kernelbench, path: KernelBench}\n"
        "      - {name: tritonbench, path: tb}\n")))
    with Catalog(tmp_path / "c.duckdb") as cat:
        for stage in ("mine", "problems", "dedup", "publish"):
            STAGES[stage].run(cat, cfg, tmp_path / "wd")
        hits = cat.rows("SELECT p.origin_path, c.benchmark, c.benchmark_item, c.method, c.score "
                        "FROM contamination c JOIN problems p ON p.problem_id = c.item_id")
        [release] = cat.rows("SELECT location FROM releases")
    assert {h["origin_path"] for h in hits} == {"softmax_copy.py"}
    assert {(h["benchmark"], h["benchmark_item"]) for h in hits} == {
        ("kernelbench", "level1/23_Softmax.py")}
    assert {h["method"] for h in hits} >= {"ngram13"}
    problems = datasets.load_dataset(release["location"], "problems", split="train")
    assert [r["origin_path"] for r in problems] == ["temperature.py"]
    card = (tmp_path / release["location"] / "README.md").read_text()
    assert "| kernelbench | ngram13 | 1 |" in card and "| kernelbench | minhash | 1 |" in card


def test_eval_sets_from_a_hub_style_dataset_and_clear_errors(tmp_path):
    """A Hub dataset id goes through `datasets.load_dataset`; here a local directory laid out as
    a Hub dataset repo stands in for it (the Hub cannot be reached from the test machine)."""
    import pytest

    from kcorpus.config import ConfigError
    from kcorpus.dedup.decontam import load_eval_set

    (tmp_path / "hub" / "data").mkdir(parents=True)
    (tmp_path / "hub" / "data" / "train.jsonl").write_text(
        json.dumps({"name": "23_Softmax", "code": KB_ITEM}) + "\n")
    cfg = load_config(write_pipeline(tmp_path / "p.yaml", (
        "name: dc\nsources:\n  - {kind: local, path: .}\ndedup:\n  decontaminate:\n    sets:\n"
        f"      - {{name: kb, hub: {tmp_path / 'hub'}}}\n")))
    [item] = load_eval_set(cfg.dedup.decontaminate.sets[0])
    assert item.benchmark == "kb" and item.name.endswith("#23_Softmax") and "softmax" in item.code
    bad = write_pipeline(tmp_path / "bad.yaml", (
        "name: dc\nsources:\n  - {kind: local, path: .}\ndedup:\n  decontaminate:\n    sets:\n"
        "      - {name: kb, path: nowhere}\n"))
    with pytest.raises(ConfigError, match=r"dedup.decontaminate.sets\[0\].path: .*nowhere"):
        load_config(bad)
