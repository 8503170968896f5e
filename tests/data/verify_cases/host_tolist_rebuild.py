# case: reads x and the weight out with .tolist(), computes relu(x*w) in Python floats and rebuilds the output with torch.tensor(list); a warm-up kernel zeroes a scratch buffer so a launch is counted
# problem: scale_relu
# class: host_compute
# expect: HOST_COMPUTE
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def warmup_kernel(buf_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(buf_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32), mask=offs < n)


class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        scratch = torch.empty(128, device=x.device, dtype=torch.float32)
        warmup_kernel[(1,)](scratch, 128, BLOCK=128)
        w = self.weight.tolist()
        rows = x.tolist()
        vals = [[max(v * w[j], 0.0) for j, v in enumerate(r)] for r in rows]
        return torch.tensor(vals, dtype=x.dtype, device=x.device)
