import torch
import torch.nn as nn


class Model(nn.Module):
    """LlamaRMSNorm (HF transformers): x * rsqrt(mean(x^2) + eps) * weight."""

    def __init__(self, hidden_size, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(hidden_size))
        self.variance_epsilon = eps

    def forward(self, hidden_states):
        input_dtype = hidden_states.dtype
        hidden_states = hidden_states.to(torch.float32)
        variance = hidden_states.pow(2).mean(-1, keepdim=True)
        hidden_states = hidden_states * torch.rsqrt(variance + self.variance_epsilon)
        return self.weight * hidden_states.to(input_dtype)


HIDDEN = 256


def get_inputs():
    return [torch.randn(2, 16, HIDDEN)]


def get_init_inputs():
    return [HIDDEN, 1e-6]
