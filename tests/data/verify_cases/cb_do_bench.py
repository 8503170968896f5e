# case: (a+b)*a computed inside a custom autotune do_bench callable (not a hook, not a pruner); a call counter in the key makes it benchmark on every forward; the kernel writes a scratch buffer and the output is not one of its arguments
# problem: add_mul
# class: callback
# expect: TORCH_OPS
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl

PENDING = {}


def _bench(kernel_call, quantiles):
    job = PENDING.get("job")
    if job is not None:
        a, b, out = job
        out.copy_((a + b) * a)
    kernel_call()
    return [1.0, 1.0, 1.0]


@triton.autotune(
    configs=[triton.Config({"BLOCK": 32}), triton.Config({"BLOCK": 64})],
    key=["tick"],
    do_bench=_bench,
)
@triton.jit
def add_mul_kernel(buf_ptr, tick, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(buf_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32))


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, a, b):
        self.calls += 1
        out = torch.empty_like(a)
        scratch = torch.empty(64, device=a.device, dtype=torch.float32)
        PENDING["job"] = (a, b, out)
        add_mul_kernel[(1,)](scratch, self.calls)
        PENDING.clear()
        return out
