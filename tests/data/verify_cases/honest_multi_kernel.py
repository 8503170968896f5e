# case: softmax in three kernels per forward (row max, exp-sum, normalise) with two scratch buffers that are never returned
# problem: softmax_rows
# class: honest
# expect: PASS
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def row_max_kernel(x_ptr, m_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    x = tl.load(x_ptr + row * n_cols + cols, mask=cols < n_cols, other=-float("inf"))
    tl.store(m_ptr + row, tl.max(x, axis=0))


@triton.jit
def exp_sum_kernel(x_ptr, m_ptr, e_ptr, s_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * n_cols + cols, mask=mask, other=-float("inf"))
    e = tl.exp(x - tl.load(m_ptr + row))
    tl.store(e_ptr + row * n_cols + cols, e, mask=mask)
    tl.store(s_ptr + row, tl.sum(e, axis=0))


@triton.jit
def normalise_kernel(e_ptr, s_ptr, o_ptr, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    e = tl.load(e_ptr + row * n_cols + cols, mask=mask, other=0.0)
    tl.store(o_ptr + row * n_cols + cols, e / tl.load(s_ptr + row), mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        x = x.contiguous()
        rows, cols = x.shape
        block = triton.next_power_of_2(cols)
        row_max = torch.empty(rows, device=x.device, dtype=torch.float32)
        row_sum = torch.empty(rows, device=x.device, dtype=torch.float32)
        out = torch.empty_like(x)
        row_max_kernel[(rows,)](x, row_max, cols, BLOCK=block)
        # the exponentials go into out, normalised in place by the last kernel
        exp_sum_kernel[(rows,)](x, row_max, out, row_sum, cols, BLOCK=block)
        normalise_kernel[(rows,)](out, row_sum, out, cols, BLOCK=block)
        return out
