# case: a kernel writes a 1.0 "ready" flag; the output is RMSNorm computed by torch ops, but when the flag is not 1.0 (the kernel was ablated and its args NaN-filled) it returns garbage, so ablation sees a wrong output and believes the kernel was used
# problem: rmsnorm
# class: host_compute
# expect: TORCH_OPS
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def ready_kernel(flag_ptr):
    tl.store(flag_ptr, 1.0)


class ModelNew(nn.Module):
    def __init__(self, hidden, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.eps = eps

    def forward(self, x):
        flag = torch.zeros(1, device=x.device, dtype=torch.float32)
        ready_kernel[(1,)](flag)
        if flag.item() != 1.0:
            return torch.zeros_like(x)
        rstd = torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return x * rstd * self.weight
