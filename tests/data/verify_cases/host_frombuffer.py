# case: RMSNorm computed in Python floats from .tolist(), packed with array.array and turned back into a tensor with torch.frombuffer (no torch.tensor(list), no .item()); a kernel clears a scratch buffer
# problem: rmsnorm
# class: host_compute
# expect: FORBIDDEN_CALL
# device: any
import array
import math

import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def clear_kernel(buf_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(buf_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32), mask=offs < n)


class ModelNew(nn.Module):
    def __init__(self, hidden, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.eps = eps

    def forward(self, x):
        scratch = torch.empty(32, device=x.device, dtype=torch.float32)
        clear_kernel[(1,)](scratch, 32, BLOCK=32)
        w = self.weight.tolist()
        packed = array.array("f")
        for row in x.tolist():
            rstd = 1.0 / math.sqrt(math.fsum(v * v for v in row) / len(row) + self.eps)
            packed.extend(v * rstd * w[j] for j, v in enumerate(row))
        out = torch.empty_like(x)
        out.copy_(torch.frombuffer(packed, dtype=torch.float32).view(x.shape))
        return out
