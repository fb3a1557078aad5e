"""metrics.py on known values, and SSIM against scikit-image's implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from mcdenoise import metrics as m


def _linear(tonemapped: float, shape=(3, 16, 16)) -> torch.Tensor:
    """The linear value whose N2N tonemap is ``tonemapped``."""
    v = tonemapped**2.2
    return torch.full(shape, v / (1 - v))


def test_identical_images_score_perfectly(rng):
    image = torch.from_numpy(rng.random((3, 32, 32)).astype(np.float32) * 5)
    assert math.isinf(m.psnr_tonemapped(image, image).item())
    assert m.relmse(image, image).item() == 0 and m.smape(image, image).item() == 0
    assert m.ssim(image, image).item() == pytest.approx(1.0, abs=1e-6)
    pytest.importorskip("flip_evaluator", reason="compare extra: pip install 'mcdenoise[compare]'")
    hwc = image.permute(1, 2, 0).numpy()
    mean, error = m.flip(hwc, hwc)
    assert mean == 0 and error.shape == (32, 32) and error.max() == 0


def test_known_values():
    # tonemapped 0.5 vs 0.6 everywhere: MSE 0.01 -> 20 dB
    assert m.psnr_tonemapped(_linear(0.5), _linear(0.6)).item() == pytest.approx(20, abs=1e-3)
    assert m.psnr(torch.zeros(3, 4, 4), torch.full((3, 4, 4), 0.1)).item() == pytest.approx(20)
    ones = torch.ones(3, 8, 8)
    assert m.relmse(2 * ones, ones).item() == pytest.approx(1 / 1.01)
    assert m.smape(3 * ones, ones).item() == pytest.approx(2 / 4.01)
    # flat images: SSIM = (2ab + C1) / (a^2 + b^2 + C1), the structure terms are 1
    a, b, c1 = 0.2, 0.8, 0.01**2
    assert m.ssim(torch.full((3, 16, 16), a), torch.full((3, 16, 16), b),
                  tonemapped=False).item() == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1),
                                                   abs=2e-4)  # float32 variances ~1e-7


def test_batches_give_one_value_per_image(rng):
    batch = torch.from_numpy(rng.random((4, 3, 24, 24)).astype(np.float32))
    for metric in (m.psnr_tonemapped, m.relmse, m.smape, m.ssim):
        assert metric(batch, batch.flip(0)).shape == (4,)


def test_ssim_matches_scikit_image(rng):
    skimage = pytest.importorskip("skimage.metrics", reason="dev extra: scikit-image")
    structural_similarity = skimage.structural_similarity

    reference = rng.random((3, 40, 52)).astype(np.float32) * 4
    noisy = np.maximum(reference + rng.normal(0, 0.4, reference.shape), 0).astype(np.float32)
    ours = m.ssim(torch.from_numpy(noisy), torch.from_numpy(reference)).item()
    a, b = (m.tonemap(torch.from_numpy(x)).numpy() for x in (noisy, reference))
    theirs = structural_similarity(a, b, data_range=1.0, channel_axis=0, gaussian_weights=True,
                                   sigma=1.5, use_sample_covariance=False)
    assert ours == pytest.approx(theirs, abs=1e-5)


def test_flip_grows_with_the_error(rng):
    pytest.importorskip("flip_evaluator", reason="compare extra: pip install 'mcdenoise[compare]'")
    reference = rng.random((32, 32, 3)).astype(np.float32) * 2
    small = m.flip(reference * 1.05, reference)[0]
    large = m.flip(reference * 2.0, reference)[0]
    assert 0 < small < large <= 1
    ldr = m.flip(np.clip(reference, 0, 1) * 0.5, np.clip(reference, 0, 1), hdr=False)[0]
    assert 0 < ldr <= 1


def test_ssim_needs_a_window():
    with pytest.raises(ValueError, match="at least 11x11"):
        m.ssim(torch.ones(3, 8, 8), torch.ones(3, 8, 8))
