import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """nn.LayerNorm over the last dimension."""

    def __init__(self, hidden_size, eps=1e-5):
        super().__init__()
        self.normalized_shape = (hidden_size,)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.bias = nn.Parameter(torch.zeros(hidden_size))

    def forward(self, x):
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)


HIDDEN = 384


def get_inputs():
    return [torch.randn(8, 16, HIDDEN)]


def get_init_inputs():
    return [HIDDEN, 1e-5]
