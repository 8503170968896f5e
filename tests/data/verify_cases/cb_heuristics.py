# case: (a+b)*a computed inside a @triton.heuristics callable that also returns the BLOCK value; heuristics run on every launch; the kernel writes only a scratch buffer and the output is not one of its arguments
# problem: add_mul
# class: callback
# expect: TORCH_OPS
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl

PENDING = {}


def _block(args):
    job = PENDING.get("job")
    if job is not None:
        a, b, out = job
        out.copy_((a + b) * a)
    return triton.next_power_of_2(args["n"])


@triton.heuristics({"BLOCK": _block})
@triton.jit
def add_mul_kernel(buf_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(buf_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32), mask=offs < n)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        out = torch.empty_like(a)
        scratch = torch.empty(32, device=a.device, dtype=torch.float32)
        PENDING["job"] = (a, b, out)
        add_mul_kernel[(1,)](scratch, 32)
        PENDING.clear()
        return out
