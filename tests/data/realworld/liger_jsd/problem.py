import torch
import torch.nn as nn


class Model(nn.Module):
    """Generalized Jensen-Shannon divergence (beta=0.5) between student and teacher token distributions
    (both log-probs), averaged over the tokens whose label is not ignore_index (distillation loss)."""

    def __init__(self, beta=0.5, ignore_index=-100):
        super().__init__()
        self.beta = beta
        self.ignore_index = ignore_index

    def forward(self, student_log_probs, teacher_log_probs, shift_labels):
        log_q, log_p = student_log_probs, teacher_log_probs
        m = torch.lerp(torch.exp(log_q), torch.exp(log_p), self.beta)
        log_m = torch.log(m)
        kl_p = (torch.exp(log_p) * (log_p - log_m)).sum(dim=-1)
        kl_q = (torch.exp(log_q) * (log_q - log_m)).sum(dim=-1)
        loss = self.beta * kl_p + (1 - self.beta) * kl_q
        keep = shift_labels != self.ignore_index
        loss = torch.where(keep, loss, torch.zeros_like(loss))
        return loss.sum() / keep.sum()


BT, VOCAB = 16, 1000


def get_inputs():
    student_log_probs = torch.log_softmax(torch.randn(BT, VOCAB), dim=-1)
    teacher_log_probs = torch.log_softmax(torch.randn(BT, VOCAB), dim=-1)
    shift_labels = torch.randint(0, VOCAB, (BT,))
    shift_labels[-3:] = -100  # padding positions
    return [student_log_probs, teacher_log_probs, shift_labels]


def get_init_inputs():
    return [0.5, -100]
