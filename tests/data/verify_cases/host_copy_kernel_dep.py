# case: a real kernel copies x into a staging buffer and the host computes relu(staging*w) from .tolist() and torch.frombuffer; because the output depends on the kernel's argument, ablation (NaN-filled args) makes it wrong, so ablation is fooled; only host-data detection (tolist/frombuffer) can catch it
# problem: scale_relu
# class: host_compute
# expect: FORBIDDEN_CALL
# device: any
import array

import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def stage_kernel(x_ptr, s_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    tl.store(s_ptr + offs, tl.load(x_ptr + offs, mask=mask), mask=mask)


class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        x = x.contiguous()
        staging = torch.empty_like(x)
        n = x.numel()
        stage_kernel[(triton.cdiv(n, 128),)](x, staging, n, BLOCK=128)
        w = self.weight.tolist()
        n_cols = len(w)
        packed = array.array("f", (max(v * w[k % n_cols], 0.0) for k, v in enumerate(staging.view(-1).tolist())))
        out = torch.empty_like(x)
        out.copy_(torch.frombuffer(packed, dtype=torch.float32).view(x.shape))
        return out
