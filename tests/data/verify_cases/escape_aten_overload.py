# case: (a+b)*a computed by calling the ATen overloads directly (torch.ops.aten.add.Tensor, torch.ops.aten.mul.Tensor), names a static scan of torch.*/F.* calls does not list; a decoy kernel clears a scratch buffer
# problem: add_mul
# class: recorder_escape
# expect: TORCH_OPS
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl

aten = torch.ops.aten


@triton.jit
def clear_kernel(buf_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(buf_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32), mask=offs < n)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        scratch = torch.empty(64, device=a.device, dtype=torch.float32)
        clear_kernel[(1,)](scratch, 64, BLOCK=64)
        return aten.mul.Tensor(aten.add.Tensor(a, b), a)
