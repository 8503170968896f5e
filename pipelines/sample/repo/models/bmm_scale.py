"""Batched matmul with a learned output scale (bilinear pairing of two sets)."""
import torch
import torch.nn as nn

BATCH = 4
M = 32
K = 48
N = 32


class Model(nn.Module):
    """out[b] = scale * (a[b] @ b[b])"""

    def __init__(self, init_scale=0.5):
        super(Model, self).__init__()
        self.scale = nn.Parameter(torch.full((1,), float(init_scale)))

    def forward(self, a, b):
        return torch.bmm(a, b) * self.scale


def get_inputs():
    return [torch.randn(BATCH, M, K), torch.randn(BATCH, K, N)]


def get_init_inputs():
    return [0.5]
