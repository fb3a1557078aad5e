"""Image quality metrics shared by training's validation and evaluation.

HDR images are compared after the Noise2Noise tonemap T(v) = (v / (1 + v))^(1/2.2), clipped
to [0, 1], so PSNR has a peak of 1; relMSE = mean((x - y)^2 / (y^2 + 0.01)).
"""

from __future__ import annotations

import torch


def tonemap(linear: torch.Tensor) -> torch.Tensor:
    """Linear HDR (>= 0) to [0, 1) display values, as the N2N paper's T(v)."""
    linear = linear.clamp(min=0.0)
    return (linear / (1.0 + linear)) ** (1.0 / 2.2)


def psnr(pred: torch.Tensor, target: torch.Tensor, peak: float = 1.0) -> torch.Tensor:
    """PSNR in dB per image of a (B, C, H, W) batch (or of one (C, H, W) image); inf when equal."""
    dims = tuple(range(-3, 0))
    mse = ((pred.float() - target.float()) ** 2).mean(dim=dims)
    return 10.0 * torch.log10(peak**2 / mse)


def psnr_tonemapped(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR of tonemapped linear HDR images (peak 1)."""
    return psnr(tonemap(pred), tonemap(target))


def psnr_ldr(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """PSNR of LDR images in [0, 1] (prediction clipped first)."""
    return psnr(pred.clamp(0.0, 1.0), target.clamp(0.0, 1.0))


def relmse(pred: torch.Tensor, target: torch.Tensor, eps: float = 0.01) -> torch.Tensor:
    """Relative MSE per image, mean((x - y)^2 / (y^2 + eps)), on linear HDR."""
    dims = tuple(range(-3, 0))
    pred, target = pred.float(), target.float()
    return ((pred - target) ** 2 / (target**2 + eps)).mean(dim=dims)
