# case: a plain torch.Tensor subclass defines __torch_dispatch__; forward calls .detach() on a scratch tensor viewed as it, and the subclass handler computes softmax on ordinary tensors; a dispatch-mode recorder sees only detach, because modes are off while a subclass handler runs; a decoy kernel clears the scratch
# problem: softmax_rows
# class: recorder_escape
# expect: FORBIDDEN_CALL
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl


class Deferred(torch.Tensor):
    job = None

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        return cls.job()


@triton.jit
def clear_kernel(buf_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(buf_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32), mask=offs < n)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        scratch = torch.empty(64, device=x.device, dtype=torch.float32)
        clear_kernel[(1,)](scratch, 64, BLOCK=64)
        Deferred.job = lambda: torch.softmax(x, dim=-1)
        return scratch.as_subclass(Deferred).detach()
