"""Knowledge-distillation loss (Hinton et al., 2015).

KL(softmax(teacher / T) || softmax(student / T)) * T^2, averaged over the batch.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 16
NUM_CLASSES = 10
TEMPERATURE = 2.0


class DistillationLoss(nn.Module):
    def __init__(self, temperature=TEMPERATURE):
        super().__init__()
        self.temperature = temperature

    def forward(self, student_logits, teacher_logits):
        t = self.temperature
        log_p = F.log_softmax(student_logits / t, dim=-1)
        q = F.softmax(teacher_logits / t, dim=-1)
        return F.kl_div(log_p, q, reduction="batchmean") * (t * t)


def get_inputs():
    return [torch.randn(BATCH, NUM_CLASSES), torch.randn(BATCH, NUM_CLASSES)]


def get_init_inputs():
    return [TEMPERATURE]
