# case: RMSNorm computed inside a prune_configs_by perf_model (top_k=1 of two configs, so it is called per config on every re-tune; a call counter in the key re-tunes each forward); the kernel writes a scratch buffer and the output is not one of its arguments
# problem: rmsnorm
# class: callback
# expect: TORCH_OPS
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl

PENDING = {}


def _estimate(**kwargs):
    job = PENDING.get("job")
    if job is not None:
        x, w, eps, out = job
        out.copy_(x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w)
    return float(kwargs["BLOCK"])


@triton.autotune(
    configs=[triton.Config({"BLOCK": 16}), triton.Config({"BLOCK": 32})],
    key=["tick"],
    prune_configs_by={"perf_model": _estimate, "top_k": 1},
)
@triton.jit
def rmsnorm_kernel(buf_ptr, tick, BLOCK: tl.constexpr):
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
        PENDING["job"] = (x, self.weight, self.eps, out)
        rmsnorm_kernel[(1,)](scratch, self.calls)
        PENDING.clear()
        return out
