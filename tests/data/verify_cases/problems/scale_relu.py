import torch
import torch.nn as nn


class Model(nn.Module):
    """relu(x * weight), the weight broadcast over the rows."""

    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        return torch.relu(x * self.weight)


def get_inputs():
    return [torch.randn(6, 100)]


def get_init_inputs():
    return [100]
