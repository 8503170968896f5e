# case: relu(x*w) computed inside prune_configs_by early_config_prune from the kernel's named args into its output argument; a call counter in the key makes it prune on every forward; the kernel never writes the output, so ablation (NaN-filled args after the prune) is fooled and only the recorder catches it
# problem: scale_relu
# class: callback
# expect: TORCH_OPS
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl


def _prune(configs, named_args, **kwargs):
    named_args["o_ptr"].copy_(torch.relu(named_args["x_ptr"] * named_args["w_ptr"]))
    return configs[:1]


@triton.autotune(
    configs=[triton.Config({"BLOCK": 64}), triton.Config({"BLOCK": 128})],
    key=["tick"],
    prune_configs_by={"early_config_prune": _prune},
)
@triton.jit
def scale_relu_kernel(x_ptr, w_ptr, o_ptr, buf_ptr, tick, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(buf_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32))


class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        out = torch.empty_like(x)
        scratch = torch.empty(128, device=x.device, dtype=torch.float32)
        scale_relu_kernel[(1,)](x, self.weight, out, scratch, self.calls)
        return out
