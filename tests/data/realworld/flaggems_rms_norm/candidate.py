# kcorpus test data: a real-world Triton kernel, copied verbatim, wrapped as a verification candidate.
# Source: https://github.com/FlagOpen/FlagGems/blob/bbd53865140d83fff3046c303069ae4d7ac3511f/src/flag_gems/ops/rms_norm.py (lines 1-4, 6-8, 10-57)
# License: Apache-2.0; Copyright © 2024 BAAI. All rights reserved.
# Changes: `@libentry()` decorators removed and `from ..utils import libentry` dropped (FlagGems v2.0's LibEntry launch cache; under TRITON_INTERPRET=1 with triton 3.9 it fails on the second launch of a kernel: AttributeError: 'InterpretedFunction' object has no attribute 'params'); ModelNew added
# expect: PASS
# device: any

# ---- src/flag_gems/ops/rms_norm.py lines 1-4 (verbatim) ----
import torch
import triton
import triton.language as tl
import logging
# ---- src/flag_gems/ops/rms_norm.py lines 6-8 (verbatim) ----
import math


# ---- src/flag_gems/ops/rms_norm.py lines 10-57 (verbatim) ----
@triton.jit
def rms_norm_kernel(
    Y,  # pointer to the output
    X,  # pointer to the input
    W,  # pointer to the weights
    y_stride_r,
    y_stride_c,
    x_stride_r,  # how much to increase the pointer when moving by 1 row
    x_stride_c,  # how much to increase the pointer when moving by 1 col
    N,  # number of columns in X
    eps,  # epsilon to avoid division by zero
    BLOCK_SIZE: tl.constexpr,
):
    pid = tl.program_id(0)
    Y += pid * y_stride_r
    X += pid * x_stride_r

    mask = tl.arange(0, BLOCK_SIZE) < N
    cols = tl.arange(0, BLOCK_SIZE)
    x = tl.load(X + cols * x_stride_c, mask, other=0.0).to(tl.float32)

    var = tl.sum(x * x, axis=0) / N
    rrms = 1 / tl.sqrt(var + eps)

    w = tl.load(W + tl.arange(0, BLOCK_SIZE), mask=mask, other=0.0)
    y = (x * rrms).to(Y.dtype.element_ty) * w
    tl.store(Y + cols * y_stride_c, y, mask=mask)


class RmsNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, normalized_shape, weight, eps=1e-5):
        logging.debug("GEMS LAYERNORM FORWARD")
        dim = x.ndim - len(normalized_shape)
        M = math.prod(x.shape[:dim])
        N = math.prod(normalized_shape)

        BLOCK_SIZE = triton.next_power_of_2(N)
        x = x.contiguous()
        weight = weight.contiguous()
        y = torch.empty_like(x)

        rms_norm_kernel[M,](y, x, weight, N, 1, N, 1, N, eps, BLOCK_SIZE)
        return y


def rms_norm(x, normalized_shape, weight, eps=1e-5):
    return RmsNorm.apply(x, normalized_shape, weight, eps)


# ---- added for kcorpus: the verification wrapper ----
import torch.nn as nn


class ModelNew(nn.Module):
    def __init__(self, hidden_size, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(hidden_size))

    def forward(self, x):
        return rms_norm(x, [x.shape[-1]], self.weight, self.eps)
