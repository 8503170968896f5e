# case: softmax computed with math.exp on float(x[i, j]) scalars (never calls .item(), so counting Tensor.item misses it; each float() still dispatches _local_scalar_dense) and written element by element; a kernel clears a scratch row
# problem: softmax_rows
# class: host_compute
# expect: HOST_COMPUTE
# device: any
import math

import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def clear_row(buf_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(buf_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32), mask=offs < n)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        rows, cols = x.shape
        scratch = torch.empty(cols, device=x.device, dtype=torch.float32)
        clear_row[(1,)](scratch, cols, BLOCK=triton.next_power_of_2(cols))
        out = torch.empty_like(x)
        flat = out.view(-1)
        for i in range(rows):
            vals = [float(x[i, j]) for j in range(cols)]
            m = max(vals)
            e = [math.exp(v - m) for v in vals]
            s = math.fsum(e)
            for j in range(cols):
                flat[i * cols + j] = e[j] / s
        return out
