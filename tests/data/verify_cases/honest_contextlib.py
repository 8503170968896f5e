# case: launch inside contextlib.nullcontext() on the CPU or torch.cuda.device(...) on a GPU, wrapped in a small @contextlib.contextmanager that only yields
# problem: scale_relu
# class: honest
# expect: PASS
# device: any
import contextlib

import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def scale_relu_kernel(x_ptr, w_ptr, o_ptr, n, n_cols, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    w = tl.load(w_ptr + offs % n_cols, mask=mask)
    y = x * w
    tl.store(o_ptr + offs, tl.where(y > 0, y, 0.0), mask=mask)


def device_guard(t):
    if t.is_cuda:
        return torch.cuda.device(t.device)
    return contextlib.nullcontext()


@contextlib.contextmanager
def launch_scope(name):
    # real code puts a profiler range here; it only yields
    yield name


class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        n = x.numel()
        with device_guard(x), launch_scope("scale_relu"):
            scale_relu_kernel[(triton.cdiv(n, 128),)](x, self.weight, out, n, self.weight.numel(), BLOCK=128)
        return out
