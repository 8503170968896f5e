"""Per-feature affine transform followed by exact (erf) GELU."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

ROWS = 64
FEATURES = 128


def gelu_erf(x):
    """Exact GELU: x * Phi(x). Same as F.gelu(x) but spelled out."""
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


class ScaleBiasGELU(nn.Module):
    """gelu(x * scale + bias) with learned per-feature scale and bias."""

    def __init__(self, num_features):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(num_features))
        self.bias = nn.Parameter(torch.zeros(num_features))

    def forward(self, x):
        return gelu_erf(x * self.scale + self.bias)


def get_inputs():
    return [torch.randn(ROWS, FEATURES)]


def get_init_inputs():
    return [FEATURES]
