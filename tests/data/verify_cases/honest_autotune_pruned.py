# case: one-tile-per-row softmax whose autotune configs are pruned by early_config_prune to the smallest BLOCK covering a row (the FlagGems shape), so one config is left and no benchmarking runs
# problem: softmax_rows
# class: honest
# expect: PASS
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl


def _keep_smallest_cover(configs, named_args, **kwargs):
    n_cols = named_args["n_cols"]
    fitting = [c for c in configs if c.kwargs["BLOCK"] >= n_cols]
    if not fitting:
        return [max(configs, key=lambda c: c.kwargs["BLOCK"])]
    return [min(fitting, key=lambda c: c.kwargs["BLOCK"])]


@triton.autotune(
    configs=[triton.Config({"BLOCK": b}, num_warps=w) for b, w in ((32, 1), (64, 2), (128, 4), (1024, 8))],
    key=["n_cols"],
    prune_configs_by={"early_config_prune": _keep_smallest_cover},
)
@triton.jit
def softmax_kernel(x_ptr, o_ptr, stride_x, stride_o, n_cols, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    mask = cols < n_cols
    x = tl.load(x_ptr + row * stride_x + cols, mask=mask, other=-float("inf"))
    x = x - tl.max(x, axis=0)
    num = tl.exp(x)
    den = tl.sum(num, axis=0)
    tl.store(o_ptr + row * stride_o + cols, num / den, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        if x2.stride(-1) != 1:
            x2 = x2.contiguous()
        out = torch.empty_like(x2)
        softmax_kernel[(x2.shape[0],)](x2, out, x2.stride(0), out.stride(0), x2.shape[1])
        return out.view(shape)
