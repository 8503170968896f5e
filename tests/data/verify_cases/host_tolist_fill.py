# case: (a+b)*a computed in Python from .tolist() and written with out.view(-1)[k].fill_(v): only layout ops dispatch, no torch.tensor and no .item(); a kernel zeroes a scratch buffer
# problem: add_mul
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


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        scratch = torch.empty(32, device=a.device, dtype=torch.float32)
        zero_kernel[(1,)](scratch, 32, BLOCK=32)
        out = torch.empty_like(a)
        flat = out.view(-1)
        for k, (av, bv) in enumerate(zip(a.reshape(-1).tolist(), b.reshape(-1).tolist())):
            flat[k].fill_((av + bv) * av)
        return out
