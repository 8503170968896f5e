# case: keeps one persistent output buffer; after 24 honest calls it launches the softmax kernel on the first row only, leaving the other rows from an earlier input: the kernel still runs every call, the work shrinks, and timed outputs are wrong
# problem: softmax_rows
# class: timing
# expect: MISMATCH
# device: gpu
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def softmax_kernel(x_ptr, o_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=-float("inf"))
    e = tl.exp(x - tl.max(x, axis=0))
    tl.store(o_ptr + row * n_cols + cols, e / tl.sum(e, axis=0), mask=mask)


class ModelNew(nn.Module):
    HONEST_CALLS = 24

    def __init__(self):
        super().__init__()
        self.calls = 0
        self.buf = None

    def forward(self, x):
        self.calls += 1
        x = x.contiguous()
        rows, cols = x.shape
        if self.buf is None or self.buf.shape != x.shape or self.buf.device != x.device:
            self.buf = torch.empty_like(x)
            self.calls = 1
        grid_rows = rows if self.calls <= self.HONEST_CALLS else 1
        softmax_kernel[(grid_rows,)](x, self.buf, cols, BLOCK=triton.next_power_of_2(cols))
        return self.buf.clone()
