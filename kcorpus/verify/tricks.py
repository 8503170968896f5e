"""A small problem and candidates for it, as source text: honest, awkward, wrong, crashing,
hanging, and one for each known way of cheating (DESIGN.md, "Verification"). The verifier tests
and `kcorpus bench verify` use them; nothing here is imported as code into the pipeline."""

PROBLEM = '''
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return torch.relu(x * self.weight)


def get_inputs():
    return [torch.randn(6, 100)]


def get_init_inputs():
    return [100]
'''

HEADER = '''
import torch
import torch.nn as nn
import triton
import triton.language as tl
'''

KERNEL = '''
@triton.jit
def scale_relu(x_ptr, w_ptr, o_ptr, n, N: tl.constexpr, BLOCK: tl.constexpr):
    """Scale by the weight and clamp at zero; masked, so any size passes."""
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    x = tl.load(x_ptr + offs, mask=m)
    w = tl.load(w_ptr + offs % N, mask=m)
    tl.store(o_ptr + offs, tl.maximum(x * w, 0.0), mask=m)
'''

MODEL_NEW = '''
class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        n = x.numel()
        scale_relu[(triton.cdiv(n, 128),)](x, self.weight, out, n, self.weight.numel(), BLOCK=128)
        return out
'''

HONEST = HEADER + KERNEL + MODEL_NEW


def variant(old: str, new: str, base: str = HONEST) -> str:
    assert old in base, old
    return base.replace(old, new)


WRONG = variant("tl.maximum(x * w, 0.0)", "tl.maximum(x, 0.0)")
SEGFAULT = variant("w = tl.load(w_ptr + offs % N, mask=m)", "w = tl.load(w_ptr + offs * 2000000)")
HANG = variant("        n = x.numel()\n",
               "        n = x.numel()\n        while n > 0:\n            n = n + 1\n")
HUGE_ALLOC = variant("out = torch.empty_like(x)", "out = torch.empty(1 << 40)")
TORCH_OPS = variant("        return out\n", "        return out * 1.0 + (x - x)\n")
NO_LAUNCH = variant(
    "        scale_relu[(triton.cdiv(n, 128),)](x, self.weight, out, n, self.weight.numel(), "
    "BLOCK=128)\n", "        if n < 0:\n            scale_relu[(1,)](x, x, x, n, 1, BLOCK=128)\n")



# -- the known tricks (DESIGN.md, "Verification"), each a candidate that uses it ---------------

NOOP_KERNEL = '''
@triton.jit
def touch(o_ptr, BLOCK: tl.constexpr):
    offs = tl.arange(0, BLOCK)
    tl.store(o_ptr + offs, tl.zeros((BLOCK,), dtype=tl.float32))
'''

FREED_BUFFER = HEADER + NOOP_KERNEL + '''
class ModelNew(nn.Module):
    """Hopes torch.empty hands back the reference's freed output, values and all."""
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        scratch = torch.empty(16, device=x.device)
        touch[(1,)](scratch, BLOCK=16)
        return torch.empty_like(x)
'''

ZERO_INPUTS = variant("    tl.store(o_ptr + offs, tl.maximum(x * w, 0.0), mask=m)\n",
                      "    tl.store(o_ptr + offs, tl.maximum(x * w, 0.0), mask=m)\n"
                      "    tl.store(x_ptr + offs, x * 0.0, mask=m)\n")

CACHE_BY_IDENTITY = variant("        x = x.contiguous()\n", (
    "        key = x.data_ptr()\n"
    "        if not hasattr(self, 'memo'):\n"
    "            self.memo = {}\n"
    "        if key in self.memo:\n"
    "            return self.memo[key]\n"
    "        x = x.contiguous()\n")).replace("        return out\n",
                                          "        self.memo[key] = out\n        return out\n")

LAZY_SUBCLASS = variant("class ModelNew(nn.Module):", (
    "class Lazy(torch.Tensor):\n    pass\n\n\nclass ModelNew(nn.Module):")).replace(
    "        return out\n", "        return out.as_subclass(Lazy)\n")

TIMER_PATCH = variant("        return out\n",
                      "        torch.cuda.Event.elapsed_time = lambda a, b: 0.001\n"
                      "        return out\n")

SIDE_STREAM = variant("        scale_relu[(", "        with torch.cuda.stream(torch.cuda.Stream()):\n"
                      "            scale_relu[(")

GC_READ = "import gc\n" + HONEST

SYS_MODULES = "import sys\n" + variant("        return out\n",
                                       "        return sys.modules['kc_reference'].Model(1)(x)\n")

# honest, but beyond Triton's CPU interpreter: a libdevice function, inline assembly
LIBDEVICE = variant("import triton.language as tl\n",
                    "import triton.language as tl\nfrom triton.language.extra import libdevice\n"
                    ).replace("tl.maximum(x * w, 0.0)", "libdevice.asinh(tl.maximum(x * w, 0.0))")
INLINE_ASM = variant("tl.maximum(x * w, 0.0)", 'tl.inline_asm_elementwise("mov.b32 $0, $1;", "=r,r", '
                     "[tl.maximum(x * w, 0.0)], dtype=tl.float32, is_pure=True, pack=1)")
# honest: a second, small output that torch computes beside the kernel's (glue, recorded)
GLUE_PROBLEM = PROBLEM.replace("return torch.relu(x * self.weight)",
                               "return torch.relu(x * self.weight), (x[:, :1] > 0).sum()")
GLUE = variant("        return out\n", "        return out, (x[:, :1] > 0).sum()\n")
# try/except around a launch that always fails, falling back to torch
FALLBACK = variant("        scale_relu[(triton.cdiv(n, 128),)](x, self.weight, out, n, self.weight.numel(), "
                   "BLOCK=128)\n",
                   "        try:\n            scale_relu[(triton.cdiv(n, 128),)](x, self.weight, out, n)\n"
                   "        except Exception:\n            return torch.relu(x * self.weight)\n")
RUNTIME_NAME = variant("        return out\n", "        return getattr(out, 'relu')()\n")

IGNORES_HIDDEN_WEIGHT = variant("tl.maximum(x * w, 0.0)", "tl.maximum(x * 1.0, 0.0)")

# a problem whose outputs are all tiny: returning zeros must not pass
TINY_PROBLEM = PROBLEM.replace("return torch.relu(x * self.weight)",
                               "return torch.relu(x * self.weight) * 1e-6")
ZEROS_FOR_TINY = variant("tl.maximum(x * w, 0.0)", "tl.maximum(x * w, 0.0) * 0.0")
HONEST_FOR_TINY = variant("tl.maximum(x * w, 0.0)", "tl.maximum(x * w, 0.0) * 1e-6")

# -- awkward but honest ------------------------------------------------------------------------

# inputs that are not contiguous: the candidate reads them through their strides
STRIDED_PROBLEM = PROBLEM.replace("return [torch.randn(6, 100)]",
                                  "return [torch.randn(100, 6).t()]")
STRIDED = HEADER + '''
@triton.jit
def scale_relu_2d(x_ptr, w_ptr, o_ptr, rows, cols, sx0, sx1, BLOCK: tl.constexpr):
    r = tl.program_id(0)
    c = tl.arange(0, BLOCK)
    m = c < cols
    x = tl.load(x_ptr + r * sx0 + c * sx1, mask=m)
    w = tl.load(w_ptr + c, mask=m)
    tl.store(o_ptr + r * cols + c, tl.maximum(x * w, 0.0), mask=m)


class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        rows, cols = x.shape
        out = torch.empty((rows, cols), device=x.device, dtype=x.dtype)
        scale_relu_2d[(rows,)](x, self.weight, out, rows, cols, x.stride(0), x.stride(1),
                               BLOCK=triton.next_power_of_2(cols))
        return out
'''

# two kernels: scale, then clamp
TWO_KERNELS = HEADER + '''
@triton.jit
def scale(x_ptr, w_ptr, o_ptr, n, N: tl.constexpr, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(o_ptr + offs, tl.load(x_ptr + offs, mask=m) * tl.load(w_ptr + offs % N, mask=m),
             mask=m)


@triton.jit
def relu_inplace(o_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    m = offs < n
    tl.store(o_ptr + offs, tl.maximum(tl.load(o_ptr + offs, mask=m), 0.0), mask=m)


class ModelNew(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        x = x.contiguous()
        out = torch.empty_like(x)
        n = x.numel()
        grid = (triton.cdiv(n, 64),)
        scale[grid](x, self.weight, out, n, self.weight.numel(), BLOCK=64)
        relu_inplace[grid](out, n, BLOCK=64)
        return out
'''
