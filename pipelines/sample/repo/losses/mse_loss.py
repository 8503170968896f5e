"""Feature-weighted mean squared error for multi-target regression."""
import torch
import torch.nn as nn

BATCH = 32
NUM_TARGETS = 64


class WeightedMSELoss(nn.Module):
    """mean_{i,j} w_j * (pred_ij - target_ij)^2, returns a scalar."""

    def __init__(self, num_targets):
        super(WeightedMSELoss, self).__init__()
        self.weight = nn.Parameter(torch.ones(num_targets))

    def forward(self, pred, target):
        return ((pred - target) ** 2 * self.weight).mean()


def get_inputs():
    return [torch.randn(BATCH, NUM_TARGETS), torch.randn(BATCH, NUM_TARGETS)]


def get_init_inputs():
    return [NUM_TARGETS]
