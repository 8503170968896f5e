import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """Token-level cross entropy of LM logits (mean over tokens), as LigerCrossEntropyLoss computes it."""

    def __init__(self):
        super().__init__()

    def forward(self, logits, target):
        return F.cross_entropy(logits, target, ignore_index=-100, reduction="mean")


BT, VOCAB = 16, 1000


def get_inputs():
    logits = torch.randn(BT, VOCAB)
    target = torch.randint(0, VOCAB, (BT,))
    return [logits, target]


def get_init_inputs():
    return []
