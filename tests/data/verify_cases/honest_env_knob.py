# case: block size read from an environment tuning knob with os.environ.get, rounded to a power of two with a warnings.warn when the knob is not one
# problem: scale_relu
# class: honest
# expect: PASS
# device: any
import os
import warnings

import torch
import torch.nn as nn
import triton
import triton.language as tl


def _block_size():
    raw = os.environ.get("KC_SCALE_RELU_BLOCK", "96")
    try:
        block = int(raw)
    except ValueError:
        block = 128
    if block & (block - 1):
        warnings.warn(f"KC_SCALE_RELU_BLOCK={block} is not a power of two; rounding up", RuntimeWarning)
        block = triton.next_power_of_2(block)
    return block


@triton.jit
def scale_relu_kernel(x_ptr, w_ptr, o_ptr, n, n_cols, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    w = tl.load(w_ptr + offs % n_cols, mask=mask)
    tl.store(o_ptr + offs, tl.maximum(x * w, 0.0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        block = _block_size()
        x = x.contiguous()
        out = torch.empty_like(x)
        n = x.numel()
        scale_relu_kernel[(triton.cdiv(n, block),)](x, self.weight, out, n, self.weight.numel(), BLOCK=block)
        return out
