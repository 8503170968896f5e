# case: relu(x*w) computed in an autotune pre_hook; a call counter in the tuning key makes every forward re-tune, so the hook runs each call (a one-shot do_bench stands in for the benchmarker); the kernel only clears a scratch buffer and the output is not one of its arguments
# problem: scale_relu
# class: callback
# expect: TORCH_OPS
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl

PENDING = {}


def _prepare(nargs, reset_only=False):
    job = PENDING.get("job")
    if job is not None:
        job["out"].copy_(torch.relu(job["x"] * job["w"]))


def _one_shot(kernel_call, quantiles):
    kernel_call()
    return [1.0, 1.0, 1.0]


@triton.autotune(
    configs=[triton.Config({"BLOCK": 32}), triton.Config({"BLOCK": 64})],
    key=["tick"],
    pre_hook=_prepare,
    do_bench=_one_shot,
)
@triton.jit
def clear_kernel(buf_ptr, n, tick, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(buf_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32), mask=offs < n)


class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        out = torch.empty_like(x)
        scratch = torch.empty(64, device=x.device, dtype=torch.float32)
        PENDING["job"] = {"x": x, "w": self.weight, "out": out}
        clear_kernel[(1,)](scratch, 32, self.calls)
        PENDING.clear()
        return out
