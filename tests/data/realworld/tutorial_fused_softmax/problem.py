import torch
import torch.nn as nn


class Model(nn.Module):
    """Row-wise softmax of a 2-D matrix whose rows fit in SRAM."""

    def __init__(self):
        super().__init__()

    def forward(self, x):
        return torch.softmax(x, dim=1)


def get_inputs():
    return [torch.randn(256, 781)]


def get_init_inputs():
    return []
