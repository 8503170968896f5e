# case: relu(x*w) as torch.Tensor.__mul__ and __gt__ dunder methods (y * (y > 0)) inside torch.inference_mode(), which does not switch a dispatch recorder off; a decoy kernel clears a scratch buffer
# problem: scale_relu
# class: recorder_escape
# expect: TORCH_OPS
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl

T = torch.Tensor


@triton.jit
def clear_kernel(buf_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(buf_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32), mask=offs < n)


class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        scratch = torch.empty(64, device=x.device, dtype=torch.float32)
        clear_kernel[(1,)](scratch, 64, BLOCK=64)
        with torch.inference_mode():
            y = T.__mul__(x, self.weight)
            out = T.__mul__(y, T.__gt__(y, 0))
        return out.clone()
