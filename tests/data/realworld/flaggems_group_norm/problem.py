import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """nn.GroupNorm(num_groups, num_channels) on an NCHW feature map."""

    def __init__(self, num_groups, num_channels, eps=1e-5):
        super().__init__()
        self.num_groups = num_groups
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(num_channels))
        self.bias = nn.Parameter(torch.zeros(num_channels))

    def forward(self, x):
        return F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)


def get_inputs():
    return [torch.randn(2, 16, 8, 8)]


def get_init_inputs():
    return [4, 16, 1e-5]
