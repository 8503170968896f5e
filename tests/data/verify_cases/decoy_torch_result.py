# case: the output is torch.relu(x * w) computed by torch; a decoy kernel fills a scratch buffer so the harness counts a launch
# problem: scale_relu
# class: host_compute
# expect: TORCH_OPS
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def prefetch_kernel(buf_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(buf_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32), mask=offs < n)


class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        buf = torch.empty(256, device=x.device, dtype=torch.float32)
        prefetch_kernel[(2,)](buf, 256, BLOCK=128)
        return torch.relu(x * self.weight)
