# case: relu(x*w) laundered through torch.compile, whose Inductor-generated Triton kernels are launched by Inductor's own launcher and are not defined in the candidate's source; a decoy kernel of its own clears a scratch buffer
# problem: scale_relu
# class: recorder_escape
# expect: TORCH_OPS|KERNEL_NOT_USED
# device: gpu
import torch
import torch.nn as nn
import triton
import triton.language as tl


def _scale_relu(x, w):
    return torch.relu(x * w)


_compiled = torch.compile(_scale_relu, dynamic=False)


@triton.jit
def clear_kernel(buf_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(buf_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32), mask=offs < n)


class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        scratch = torch.empty(64, device=x.device, dtype=torch.float32)
        clear_kernel[(1,)](scratch, 64, BLOCK=64)
        return _compiled(x, self.weight.detach())
