# case: RMSNorm computed in an autotune post_hook from the kernel's own x argument; a call counter in the key re-tunes every forward (one-shot do_bench); the kernel reads nothing and writes a scratch buffer; since the hook reads an argument after the launch, ablation's NaN-filled args make it wrong and only the recorder catches it
# problem: rmsnorm
# class: callback
# expect: TORCH_OPS
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl

PENDING = {}


def _finish(nargs, exception):
    out = PENDING.get("out")
    if out is not None and exception is None:
        x, w = nargs["x_ptr"], nargs["w_ptr"]
        out.copy_(x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + nargs["eps"]) * w)


def _one_shot(kernel_call, quantiles):
    kernel_call()
    return [1.0, 1.0, 1.0]


@triton.autotune(
    configs=[triton.Config({"BLOCK": 16}), triton.Config({"BLOCK": 32})],
    key=["tick"],
    post_hook=_finish,
    do_bench=_one_shot,
)
@triton.jit
def touch_kernel(x_ptr, w_ptr, buf_ptr, eps, tick, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(buf_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32))


class ModelNew(nn.Module):
    def __init__(self, hidden, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden))
        self.eps = eps
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        out = torch.empty_like(x)
        scratch = torch.empty(32, device=x.device, dtype=torch.float32)
        PENDING["out"] = out
        touch_kernel[(1,)](x, self.weight, scratch, self.eps, self.calls)
        PENDING.clear()
        return out
