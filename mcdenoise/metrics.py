"""Image quality metrics shared by training's validation, ``evaluate`` and ``compare``.

Every metric takes linear HDR images (C, H, W) or batches (B, C, H, W), prediction first,
reference second, and returns one value per image:

- ``psnr_tonemapped``: PSNR (peak 1) after the Noise2Noise tonemap
  T(v) = (v / (1 + v))^(1/2.2), which maps [0, inf) to [0, 1).
- ``relmse``: mean((x - y)^2 / (y^2 + 0.01)) on linear values (Rousselle et al. 2011).
- ``smape``: mean(|x - y| / (|x| + |y| + 0.01)) on linear values (Vogels et al. 2018).
- ``ssim``: SSIM (Wang et al. 2004) of the tonemapped images: 11x11 Gaussian window,
  sigma 1.5, K1 = 0.01, K2 = 0.03, data range 1, averaged over valid windows and channels.
- ``flip``: mean HDR-FLIP (NVIDIA's ``flip-evaluator``, default settings: 67 pixels per
  degree, exposure range found from the reference); LDR-FLIP for images in [0, 1].
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F


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


def relmse(pred: torch.Tensor, target: torch.Tensor, eps: float = 0.01) -> torch.Tensor:
    """Relative MSE per image, mean((x - y)^2 / (y^2 + eps)), on linear HDR."""
    dims = tuple(range(-3, 0))
    pred, target = pred.float(), target.float()
    return ((pred - target) ** 2 / (target**2 + eps)).mean(dim=dims)


def smape(pred: torch.Tensor, target: torch.Tensor, eps: float = 0.01) -> torch.Tensor:
    """Symmetric mean absolute percentage error per image, on linear HDR."""
    dims = tuple(range(-3, 0))
    pred, target = pred.float(), target.float()
    return ((pred - target).abs() / (pred.abs() + target.abs() + eps)).mean(dim=dims)


@functools.lru_cache(maxsize=4)
def _gaussian(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return (g / g.sum()).float()


def ssim(pred: torch.Tensor, target: torch.Tensor, tonemapped: bool = True) -> torch.Tensor:
    """Mean SSIM per image; linear HDR is tonemapped first (``tonemapped=False``: the inputs
    are already display values in [0, 1])."""
    if tonemapped:
        pred, target = tonemap(pred.float()), tonemap(target.float())
    single = pred.dim() == 3
    x, y = (t.float()[None] if single else t.float() for t in (pred, target))
    channels = x.shape[1]
    g = _gaussian()
    size = g.numel()
    if min(x.shape[-2:]) < size:
        raise ValueError(f"SSIM needs images of at least {size}x{size} pixels")
    kernel_h = g.view(1, 1, 1, size).repeat(channels, 1, 1, 1)
    kernel_v = g.view(1, 1, size, 1).repeat(channels, 1, 1, 1)

    def blur(t: torch.Tensor) -> torch.Tensor:  # "valid" windows only, as skimage crops
        return F.conv2d(F.conv2d(t, kernel_h, groups=channels), kernel_v, groups=channels)

    c1, c2 = 0.01**2, 0.03**2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    value = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    value = value.mean(dim=(-3, -2, -1))
    return value[0] if single else value


def flip_available() -> bool:
    try:
        import flip_evaluator  # noqa: F401
    except ImportError:
        return False
    return True


def flip(pred: np.ndarray, target: np.ndarray, hdr: bool = True) -> tuple[float, np.ndarray]:
    """(mean FLIP, (H, W) error map in [0, 1]) for (H, W, 3) numpy images, linear HDR
    (HDR-FLIP) or display values in [0, 1] (LDR-FLIP). Needs the ``compare`` extra."""
    try:
        import flip_evaluator
    except ImportError:
        raise ImportError("FLIP needs NVIDIA's flip-evaluator: pip install "
                          "'mcdenoise[compare]'") from None
    reference = np.ascontiguousarray(np.maximum(target, 0.0), dtype=np.float32)
    test = np.ascontiguousarray(np.maximum(pred, 0.0), dtype=np.float32)
    if not hdr:
        reference, test = np.clip(reference, 0, 1), np.clip(test, 0, 1)
    error_map, mean, _ = flip_evaluator.evaluate(reference, test, "HDR" if hdr else "LDR",
                                                 inputsRGB=not hdr, applyMagma=False)
    return float(mean), np.asarray(error_map, np.float32).reshape(reference.shape[:2])
