# case: split-row RMSNorm: one kernel adds partial sums of squares with tl.atomic_add into an accumulator that autotune's reset_to_zero clears between benchmark runs, a second kernel normalises; two configs, so a GPU
# problem: rmsnorm
# class: honest
# expect: PASS
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.autotune(
    configs=[triton.Config({"BLOCK": 16}, num_warps=1), triton.Config({"BLOCK": 32}, num_warps=2)],
    key=["n_cols"],
    reset_to_zero=["acc_ptr"],
)
@triton.jit
def sumsq_kernel(x_ptr, acc_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    x = tl.load(x_ptr + row * n_cols + cols, mask=cols < n_cols, other=0.0)
    tl.atomic_add(acc_ptr + row, tl.sum(x * x, axis=0))


@triton.jit
def scale_kernel(x_ptr, w_ptr, acc_ptr, o_ptr, n_cols, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    rstd = 1.0 / tl.sqrt(tl.load(acc_ptr + row) / n_cols + eps)
    x = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=0.0)
    w = tl.load(w_ptr + cols, mask=mask, other=0.0)
    tl.store(o_ptr + row * n_cols + cols, x * rstd * w, mask=mask)


class ModelNew(nn.Module):
    def __init__(self, hidden, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.eps = eps

    def forward(self, x):
        x = x.contiguous()
        n_rows, n_cols = x.shape
        acc = torch.zeros(n_rows, device=x.device, dtype=torch.float32)
        out = torch.empty_like(x)
        sumsq_kernel[lambda meta: (n_rows, triton.cdiv(n_cols, meta["BLOCK"]))](x, acc, n_cols)
        scale_kernel[(n_rows,)](x, self.weight, acc, out, n_cols, self.eps, BLOCK=triton.next_power_of_2(n_cols))
        return out
