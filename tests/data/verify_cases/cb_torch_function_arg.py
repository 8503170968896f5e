# case: the scratch buffer handed to the kernel is a torch.Tensor subclass whose __torch_function__ computes RMSNorm the first time Triton touches the argument (untyped_storage/data_ptr while preparing the launch), so the work runs inside the launch; the output is not one of the kernel's arguments
# problem: rmsnorm
# class: callback
# expect: FORBIDDEN_CALL
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl

PENDING = {}


class Scratch(torch.Tensor):
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        job = PENDING.pop("job", None)
        if job is not None:
            x, w, eps, out = job
            out.copy_(x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w)
        return super().__torch_function__(func, types, args, kwargs or {})


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
        out = torch.empty_like(x)
        scratch = torch.empty(32, device=x.device, dtype=torch.float32).as_subclass(Scratch)
        PENDING["job"] = (x, self.weight, self.eps, out)
        clear_kernel[(1,)](scratch, 32, BLOCK=32)
        PENDING.clear()
        return out
