"""A small problem and candidates for it: honest, wrong, crashing, hanging, cheating."""

PROBLEM = '''
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return torch.relu(x * self.weight)


def get_inputs():
    return [torch.randn(6, 100)]


def get_init_inputs():
    return [100]
'''

HEADER = '''
import torch
import torch.nn as nn
import triton
import triton.language as tl
'''

KERNEL = '''
@triton.jit
def scale_relu(x_ptr, w_ptr, o_ptr, n, N: tl.constexpr, BLOCK: tl.constexpr):
    """Scale by the weight and clamp at zero; masked, so any size passes."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    w = tl.load(w_ptr + offs % N, mask=m)
    tl.store(o_ptr + offs, tl.maximum(x * w, 0.0), mask=m)
'''

MODEL_NEW = '''
class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        n = x.numel()
        scale_relu[(triton.cdiv(n, 128),)](x, self.weight, out, n, self.weight.numel(), BLOCK=128)
        return out
'''

HONEST = HEADER + KERNEL + MODEL_NEW


def variant(old: str, new: str, base: str = HONEST) -> str:
    assert old in base, old
    return base.replace(old, new)


WRONG = variant("tl.maximum(x * w, 0.0)", "tl.maximum(x, 0.0)")
SEGFAULT = variant("w = tl.load(w_ptr + offs % N, mask=m)", "w = tl.load(w_ptr + offs * 2000000)")
HANG = variant("        n = x.numel()\n",
               "        n = x.numel()\n        while n > 0:\n            n = n + 1\n")
HUGE_ALLOC = variant("out = torch.empty_like(x)", "out = torch.empty(1 << 40)")
TORCH_OPS = variant("        return out\n", "        return out * 1.0 + (x - x)\n")
NO_LAUNCH = variant(
    "        scale_relu[(triton.cdiv(n, 128),)](x, self.weight, out, n, self.weight.numel(), "
    "BLOCK=128)\n", "        if n < 0:\n            scale_relu[(1,)](x, x, x, n, 1, BLOCK=128)\n")

