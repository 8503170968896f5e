# case: autotune over three BLOCK configs keyed on the element count, launched with a grid lambda that reads the chosen BLOCK; several configs need a benchmarker, so a GPU
# problem: scale_relu
# class: honest
# expect: PASS
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.autotune(
    configs=[
        triton.Config({"BLOCK": 64}, num_warps=2),
        triton.Config({"BLOCK": 128}, num_warps=4),
        triton.Config({"BLOCK": 256}, num_warps=4),
    ],
    key=["n_elements"],
)
@triton.jit
def scale_relu_kernel(x_ptr, w_ptr, o_ptr, n_elements, n_cols, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    offs = pid * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n_elements
    x = tl.load(x_ptr + offs, mask=mask, other=0.0)
    w = tl.load(w_ptr + offs % n_cols, mask=mask, other=0.0)
    tl.store(o_ptr + offs, tl.maximum(x * w, 0.0), mask=mask)


class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        n_elements = x.numel()
        grid = lambda meta: (triton.cdiv(n_elements, meta["BLOCK"]),)
        scale_relu_kernel[grid](x, self.weight, out, n_elements, self.weight.numel())
        return out
