# case: memoises outputs by a key of four sampled input values (.item() on four elements, layout ops only) and returns a cached clone when a key repeats; a fresh key runs the real kernel, so correctness trials on fresh inputs pass; a harness that times one fixed input gets the cache; a decoy kernel launches on every call
# problem: scale_relu
# class: timing
# expect: MISMATCH|KERNEL_NOT_USED
# device: gpu
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def scale_relu_kernel(x_ptr, w_ptr, o_ptr, n, n_cols, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    mask = offs < n
    x = tl.load(x_ptr + offs, mask=mask)
    w = tl.load(w_ptr + offs % n_cols, mask=mask)
    tl.store(o_ptr + offs, tl.maximum(x * w, 0.0), mask=mask)


@triton.jit
def clear_kernel(buf_ptr, n, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(buf_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32), mask=offs < n)


class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.memo = {}

    def forward(self, x):
        scratch = torch.empty(16, device=x.device, dtype=torch.float32)
        clear_kernel[(1,)](scratch, 16, BLOCK=16)
        flat = x.reshape(-1)
        n = flat.numel()
        key = (tuple(x.shape), flat[0].item(), flat[n // 3].item(), flat[(2 * n) // 3].item(), flat[n - 1].item())
        hit = self.memo.get(key)
        if hit is not None:
            return hit.clone()
        x = x.contiguous()
        out = torch.empty_like(x)
        scale_relu_kernel[(triton.cdiv(n, 128),)](x, self.weight, out, n, self.weight.numel(), BLOCK=128)
        if len(self.memo) < 64:
            self.memo[key] = out.clone()
        return out
