"""Multi-head self-attention written out by hand (no F.scaled_dot_product_attention).

Kept explicit so the attention maps can be inspected during debugging.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 2
SEQ_LEN = 16
EMBED_DIM = 32
NUM_HEADS = 2


def split_heads(t, num_heads):
    """(B, S, E) -> (B, H, S, E // H)"""
    b, s, e = t.shape
    return t.view(b, s, num_heads, e // num_heads).transpose(1, 2)


def merge_heads(t):
    """(B, H, S, D) -> (B, S, H * D)"""
    b, h, s, d = t.shape
    return t.transpose(1, 2).contiguous().view(b, s, h * d)


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super(MultiHeadSelfAttention, self).__init__()
        assert embed_dim % num_heads == 0, "embed_dim must be divisible by num_heads"
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.qkv = nn.Linear(embed_dim, 3 * embed_dim)
        self.proj = nn.Linear(embed_dim, embed_dim)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        q = split_heads(q, self.num_heads)
        k = split_heads(k, self.num_heads)
        v = split_heads(v, self.num_heads)
        scores = torch.matmul(q, k.transpose(-2, -1)) / math.sqrt(self.head_dim)
        attn = F.softmax(scores, dim=-1)
        out = merge_heads(torch.matmul(attn, v))
        return self.proj(out)


def get_inputs():
    return [torch.randn(BATCH, SEQ_LEN, EMBED_DIM)]


def get_init_inputs():
    return [EMBED_DIM, NUM_HEADS]


if __name__ == "__main__":
    mhsa = MultiHeadSelfAttention(*get_init_inputs())
    y = mhsa(*get_inputs())
    print("output:", tuple(y.shape))
