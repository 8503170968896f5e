"""Squeeze-and-Excitation channel attention (Hu et al., 2018)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 2
CHANNELS = 16
SIZE = 8
REDUCTION = 4


class GlobalAvgPool(nn.Module):
    """(N, C, H, W) -> (N, C)"""

    def forward(self, x):
        return x.mean(dim=(2, 3))


class SqueezeExcite(nn.Module):
    def __init__(self, channels, reduction=4):
        super(SqueezeExcite, self).__init__()
        hidden = max(channels // reduction, 1)
        self.pool = GlobalAvgPool()
        self.fc1 = nn.Linear(channels, hidden)
        self.fc2 = nn.Linear(hidden, channels)

    def forward(self, x):
        s = self.pool(x)
        s = F.relu(self.fc1(s))
        s = torch.sigmoid(self.fc2(s))
        return x * s[:, :, None, None]


def get_inputs():
    return [torch.randn(BATCH, CHANNELS, SIZE, SIZE)]


def get_init_inputs():
    return [CHANNELS, REDUCTION]


if __name__ == "__main__":
    se = SqueezeExcite(CHANNELS, REDUCTION)
    print(se(*get_inputs()).shape)
