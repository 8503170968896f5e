"""Statistics pooling over time, as in x-vector speaker embeddings.

Concatenates the per-channel mean and max over the time axis after a
learned per-channel gain.
"""
import torch
import torch.nn as nn

BATCH = 4
CHANNELS = 16
FRAMES = 200


class StatPool(nn.Module):
    def __init__(self, channels):
        super(StatPool, self).__init__()
        self.gain = nn.Parameter(torch.ones(channels))

    def forward(self, x):
        # x: (B, C, T)
        x = x * self.gain.view(1, -1, 1)
        mean = x.mean(dim=-1)
        peak = x.amax(dim=-1)
        return torch.cat([mean, peak], dim=1)  # (B, 2C)


def get_inputs():
    return [torch.randn(BATCH, CHANNELS, FRAMES)]


def get_init_inputs():
    return [CHANNELS]
