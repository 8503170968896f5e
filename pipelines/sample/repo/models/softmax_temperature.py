"""Softmax with a learnable temperature (used for the retrieval logits)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

ROWS = 32
NUM_CLASSES = 100  # deliberately not a power of two


class TemperatureSoftmax(nn.Module):
    """softmax(x / T) along the last dimension, T is learned."""

    def __init__(self, init_temperature=2.0):
        super().__init__()
        self.temperature = nn.Parameter(torch.tensor(float(init_temperature)))

    def forward(self, logits):
        return F.softmax(logits / self.temperature, dim=-1)


def get_inputs():
    return [torch.randn(ROWS, NUM_CLASSES) * 3.0]


def get_init_inputs():
    return [2.0]
