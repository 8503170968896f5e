"""A synthetic corpus of PyTorch programs with planted near-duplicates, for `bench dedup`.

Each base program draws helpers, layers and a forward of 4 to 10 ops from pools with random
constants and sizes. A share of the rows are variants of the row just before their group's
base: variables and helpers renamed, helpers reordered, or one constant changed (one to three
of these). `groups[i]` is the planted group of row i (-1 when it has no copy).
"""

from __future__ import annotations

import re

import numpy as np

OPS = ["x = torch.relu(x)", "x = F.gelu(x) * {c}", "x = torch.tanh(x) + {c}",
       "x = torch.sigmoid(x) * x", "x = torch.softmax(x / {c}, dim=-1)",
       "x = torch.clamp(x, min=-{c}, max={c})",
       "x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + {e})",
       "x = F.layer_norm(x, x.shape[-1:])", "x = x.cumsum(dim=-1) * {c}", "x = torch.exp(-x.abs() * {c})",
       "x = F.silu(x) + self.bias{i}", "x = F.dropout(x, p=0.0)", "x = x.transpose(-1, -2).contiguous()",
       "x = torch.log1p(x.abs() + {e})", "x = x - x.mean(dim=-1, keepdim=True)",
       "x = x / (x.norm(dim=-1, keepdim=True) + {e})", "x = torch.where(x > {c}, x, x * {c})",
       "x = F.leaky_relu(x, {c})", "x = x.flip(-1) + x * {c}", "x = torch.maximum(x, x.roll(1, -1))"]
HELPERS = ["def {h}(t, s={c}):\n    return t * s + torch.{f}(t)\n",
           "def {h}(t):\n    m = t.amax(dim=-1, keepdim=True)\n    return (t - m).{f}() * {c}\n",
           "def {h}(a, b={c}):\n    y = torch.{f}(a) - b\n    return y.clamp(min=0.0)\n",
           "def {h}(t, k={k}):\n    parts = t.chunk(k, dim=-1)\n"
           "    return torch.cat([torch.{f}(p) for p in parts], dim=-1)\n"]
FUNCS = ["tanh", "sigmoid", "relu", "exp", "sin", "cos", "abs", "sqrt", "square", "neg"]
NAMES = ["alpha", "beta", "gamma", "delta", "omega", "kappa", "sigma", "theta", "zeta", "eta"]


def corpus(rows: int, dup_share: float = 0.1, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    docs: list[str] = []
    groups = np.full(rows, -1, dtype=np.int64)
    while len(docs) < rows:
        base = _program(rng)
        docs.append(base)
        if rng.random() < dup_share / 2:  # a group of the base and 1 to 3 variants
            g = len(docs) - 1
            groups[g] = g
            for _ in range(int(rng.integers(1, 4))):
                if len(docs) >= rows:
                    break
                docs.append(_variant(base, rng))
                groups[len(docs) - 1] = g
    return docs[:rows], groups


def _program(rng) -> str:
    helpers = [HELPERS[int(rng.integers(len(HELPERS)))].format(
        h=f"{NAMES[int(rng.integers(len(NAMES)))]}_{int(rng.integers(1000))}", c=_c(rng),
        k=int(rng.integers(2, 5)), f=FUNCS[int(rng.integers(len(FUNCS)))])
        for _ in range(int(rng.integers(1, 4)))]
    d_in, d_out = int(rng.integers(8, 512)), int(rng.integers(8, 512))
    ops = [OPS[int(j)].format(c=_c(rng), e=f"{10.0 ** -int(rng.integers(3, 8)):g}", i=0)
           for j in rng.integers(len(OPS), size=int(rng.integers(4, 11)))]
    calls = [f"x = {h.split('(')[0][4:]}(x)" for h in helpers]
    body = "\n        ".join(ops[:2] + calls + ops[2:] + ["x = self.fc0(x)"])
    return ("import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
            + "\n\n".join(helpers) +
            f"\n\nclass Model(nn.Module):\n    def __init__(self, d_in={d_in}, d_out={d_out}):\n"
            f"        super().__init__()\n        self.fc0 = nn.Linear(d_in, d_out)\n"
            f"        self.bias0 = nn.Parameter(torch.zeros(d_in))\n\n"
            f"    def forward(self, x):\n        {body}\n        return x\n\n\n"
            f"def get_inputs():\n    return [torch.randn({int(rng.integers(1, 64))}, {d_in})]\n\n\n"
            f"def get_init_inputs():\n    return []\n")


def _c(rng) -> str:
    return f"{rng.integers(1, 99) / 10:g}"


def _variant(code: str, rng) -> str:
    edits = rng.permutation(3)[: int(rng.integers(1, 4))]
    for e in edits:
        if e == 0:  # rename the forward's variable and the helpers
            new = NAMES[int(rng.integers(len(NAMES)))] + "_v"
            code = re.sub(r"\bx\b", new, code)
            code = re.sub(r"\b(" + "|".join(NAMES) + r")_(\d+)\b", r"\1_\2_r", code)
        elif e == 1:  # reorder the helper functions
            head, _, rest = code.partition("\n\n\n")
            helpers, _, tail = rest.partition("\n\nclass Model")
            parts = helpers.split("\n\n")
            code = f"{head}\n\n\n" + "\n\n".join(parts[::-1]) + f"\n\nclass Model{tail}"
        else:  # change one constant
            numbers = list(re.finditer(r"\b\d+\.\d+\b", code))
            if numbers:
                m = numbers[int(rng.integers(len(numbers)))]
                code = code[: m.start()] + _c(rng) + code[m.end():]
    return code
