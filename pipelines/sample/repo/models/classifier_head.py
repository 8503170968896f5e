"""Classification head: global average pooling followed by a linear layer."""
import torch
import torch.nn as nn

BATCH = 4
IN_CHANNELS = 16
SPATIAL = 8
NUM_CLASSES = 10


class ClassifierHead(nn.Module):
    def __init__(self, in_channels, num_classes):
        super(ClassifierHead, self).__init__()
        self.fc = nn.Linear(in_channels, num_classes)

    def forward(self, x):
        # (N, C, H, W) -> (N, C) -> (N, num_classes)
        x = x.mean(dim=(2, 3))
        return self.fc(x)


def get_inputs():
    return [torch.randn(BATCH, IN_CHANNELS, SPATIAL, SPATIAL)]


def get_init_inputs():
    return [IN_CHANNELS, NUM_CLASSES]
