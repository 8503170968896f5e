"""Basic 3x3 convolution block (conv -> ReLU), as used in the VGG-style trunk."""
import torch
import torch.nn as nn
import torch.nn.functional as F

BATCH = 2
IN_CHANNELS = 4
OUT_CHANNELS = 8
HEIGHT = 16
WIDTH = 16
KERNEL_SIZE = 3


def conv3x3(in_planes, out_planes, stride=1):
    """3x3 convolution with 'same' padding."""
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=True)


class ConvBlock(nn.Module):
    def __init__(self, in_channels, out_channels, kernel_size=3):
        super(ConvBlock, self).__init__()
        assert kernel_size == 3, "only 3x3 kernels are supported for now"
        self.conv = conv3x3(in_channels, out_channels)

    def forward(self, x):
        # x: (N, C_in, H, W) -> (N, C_out, H, W)
        return F.relu(self.conv(x))


def get_inputs():
    return [torch.randn(BATCH, IN_CHANNELS, HEIGHT, WIDTH)]


def get_init_inputs():
    return [IN_CHANNELS, OUT_CHANNELS, KERNEL_SIZE]
