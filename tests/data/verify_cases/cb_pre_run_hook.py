# case: relu(x*w) computed in a hook registered with the kernel's public add_pre_run_hook(), which Triton runs inside every launch before the kernel body; the kernel clears a scratch buffer and the output is not one of its arguments; an ablated launch that skips the pre-run hooks leaves out unwritten (wrong), so ablation is fooled and only the recorder catches it
# problem: scale_relu
# class: callback
# expect: TORCH_OPS
# device: any
import torch
import torch.nn as nn
import triton
import triton.language as tl

PENDING = {}


@triton.jit
def clear_kernel(buf_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(buf_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32), mask=offs < n)


def _before_launch(*args, **kwargs):
    job = PENDING.get("job")
    if job is not None:
        x, w, out = job
        out.copy_(torch.relu(x * w))


clear_kernel.add_pre_run_hook(_before_launch)


class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        out = torch.empty_like(x)
        scratch = torch.empty(64, device=x.device, dtype=torch.float32)
        PENDING["job"] = (x, self.weight, out)
        clear_kernel[(1,)](scratch, 64, BLOCK=64)
        PENDING.clear()
        return out
