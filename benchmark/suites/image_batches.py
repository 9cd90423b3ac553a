"""Training sets of images kept as uint8 and turned into float batches only when drawn, so a
50,000-image set never sits in memory as floats."""

from __future__ import annotations

import torch


class ImageBatches:
    """uint8 N×C×H×W images that index like a float tensor in [-1, 1]: ``x[idx]`` converts only
    the rows drawn, so a 200k-image CelebA stays 1 byte per pixel in memory."""

    def __init__(self, images: torch.Tensor):
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, idx) -> torch.Tensor:
        return self.images[idx].float().div_(127.5).sub_(1.0)

    def to(self, device) -> ImageBatches:
        """The uint8 images on ``device`` (a quarter of the memory of floats there)."""
        return ImageBatches(self.images.to(device))


class StackedBatches:
    """Stacked digits: row i is the three 1-channel images ``triples[i]`` as R, G, B, composed
    when drawn (128,000 stacks would be 390 MB of uint8 if materialised)."""

    def __init__(self, images_1ch: torch.Tensor, triples: torch.Tensor):
        self.images, self.triples = images_1ch[:, 0], triples

    def __len__(self) -> int:
        return len(self.triples)

    def __getitem__(self, idx) -> torch.Tensor:
        return self.images[self.triples[idx]].float().div_(127.5).sub_(1.0)

    def to(self, device) -> StackedBatches:
        out = StackedBatches(self.images[:, None].to(device), self.triples)
        return out
