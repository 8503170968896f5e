# case: elementwise (a + b) * a launched through a module-level helper function and a functools.partial that binds the block size
# problem: add_mul
# class: honest
# expect: PASS
# device: any
import functools

import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def add_mul_kernel(a_ptr, b_ptr, o_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    a = tl.load(a_ptr + offs, mask=mask)
    b = tl.load(b_ptr + offs, mask=mask)
    tl.store(o_ptr + offs, (a + b) * a, mask=mask)


def _launch(kernel, a, b, out, BLOCK):
    n = out.numel()
    kernel[(triton.cdiv(n, BLOCK),)](a, b, out, n, BLOCK=BLOCK)
    return out


launch_add_mul = functools.partial(_launch, add_mul_kernel, BLOCK=64)


def add_mul(a, b):
    a = a.contiguous()
    b = b.contiguous()
    out = torch.empty_like(a)
    return launch_add_mul(a, b, out)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return add_mul(a, b)
