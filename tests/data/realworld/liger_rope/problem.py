import torch
import torch.nn as nn


def rotate_half(x):
    """Rotates half the hidden dims of the input (HF transformers, modeling_llama.py)."""
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


class Model(nn.Module):
    """Llama / Mistral rotary position embedding: HF apply_rotary_pos_emb with unsqueeze_dim=1."""

    def __init__(self):
        super().__init__()

    def forward(self, q, k, cos, sin):
        cos = cos.unsqueeze(1)
        sin = sin.unsqueeze(1)
        q_embed = (q * cos) + (rotate_half(q) * sin)
        k_embed = (k * cos) + (rotate_half(k) * sin)
        return q_embed, k_embed


BSZ, N_Q_HEADS, N_KV_HEADS, SEQ_LEN, HEAD_DIM = 2, 4, 2, 16, 32
ROPE_THETA = 10000.0


def get_inputs():
    q = torch.randn(BSZ, N_Q_HEADS, SEQ_LEN, HEAD_DIM)
    k = torch.randn(BSZ, N_KV_HEADS, SEQ_LEN, HEAD_DIM)
    # cos/sin exactly as LlamaRotaryEmbedding builds them: (1, seq_len, head_dim), duplicated halves
    inv_freq = 1.0 / (ROPE_THETA ** (torch.arange(0, HEAD_DIM, 2, dtype=torch.int64).float() / HEAD_DIM))
    position_ids = torch.arange(SEQ_LEN)[None, :]
    freqs = (inv_freq[None, :, None] @ position_ids[:, None, :].float()).transpose(1, 2)
    emb = torch.cat((freqs, freqs), dim=-1)
    return [q, k, emb.cos(), emb.sin()]


def get_init_inputs():
    return []
