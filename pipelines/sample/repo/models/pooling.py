"""ResNet-style stem pooling (3x3 max pool, stride 2) with a per-channel affine."""
import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 2
CHANNELS = 8
SIZE = 16


class MaxPoolAffine(nn.Module):
    def __init__(self, channels, kernel_size=3, stride=2, padding=1):
        super(MaxPoolAffine, self).__init__()
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.gamma = nn.Parameter(torch.ones(channels))
        self.beta = nn.Parameter(torch.zeros(channels))

    def forward(self, x):
        x = F.max_pool2d(x, self.kernel_size, self.stride, self.padding)
        return x * self.gamma[None, :, None, None] + self.beta[None, :, None, None]


def get_inputs():
    return [torch.randn(BATCH, CHANNELS, SIZE, SIZE)]


def get_init_inputs():
    return [CHANNELS, 3, 2, 1]
