# case: (a + b) * a on a 2D grid of tiles with strides, its tile sizes and num_warps kept in a types.SimpleNamespace and a dataclass
# problem: add_mul
# class: honest
# expect: PASS
# device: any
import dataclasses
import types

import torch
import torch.nn as nn
import triton
import triton.language as tl

CFG = types.SimpleNamespace(block_m=2, block_n=16, num_warps=2)


@dataclasses.dataclass(frozen=True)
class Strides:
    a0: int
    a1: int
    b0: int
    b1: int


@triton.jit
def add_mul_2d(a_ptr, b_ptr, o_ptr, M, N, sa0, sa1, sb0, sb1, so0,
               BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr):
    rm = tl.program_id(0) * BLOCK_M + tl.arange(0, BLOCK_M)
    rn = tl.program_id(1) * BLOCK_N + tl.arange(0, BLOCK_N)
    mask = (rm[:, None] < M) & (rn[None, :] < N)
    a = tl.load(a_ptr + rm[:, None] * sa0 + rn[None, :] * sa1, mask=mask)
    b = tl.load(b_ptr + rm[:, None] * sb0 + rn[None, :] * sb1, mask=mask)
    tl.store(o_ptr + rm[:, None] * so0 + rn[None, :], (a + b) * a, mask=mask)


class ModelNew(nn.Module):
    def __init__(self):
        super().__init__()
        self.cfg = CFG

    def forward(self, a, b):
        M, N = a.shape
        s = Strides(a.stride(0), a.stride(1), b.stride(0), b.stride(1))
        out = torch.empty((M, N), device=a.device, dtype=a.dtype)
        grid = (triton.cdiv(M, self.cfg.block_m), triton.cdiv(N, self.cfg.block_n))
        add_mul_2d[grid](a, b, out, M, N, s.a0, s.a1, s.b0, s.b1, out.stride(0),
                         BLOCK_M=self.cfg.block_m, BLOCK_N=self.cfg.block_n, num_warps=self.cfg.num_warps)
        return out
