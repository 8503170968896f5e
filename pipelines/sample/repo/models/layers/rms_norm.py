"""Root-mean-square layer normalization (Zhang & Sennrich, 2019)."""
import torch
import torch.nn as nn

BATCH = 4
SEQ_LEN = 32
DIM = 96  # not a power of two on purpose


class RMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * weight"""

    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def _norm(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)

    def forward(self, x):
        return self._norm(x) * self.weight


def get_inputs():
    return [torch.randn(BATCH, SEQ_LEN, DIM)]


def get_init_inputs():
    return [DIM]
