"""Wraps a timm backbone with a fresh linear classifier."""
import timm
import torch
import torch.nn as nn

BATCH = 2
NUM_CLASSES = 10


class TimmClassifier(nn.Module):
    def __init__(self, model_name="resnet18", num_classes=NUM_CLASSES):
        super().__init__()
        self.backbone = timm.create_model(model_name, pretrained=False, num_classes=0)
        self.head = nn.Linear(self.backbone.num_features, num_classes)

    def forward(self, x):
        return self.head(self.backbone(x))


def get_inputs():
    return [torch.randn(BATCH, 3, 32, 32)]


def get_init_inputs():
    return ["resnet18", NUM_CLASSES]
