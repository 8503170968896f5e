# case: per-element .item() loop computing (a+b)*a in Python and writing each value with out[i, j] = v (select + fill_, layout ops); a kernel zeroes a scratch buffer
# problem: add_mul
# class: host_compute
# expect: HOST_COMPUTE
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def clear_kernel(buf_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(buf_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32), mask=offs < n)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        out = torch.empty_like(a)
        rows, cols = a.shape
        for i in range(rows):
            for j in range(cols):
                av = a[i, j].item()
                bv = b[i, j].item()
                out[i, j] = (av + bv) * av
        scratch = torch.empty(64, device=a.device, dtype=torch.float32)
        clear_kernel[(1,)](scratch, 64, BLOCK=64)
        return out
