# case: softmax looked up at run time from torch.nn.functional through a dict of operator.attrgetter objects with a built name, called under torch.no_grad(); a decoy kernel clears a scratch buffer
# problem: softmax_rows
# class: recorder_escape
# expect: FORBIDDEN_CALL
# device: any
import operator

import torch
import torch.nn as nn
import torch.nn.functional as F
import triton
import triton.language as tl

ROUTES = {"rows": operator.attrgetter("soft" + "max")}


@triton.jit
def clear_kernel(buf_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(buf_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32), mask=offs < n)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        scratch = torch.empty(64, device=x.device, dtype=torch.float32)
        clear_kernel[(1,)](scratch, 64, BLOCK=64)
        fn = ROUTES["rows"](F)
        with torch.no_grad():
            return fn(x, dim=-1)
