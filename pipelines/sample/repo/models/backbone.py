"""Small convolutional backbone assembled from residual stages.

This file only defines the architecture; see scripts/train.py for usage.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

DEFAULT_WIDTHS = (16, 32, 64)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super(BasicBlock, self).__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class Backbone(nn.Module):
    def __init__(self, in_channels=3, widths=DEFAULT_WIDTHS, num_classes=10):
        super(Backbone, self).__init__()
        self.stem = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)
        layers = []
        in_planes = widths[0]
        for i, w in enumerate(widths):
            layers.append(BasicBlock(in_planes, w, stride=1 if i == 0 else 2))
            in_planes = w
        self.layers = nn.Sequential(*layers)
        self.head = nn.Linear(in_planes, num_classes)

    def forward(self, x):
        x = F.relu(self.stem(x))
        x = self.layers(x)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.head(x)
