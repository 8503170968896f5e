"""Cosine-similarity classifier (normalized features against normalized prototypes)."""
import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 16
IN_FEATURES = 64
NUM_CLASSES = 16


class L2Norm(nn.Module):
    """Normalize along `dim` to unit L2 norm."""

    def __init__(self, dim=-1, eps=1e-12):
        super(L2Norm, self).__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x):
        return F.normalize(x, p=2.0, dim=self.dim, eps=self.eps)


class CosineClassifier(nn.Module):
    def __init__(self, in_features, num_classes, scale=10.0):
        super(CosineClassifier, self).__init__()
        self.scale = scale
        self.l2norm = L2Norm(dim=-1)
        self.prototypes = nn.Parameter(torch.randn(num_classes, in_features))

    def forward(self, x):
        return self.scale * F.linear(self.l2norm(x), self.l2norm(self.prototypes))


def get_inputs():
    return [torch.randn(BATCH, IN_FEATURES)]


def get_init_inputs():
    return [IN_FEATURES, NUM_CLASSES, 10.0]
