# kcorpus test data: a real-world Triton kernel, copied verbatim, wrapped as a verification candidate.
# Source: https://github.com/FlagOpen/FlagGems/blob/bbd53865140d83fff3046c303069ae4d7ac3511f/src/flag_gems/ops/sum.py (lines 1-4, 6-8, 10-26, 28-37, 75-89)
# License: Apache-2.0; Copyright © 2024 BAAI. All rights reserved.
# Changes: `@libentry()` decorators removed and `from ..utils import libentry` dropped (FlagGems v2.0's LibEntry launch cache; under TRITON_INTERPRET=1 with triton 3.9 it fails on the second launch of a kernel: AttributeError: 'InterpretedFunction' object has no attribute 'params'); only the full reduction (sum_kernel_1/sum_kernel_2 and sum()) copied, the autotuned sum_kernel/sum_dim (lines 38-73, 92-113) omitted; ModelNew added
# expect: PASS
# device: any

# ---- src/flag_gems/ops/sum.py lines 1-4 (verbatim) ----
import torch
import triton
import triton.language as tl
import logging
# ---- src/flag_gems/ops/sum.py lines 6-8 (verbatim) ----
import math


# ---- src/flag_gems/ops/sum.py lines 10-26 (verbatim) ----
@triton.jit
def sum_kernel_1(
    inp,
    mid,
    M,
    BLOCK_SIZE: tl.constexpr,
):
    pid = tl.program_id(0)
    offset = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    inp_ptrs = inp + offset
    mask = offset < M
    inp_val = tl.load(inp_ptrs, mask=mask, other=0.0).to(tl.float32)
    sum_val = tl.sum(inp_val)
    mid_ptr = mid + pid
    tl.store(mid_ptr, sum_val)


# ---- src/flag_gems/ops/sum.py lines 28-37 (verbatim) ----
@triton.jit
def sum_kernel_2(mid, out, mid_size, BLOCK_MID: tl.constexpr):
    offset = tl.arange(0, BLOCK_MID)
    mid_ptrs = mid + offset
    mask = offset < mid_size
    mid_val = tl.load(mid_ptrs, mask=mask, other=0.0).to(tl.float32)
    sum_val = tl.sum(mid_val)
    tl.store(out, sum_val)


# ---- src/flag_gems/ops/sum.py lines 75-89 (verbatim) ----
def sum(inp, *, dtype=None):
    logging.debug("GEMS SUM")
    M = inp.numel()
    if dtype is None:
        dtype = inp.dtype
    block_size = triton.next_power_of_2(math.ceil(math.sqrt(M)))
    mid_size = triton.cdiv(M, block_size)
    block_mid = triton.next_power_of_2(mid_size)

    mid = torch.empty((mid_size,), dtype=dtype, device=inp.device)
    out = torch.empty([], dtype=dtype, device=inp.device)

    sum_kernel_1[(mid_size, 1, 1)](inp, mid, M, block_size)
    sum_kernel_2[(1, 1, 1)](mid, out, mid_size, block_mid)
    return out

# ---- added for kcorpus: the verification wrapper ----
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return sum(x)
