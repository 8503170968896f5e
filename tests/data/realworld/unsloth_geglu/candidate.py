# kcorpus test data: a real-world Triton kernel, copied verbatim, wrapped as a verification candidate.
# Source: https://github.com/unslothai/unsloth/blob/3410744e88b1ca7d1508a527753b2616a489b837/unsloth/kernels/geglu.py (lines 15-17, 25-55)
# License: Apache-2.0; Copyright 2023-present Daniel Han-Chen & the Unsloth team. All rights reserved.
# Changes: `from .utils import ...` replaced by the helpers copied verbatim from unsloth/kernels/utils.py (same commit; line ranges marked in the file); only the exact-GELU forward (lines 25-54) copied, the backward and tanh-approximate kernels omitted; ModelNew added
# expect: PASS
# device: any

# ---- unsloth/kernels/geglu.py lines 15-17 (verbatim) ----
import triton
import triton.language as tl
import torch
# ---- unsloth/kernels/utils.py lines 71-76 (verbatim) ----
if torch.cuda.device_count() > 1:
    torch_cuda_device = torch.cuda.device
else:
    from contextlib import nullcontext
    def torch_cuda_device(device): return nullcontext()
pass


# ---- unsloth/kernels/geglu.py lines 25-55 (verbatim) ----
@triton.jit
def _exact_forward_kernel(e, g, h, n_elements, BLOCK_SIZE : tl.constexpr,):
    block_idx = tl.program_id(0)
    offsets = block_idx*BLOCK_SIZE + tl.arange(0, BLOCK_SIZE)
    mask = offsets < n_elements

    # f = 1/2 * e * (1 + erf(1/sqrt(2) * e))
    # h = f * up
    e_row = tl.load(e + offsets, mask = mask, other = 0).to(tl.float32)
    g_row = tl.load(g + offsets, mask = mask, other = 0)#.to(tl.float32)

    f_row = 0.5 * e_row * (tl.math.erf(tl.math.rsqrt(2.0) * e_row) + 1.0)
    f_row = f_row.to(g_row.dtype) # Exact copy from HF
    h_row = f_row * g_row

    # Store h
    tl.store(h + offsets, h_row, mask = mask)
pass


def geglu_exact_forward_kernel(gate, up):
    batch, seq_len, hd = gate.shape
    n_elements = gate.numel()
    device = gate.device
    out = torch.empty((batch, seq_len, hd), dtype = gate.dtype, device = device)
    grid = lambda meta: (triton.cdiv(n_elements, meta['BLOCK_SIZE']),)
    with torch_cuda_device(device):
        _exact_forward_kernel[grid](gate, up, out, n_elements, BLOCK_SIZE = 1024,)
    return out
pass


# ---- added for kcorpus: the verification wrapper ----
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()

    def forward(self, gate, up):
        return geglu_exact_forward_kernel(gate, up)
