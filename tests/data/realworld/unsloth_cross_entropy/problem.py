import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """Causal-LM loss: cross entropy over (batch, seq_len) labels with -100 padding, mean over real tokens."""

    def __init__(self):
        super().__init__()

    def forward(self, logits, labels):
        vocab = logits.shape[-1]
        return F.cross_entropy(logits.reshape(-1, vocab), labels.reshape(-1), ignore_index=-100)


BATCH, SEQ_LEN, VOCAB = 2, 32, 1000


def get_inputs():
    logits = torch.randn(BATCH, SEQ_LEN, VOCAB)
    labels = torch.randint(0, VOCAB, (BATCH, SEQ_LEN))
    labels[0, -5:] = -100  # right padding of the shorter sequence
    labels[:, 0] = -100  # no loss on the first (prompt) token
    return [logits, labels]


def get_init_inputs():
    return []
