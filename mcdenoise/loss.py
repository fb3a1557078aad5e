"""Training losses: relative L2 for HDR (N2N §3.3), tonemapped L2, L1, L2, SMAPE, annealed
L0 (N2N §3.4)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from mcdenoise.config import LossConfig

LossFn = Callable[..., torch.Tensor]


def _mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean over pixels, only where ``mask`` (B, 1, H, W) is 1 (e.g. Bernoulli targets)."""
    if mask is None:
        return values.mean()
    weights = mask.expand_as(values)
    return (values * weights).sum() / weights.sum().clamp(min=1.0)


def hdr_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None,
             eps: float = 0.01) -> torch.Tensor:
    """(f(x) - y)^2 / (sg(max(f(x), 0)) + eps)^2: relative L2 with the denominator detached,
    so a noisy target still gives an unbiased estimate (N2N §3.3, after Lehtinen et al.)."""
    denominator = (pred.detach().clamp(min=0.0) + eps) ** 2
    return _mean((pred - target) ** 2 / denominator, mask)


def tonemap_slope(linear: torch.Tensor, eps: float = 0.01) -> torch.Tensor:
    """dT/dv of the evaluation tonemap T(v) = (v / (1 + v))^(1/2.2) at max(v, 0) + eps."""
    v = linear.clamp(min=0.0) + eps
    return (v / (1.0 + v)) ** (1.0 / 2.2 - 1.0) / (2.2 * (1.0 + v) ** 2)


def tonemapped_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None,
                    eps: float = 0.01) -> torch.Tensor:
    """(T'(sg(f(x))) (f(x) - y))^2: the squared error after the evaluation tonemap, to first
    order, with the slope taken at the detached prediction. Like ``hdr_loss`` its weight
    depends on the prediction only, so a noisy target's mean is still the minimiser; unlike
    it, bright pixels weigh as little as they do in tonemapped PSNR (relative L2 gives a
    pixel at 10 about 18 times the weight the tonemap gives it, against one at 1)."""
    weight = tonemap_slope(pred.detach(), eps) ** 2
    return _mean(weight * (pred - target) ** 2, mask)


def l2_loss(pred, target, mask=None):
    return _mean((pred - target) ** 2, mask)


def l1_loss(pred, target, mask=None):
    return _mean((pred - target).abs(), mask)


def smape_loss(pred, target, mask=None, eps: float = 0.01):
    """Symmetric mean absolute percentage error, |f(x) - y| / (|f(x)| + |y| + eps)."""
    return _mean((pred - target).abs() / (pred.abs() + target.abs() + eps), mask)


def l0_gamma(progress: float, start: float = 2.0, end: float = 0.0) -> float:
    """The L0 exponent annealed linearly from ``start`` to ``end`` over training (N2N §3.4)."""
    return start + (end - start) * min(max(progress, 0.0), 1.0)


def l0_loss(pred, target, mask=None, gamma: float = 2.0):
    """(|f(x) - y| + 1e-8)^gamma; gamma -> 0 approaches the mode for impulse noise."""
    return _mean(((pred - target).abs() + 1e-8) ** gamma, mask)


def build_loss(config: LossConfig) -> LossFn:
    """A function ``loss(pred, target, mask=None, progress=0.0)``; progress in [0, 1]."""
    name = config.name

    def loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None,
             progress: float = 0.0) -> torch.Tensor:
        pred, target = pred.float(), target.float()
        if name == "hdr":
            return hdr_loss(pred, target, mask, config.eps)
        if name == "tonemapped":
            return tonemapped_loss(pred, target, mask, config.eps)
        if name == "smape":
            return smape_loss(pred, target, mask, config.eps)
        if name == "l0":
            gamma = l0_gamma(progress, config.l0_gamma_start, config.l0_gamma_end)
            return l0_loss(pred, target, mask, max(gamma, 1e-3))
        return {"l2": l2_loss, "l1": l1_loss}[name](pred, target, mask)

    loss.__name__ = f"{name}_loss"
    return loss

