import torch
import torch.nn as nn


class Model(nn.Module):
    """FP16 matrix multiplication C = A @ B (fp16 output)."""

    def __init__(self):
        super().__init__()

    def forward(self, a, b):
        return torch.matmul(a, b)


M, K, N = 256, 192, 320


def get_inputs():
    a = torch.randn(M, K, dtype=torch.float16)
    b = torch.randn(K, N, dtype=torch.float16)
    return [a, b]


def get_init_inputs():
    return []
