"""Post-norm residual connection: LayerNorm(x + sublayer(x)).

The sublayer output is passed in so the block can wrap attention or MLPs.
"""
import torch
import torch.nn as nn

BATCH = 8
SEQ_LEN = 16
D_MODEL = 64


class AddNorm(nn.Module):
    def __init__(self, d_model, eps=1e-5):
        super(AddNorm, self).__init__()
        self.norm = nn.LayerNorm(d_model, eps=eps)

    def forward(self, x, sublayer_out):
        return self.norm(x + sublayer_out)


def get_inputs():
    return [torch.randn(BATCH, SEQ_LEN, D_MODEL), torch.randn(BATCH, SEQ_LEN, D_MODEL)]


def get_init_inputs():
    return [D_MODEL]
