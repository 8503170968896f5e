# case: RMSNorm with @triton.heuristics choosing BLOCK from the row length and eps passed as a scalar float argument
# problem: rmsnorm
# class: honest
# expect: PASS
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.heuristics({
    "BLOCK": lambda args: triton.next_power_of_2(args["n_cols"]),
    "EVEN": lambda args: args["n_cols"] == triton.next_power_of_2(args["n_cols"]),
})
@triton.jit
def rmsnorm_kernel(x_ptr, w_ptr, o_ptr, stride, n_cols, eps, BLOCK: tl.constexpr, EVEN: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    if EVEN:
        x = tl.load(x_ptr + row * stride + cols).to(tl.float32)
        w = tl.load(w_ptr + cols)
    else:
        mask = cols < n_cols
        x = tl.load(x_ptr + row * stride + cols, mask=mask, other=0.0).to(tl.float32)
        w = tl.load(w_ptr + cols, mask=mask, other=0.0)
    ms = tl.sum(x * x, axis=0) / n_cols
    rstd = 1.0 / tl.sqrt(ms + eps)
    y = x * rstd * w
    if EVEN:
        tl.store(o_ptr + row * stride + cols, y)
    else:
        tl.store(o_ptr + row * stride + cols, y, mask=cols < n_cols)


class ModelNew(nn.Module):
    def __init__(self, hidden, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.eps = eps

    def forward(self, x):
        x2 = x.reshape(-1, x.shape[-1]).contiguous()
        out = torch.empty_like(x2)
        rmsnorm_kernel[(x2.shape[0],)](x2, self.weight, out, x2.stride(0), x2.shape[1], self.eps)
        return out.view(x.shape)
