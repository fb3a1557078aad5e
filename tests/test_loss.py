"""Losses on known values, the detached HDR denominator, the tonemapped loss, L0 annealing,
masks."""

from __future__ import annotations

import pytest
import torch

from mcdenoise.config import LossConfig
from mcdenoise.loss import (
    build_loss,
    hdr_loss,
    l0_gamma,
    l0_loss,
    smape_loss,
    tonemap_slope,
    tonemapped_loss,
)
from mcdenoise.metrics import tonemap


def test_known_values():
    pred, target = torch.tensor([1.0, 3.0]), torch.tensor([0.0, 1.0])
    assert build_loss(LossConfig(name="l2"))(pred, target).item() == pytest.approx(2.5)
    assert build_loss(LossConfig(name="l1"))(pred, target).item() == pytest.approx(1.5)
    expected = ((1 / 1.01) ** 2 + (2 / 3.01) ** 2) / 2
    assert hdr_loss(pred, target).item() == pytest.approx(expected)
    assert smape_loss(pred, target).item() == pytest.approx((1 / 1.01 + 2 / 4.01) / 2)
    assert l0_loss(pred, target, gamma=1.0).item() == pytest.approx(1.5, rel=1e-6)


def test_hdr_denominator_uses_clamped_prediction():
    # negative predictions do not shrink the denominator below eps
    value = hdr_loss(torch.tensor([-1.0]), torch.tensor([0.0])).item()
    assert value == pytest.approx(1.0 / 0.01**2)


def test_hdr_gradient_does_not_flow_through_the_denominator():
    torch.manual_seed(0)
    pred = (torch.rand(2, 3, 4, 5, dtype=torch.float64) * 3).requires_grad_()
    target = torch.rand(2, 3, 4, 5, dtype=torch.float64) * 3
    frozen = (pred.detach().clamp(min=0) + 0.01) ** 2

    def with_constant_denominator(p):
        return ((p - target) ** 2 / frozen).mean()

    # the closed-form loss with a constant denominator has correct autograd gradients ...
    assert torch.autograd.gradcheck(with_constant_denominator, (pred,))
    # ... and they are exactly the HDR loss's gradients at this point
    (grad_hdr,) = torch.autograd.grad(hdr_loss(pred, target), pred)
    (grad_const,) = torch.autograd.grad(with_constant_denominator(pred), pred)
    torch.testing.assert_close(grad_hdr, grad_const)
    # whereas differentiating through the denominator would give something else
    def through(p):
        return ((p - target) ** 2 / (p.clamp(min=0) + 0.01) ** 2).mean()
    (grad_through,) = torch.autograd.grad(through(pred), pred)
    assert not torch.allclose(grad_hdr, grad_through)


def test_tonemap_slope_is_the_derivative_of_the_evaluation_tonemap():
    v = torch.tensor([0.003, 0.05, 0.4, 1.0, 7.0, 60.0], dtype=torch.float64, requires_grad=True)
    tonemap(v).sum().backward()
    torch.testing.assert_close(tonemap_slope(v.detach(), eps=0.0), v.grad)
    # negative values take the slope at eps, as hdr's denominator does
    assert tonemap_slope(torch.tensor([-3.0])).item() == pytest.approx(
        tonemap_slope(torch.tensor([0.0])).item())


def test_tonemapped_loss_is_the_tonemapped_squared_error_to_first_order():
    torch.manual_seed(0)
    pred = torch.rand(2, 3, 8, 8, dtype=torch.float64) ** 2 * 20  # 0 .. 20, HDR
    target = pred * (1 + 0.001 * torch.randn_like(pred))
    exact = ((tonemap(pred) - tonemap(target)) ** 2).mean()
    assert tonemapped_loss(pred, target, eps=0.0).item() == pytest.approx(exact.item(), rel=0.02)
    loss = build_loss(LossConfig(name="tonemapped"))
    expected = ((tonemap_slope(pred) * (pred - target)) ** 2).mean()
    assert loss(pred, target).item() == pytest.approx(expected.item(), rel=1e-5)


def test_tonemapped_loss_keeps_noisy_targets_unbiased():
    # one value fitted to noisy samples: with the slope detached the loss is flat at the
    # samples' mean (Noise2Noise learns the clean image), whereas the squared error of the
    # tonemapped values, which PSNR against a noisy target would measure, pulls it below
    # the mean (the tonemap is concave)
    torch.manual_seed(0)
    samples = torch.distributions.Exponential(1.0).sample((4096,)).double() * 2
    def gradient_at_mean(loss):
        value = samples.mean().reshape(1).requires_grad_()
        (grad,) = torch.autograd.grad(loss(value.expand_as(samples), samples), value)
        return grad.item()
    assert gradient_at_mean(tonemapped_loss) == pytest.approx(0.0, abs=1e-12)
    assert gradient_at_mean(lambda p, y: ((tonemap(p) - tonemap(y)) ** 2).mean()) > 1e-3


def test_tonemapped_loss_gradient_does_not_flow_through_the_slope():
    torch.manual_seed(0)
    pred = (torch.rand(2, 3, 4, 5, dtype=torch.float64) * 3).requires_grad_()
    target = torch.rand(2, 3, 4, 5, dtype=torch.float64) * 3
    frozen = tonemap_slope(pred.detach()) ** 2
    (grad,) = torch.autograd.grad(tonemapped_loss(pred, target), pred)
    (grad_const,) = torch.autograd.grad((frozen * (pred - target) ** 2).mean(), pred)
    torch.testing.assert_close(grad, grad_const)


def test_l0_gamma_anneals_linearly_from_2_to_0():
    assert l0_gamma(0.0) == 2.0 and l0_gamma(0.5) == 1.0 and l0_gamma(1.0) == 0.0
    assert l0_gamma(1.5) == 0.0 and l0_gamma(-1) == 2.0
    loss = build_loss(LossConfig(name="l0"))
    pred, target = torch.tensor([0.5]), torch.tensor([0.0])
    assert loss(pred, target, progress=0.0).item() == pytest.approx(0.25, rel=1e-5)
    assert loss(pred, target, progress=0.5).item() == pytest.approx(0.5, rel=1e-5)
    assert loss(pred, target, progress=1.0).item() == pytest.approx(1.0, rel=1e-2)


@pytest.mark.parametrize("name", ["hdr", "tonemapped", "l2", "l1", "smape", "l0"])
def test_mask_excludes_pixels(name):
    loss = build_loss(LossConfig(name=name))
    pred = torch.rand(1, 3, 4, 4)
    target = pred.clone()
    target[..., :2] += 5.0  # wrong only where the mask is 0
    mask = torch.ones(1, 1, 4, 4)
    mask[..., :2] = 0
    assert loss(pred, target, mask).item() == pytest.approx(0.0, abs=1e-6 if name != "l0" else 1e-3)
    assert loss(pred, target).item() > 0.1
