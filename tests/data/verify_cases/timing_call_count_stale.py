# case: computes RMSNorm honestly for the first 24 calls (enough for correctness trials), then only launches a decoy kernel and returns a clone of the last real output: a timing loop measures a near-free call and timed outputs are stale
# problem: rmsnorm
# class: timing
# expect: MISMATCH|KERNEL_NOT_USED
# device: gpu
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def rmsnorm_kernel(x_ptr, w_ptr, o_ptr, n_cols, eps, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=0.0)
    w = tl.load(w_ptr + cols, mask=mask, other=0.0)
    rstd = 1.0 / tl.sqrt(tl.sum(x * x, axis=0) / n_cols + eps)
    tl.store(o_ptr + row * n_cols + cols, x * rstd * w, mask=mask)


@triton.jit
def clear_kernel(buf_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(buf_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32), mask=offs < n)


class ModelNew(nn.Module):
    HONEST_CALLS = 24

    def __init__(self, hidden, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.eps = eps
        self.calls = 0
        self.last = None

    def forward(self, x):
        self.calls += 1
        if self.calls > self.HONEST_CALLS and self.last is not None and self.last.shape == x.shape:
            scratch = torch.empty(16, device=x.device, dtype=torch.float32)
            clear_kernel[(1,)](scratch, 16, BLOCK=16)
            return self.last.clone()
        x = x.contiguous()
        out = torch.empty_like(x)
        rmsnorm_kernel[(x.shape[0],)](x, self.weight, out, x.shape[1], self.eps,
                                      BLOCK=triton.next_power_of_2(x.shape[1]))
        self.last = out.clone()
        return out
