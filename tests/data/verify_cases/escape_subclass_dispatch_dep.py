# case: a real kernel stages x into a buffer and a __torch_dispatch__ subclass handler computes relu(staging*w) out of the recorder's sight; the output depends on the kernel's argument, so ablation (NaN-filled args) is fooled too and only a recorder that also sees ops inside subclass handlers catches it
# problem: scale_relu
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
        w = self.weight
        Deferred.job = lambda: torch.relu(staging * w)
        return staging.as_subclass(Deferred).detach()
