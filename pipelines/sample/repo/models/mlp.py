"""Transformer feed-forward block: Linear -> GELU -> Linear."""
import torch
import torch.nn as nn
import torch.nn.functional as F

TOKENS = 32
IN_FEATURES = 32
HIDDEN = 64
OUT_FEATURES = 32


class FeedForward(nn.Module):
    """Position-wise feed-forward network (no dropout, inference flavour)."""

    def __init__(self, in_features, hidden_features, out_features):
        super().__init__()
        self.fc1 = nn.Linear(in_features, hidden_features)
        self.fc2 = nn.Linear(hidden_features, out_features)

    def forward(self, x):
        x = self.fc1(x)
        x = F.gelu(x)
        return self.fc2(x)


def get_inputs():
    return [torch.randn(TOKENS, IN_FEATURES)]


def get_init_inputs():
    return [IN_FEATURES, HIDDEN, OUT_FEATURES]


if __name__ == "__main__":
    ffn = FeedForward(*get_init_inputs())
    print(sum(p.numel() for p in ffn.parameters()), "parameters")
    print(ffn(*get_inputs()).shape)
