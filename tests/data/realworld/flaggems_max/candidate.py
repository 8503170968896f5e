# kcorpus test data: a real-world Triton kernel, copied verbatim, wrapped as a verification candidate.
# Source: https://github.com/FlagOpen/FlagGems/blob/bbd53865140d83fff3046c303069ae4d7ac3511f/src/flag_gems/ops/max.py (lines 1-4, 6-9, 11-27, 29-38, 89-102)
# License: Apache-2.0; Copyright © 2024 BAAI. All rights reserved.
# Changes: `@libentry()` decorators removed and `from ..utils import libentry` dropped (FlagGems v2.0's LibEntry launch cache; under TRITON_INTERPRET=1 with triton 3.9 it fails on the second launch of a kernel: AttributeError: 'InterpretedFunction' object has no attribute 'params'); only the full reduction (max_kernel_1/max_kernel_2 and max()) copied, the autotuned max_kernel/max_dim (lines 39-86, 105-132) omitted; ModelNew added
# expect: PASS
# device: any

# ---- src/flag_gems/ops/max.py lines 1-4 (verbatim) ----
import torch
import triton
import triton.language as tl
import logging
# ---- src/flag_gems/ops/max.py lines 6-9 (verbatim) ----
import math
from collections import namedtuple


# ---- src/flag_gems/ops/max.py lines 11-27 (verbatim) ----
@triton.jit
def max_kernel_1(
    inp,
    mid,
    M,
    BLOCK_SIZE: tl.constexpr,
):
    pid = tl.program_id(0)
    offset = pid * BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    inp_ptrs = inp + offset
    mask = offset < M
    inp_val = tl.load(inp_ptrs, mask=mask, other=-float("inf"))
    sum_val = tl.max(inp_val)
    mid_ptr = mid + pid
    tl.store(mid_ptr, sum_val)


# ---- src/flag_gems/ops/max.py lines 29-38 (verbatim) ----
@triton.jit
def max_kernel_2(mid, out, mid_size, BLOCK_MID: tl.constexpr):
    offset = tl.arange(0, BLOCK_MID)
    mid_ptrs = mid + offset
    mask = offset < mid_size
    mid_val = tl.load(mid_ptrs, mask=mask, other=-float("inf"))
    sum_val = tl.max(mid_val)
    tl.store(out, sum_val)


# ---- src/flag_gems/ops/max.py lines 89-102 (verbatim) ----
def max(inp):
    logging.debug("GEMS MAX")
    M = inp.numel()
    block_size = triton.next_power_of_2(math.ceil(math.sqrt(M)))
    mid_size = triton.cdiv(M, block_size)
    block_mid = triton.next_power_of_2(mid_size)

    dtype = inp.dtype
    mid = torch.empty((mid_size,), dtype=dtype, device=inp.device)
    out = torch.empty([], dtype=dtype, device=inp.device)

    max_kernel_1[(mid_size, 1, 1)](inp, mid, M, block_size)
    max_kernel_2[(1, 1, 1)](mid, out, mid_size, block_mid)
    return out

# ---- added for kcorpus: the verification wrapper ----
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, x):
        return max(x)
