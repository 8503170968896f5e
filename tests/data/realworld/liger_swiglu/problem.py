import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    """SwiGLU activation of a Llama MLP: silu(gate) * up (LigerSiLUMulFunction)."""

    def __init__(self):
        super().__init__()

    def forward(self, gate, up):
        return F.silu(gate) * up


def get_inputs():
    gate = torch.randn(2, 16, 256)
    up = torch.randn(2, 16, 256)
    return [gate, up]


def get_init_inputs():
    return []
