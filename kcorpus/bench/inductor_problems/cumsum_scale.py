import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        pass

    def forward(self, x):
        return torch.cumsum(x, dim=-1) * 0.5


def get_inputs():
    return [torch.randn(128, 4096)]


def get_init_inputs():
    return []
