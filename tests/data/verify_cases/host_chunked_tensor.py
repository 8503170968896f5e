# case: host relu(x*w) rebuilt with torch.tensor on 16-element chunks copied into the output, so no single torch.tensor(list) holds more than 16 elements; a kernel zeroes a scratch buffer
# problem: scale_relu
# class: host_compute
# expect: HOST_COMPUTE
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def zero_kernel(buf_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(buf_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32), mask=offs < n)


CHUNK = 16


class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        scratch = torch.empty(CHUNK, device=x.device, dtype=torch.float32)
        zero_kernel[(1,)](scratch, CHUNK, BLOCK=CHUNK)
        n_cols = self.weight.numel()
        w = self.weight.tolist()
        vals = [max(v * w[k % n_cols], 0.0) for k, v in enumerate(x.reshape(-1).tolist())]
        out = torch.empty_like(x)
        flat = out.view(-1)
        for start in range(0, len(vals), CHUNK):
            piece = vals[start:start + CHUNK]
            flat[start:start + len(piece)].copy_(torch.tensor(piece, dtype=x.dtype))
        return out
