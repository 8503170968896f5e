"""LayerNorm over the last dimension, written out explicitly.

Matches torch.nn.LayerNorm(elementwise_affine=True) numerically; kept as a
separate class so we can experiment with the statistics computation.
"""
import torch
import torch.nn as nn

BATCH = 8
SEQ_LEN = 16
HIDDEN = 64
EPS = 1e-5


class LayerNorm(nn.Module):
    def __init__(self, normalized_shape, eps=EPS):
        super(LayerNorm, self).__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape))

    def forward(self, x):
        mean = x.mean(dim=-1, keepdim=True)
        var = (x - mean).pow(2).mean(dim=-1, keepdim=True)  # biased, like torch
        x_hat = (x - mean) / torch.sqrt(var + self.eps)
        return x_hat * self.weight + self.bias


def get_inputs():
    return [torch.randn(BATCH, SEQ_LEN, HIDDEN)]


def get_init_inputs():
    return [HIDDEN]


if __name__ == "__main__":
    ln = LayerNorm(HIDDEN)
    ref = nn.LayerNorm(HIDDEN)
    x = get_inputs()[0]
    print("max diff vs nn.LayerNorm:", (ln(x) - ref(x)).abs().max().item())
