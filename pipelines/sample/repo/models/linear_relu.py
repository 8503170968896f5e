"""Fused projection + ReLU used as the stem of the tabular encoder."""
import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 16
IN_FEATURES = 64
OUT_FEATURES = 32


class LinearReLU(nn.Module):
    """y = relu(x @ W^T + b)

    Args:
        in_features: size of each input sample
        out_features: size of each output sample
    """

    def __init__(self, in_features, out_features):
        super(LinearReLU, self).__init__()
        self.fc = nn.Linear(in_features, out_features)

    def forward(self, x):
        return F.relu(self.fc(x))


def get_inputs():
    return [torch.randn(BATCH, IN_FEATURES)]


def get_init_inputs():
    return [IN_FEATURES, OUT_FEATURES]


if __name__ == "__main__":
    model = LinearReLU(*get_init_inputs())
    out = model(*get_inputs())
    print(out.shape, (out > 0).float().mean().item())
