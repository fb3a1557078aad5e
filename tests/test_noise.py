"""Synthetic noise specs and models: parsing, statistics of each kind, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from mcdenoise import McdenoiseError
from mcdenoise.noise import KINDS, NoiseError, NoiseSpec, apply_noise

NOISY_KINDS = [kind for kind in KINDS if kind != "clean"]
SPECS = {"gaussian": "gaussian,0,50", "poisson": "poisson,5,50", "bernoulli": "bernoulli,0,0.9",
         "text": "text,0,50", "impulse": "impulse,0,90", "clean": "clean"}


def _grey(height: int = 256, width: int = 256, value: float = 0.5) -> np.ndarray:
    return np.full((height, width, 3), value, dtype=np.float32)


def _changed(noisy: np.ndarray, image: np.ndarray) -> np.ndarray:
    return np.any(noisy != image, axis=-1)  # (H, W)


# --- specs ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["clean", "gaussian,0,50", "gaussian,25", "poisson,5,50",
                                  "bernoulli,0,0.95", "text,0,50", "impulse,12.5",
                                  "gaussian,0.1,12.345678901"])
def test_str_round_trips_through_parse(text):
    spec = NoiseSpec.parse(text)
    assert str(spec) == text
    assert NoiseSpec.parse(str(spec)) == spec


def test_parse_ignores_spaces_and_case():
    assert NoiseSpec.parse(" Gaussian , 0 , 50 ") == NoiseSpec("gaussian", 0, 50)


def test_parse_single_value_sets_min_and_max():
    assert NoiseSpec.parse("bernoulli,0.5") == NoiseSpec("bernoulli", 0.5, 0.5)


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "empty noise spec"),
    ("speckle,10", "unknown noise kind 'speckle'"),
    ("gaussian", "has 0 values"),
    ("gaussian,1,2,3", "has 3 values"),
    ("gaussian,ten", "'ten' is not a number"),
    ("gaussian,,5", "'' is not a number"),
    ("gaussian,nan", "finite"),
    ("gaussian,0,inf", "finite"),
    ("gaussian,30,10", "min 30 is greater than max 10"),
    ("gaussian,-5,10", "must be >= 0"),
    ("poisson,0", "lambda must be > 0"),
    ("bernoulli,0,1.5", "must be in [0, 1]"),
    ("text,10,150", "must be in [0, 100]"),
    ("impulse,101", "must be in [0, 100]"),
    ("clean,0", "clean takes no values"),
])
def test_bad_spec_raises_one_line_noise_error(text, fragment):
    with pytest.raises(NoiseError) as info:
        NoiseSpec.parse(text)
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
    assert isinstance(info.value, McdenoiseError)


def test_error_for_unknown_kind_lists_accepted_kinds():
    with pytest.raises(NoiseError, match="clean, gaussian, poisson, bernoulli, text, impulse"):
        NoiseSpec.parse("speckle,10")


def test_constructor_validates_like_parse():
    with pytest.raises(NoiseError, match="greater than max"):
        NoiseSpec("gaussian", 5, 1)
    with pytest.raises(NoiseError, match="unknown noise kind"):
        NoiseSpec("speckle")


def test_fixed_defaults_to_midpoint_and_accepts_a_value():
    spec = NoiseSpec.parse("gaussian,0,50")
    assert spec.fixed() == NoiseSpec("gaussian", 25, 25)
    assert spec.fixed(10) == NoiseSpec("gaussian", 10, 10)
    assert str(spec.fixed()) == "gaussian,25"
    assert NoiseSpec.parse("clean").fixed() == NoiseSpec("clean")


def test_fixed_value_is_validated():
    with pytest.raises(NoiseError, match=r"must be in \[0, 1\]"):
        NoiseSpec.parse("bernoulli,0,1").fixed(2)


# --- every kind ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("shape", [(5, 7), (7, 5), (1, 1), (13, 40)])
def test_output_is_float32_of_the_input_shape(kind, shape, rng):
    image = rng.random((*shape, 3))  # float64 in, float32 out
    noisy, mask = apply_noise(image, NoiseSpec.parse(SPECS[kind]), rng)
    assert noisy.dtype == np.float32 and noisy.shape == (*shape, 3)
    if kind == "bernoulli":
        assert mask.dtype == np.float32 and mask.shape == (*shape, 1)
    else:
        assert mask is None


@pytest.mark.parametrize("kind", NOISY_KINDS)
def test_same_seed_gives_same_noise_and_other_seed_differs(kind):
    image = np.random.default_rng(0).random((32, 48, 3), dtype=np.float32)
    spec = NoiseSpec.parse(SPECS[kind])
    first, _ = apply_noise(image, spec, np.random.default_rng(7))
    again, _ = apply_noise(image, spec, np.random.default_rng(7))
    other, _ = apply_noise(image, spec, np.random.default_rng(8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("kind", KINDS)
def test_input_image_is_left_untouched(kind, rng):
    image = rng.random((16, 24, 3), dtype=np.float32)
    before = image.copy()
    apply_noise(image, NoiseSpec.parse(SPECS[kind]), rng)
    np.testing.assert_array_equal(image, before)


def test_clean_returns_an_identical_copy(rng):
    image = rng.random((9, 11, 3), dtype=np.float32)
    noisy, mask = apply_noise(image, NoiseSpec.parse("clean"), rng)
    np.testing.assert_array_equal(noisy, image)
    assert mask is None
    assert not np.shares_memory(noisy, image)


def test_image_that_is_not_rgb_is_rejected(rng):
    with pytest.raises(ValueError, match=r"\(H, W, 3\)"):
        apply_noise(np.zeros((8, 8), np.float32), NoiseSpec.parse("gaussian,25"), rng)


# --- gaussian ------------------------------------------------------------------------------

def test_gaussian_residual_has_zero_mean_and_sigma_over_255(rng):
    image = _grey()
    noisy, _ = apply_noise(image, NoiseSpec.parse("gaussian,25"), rng)
    residual = noisy - image
    assert abs(residual.mean()) < 0.001
    assert residual.std() == pytest.approx(25 / 255, rel=0.02)


def test_gaussian_is_not_clipped(rng):
    noisy, _ = apply_noise(_grey(64, 64, 0.98), NoiseSpec.parse("gaussian,50"), rng)
    assert noisy.max() > 1 and noisy.min() < 0.98 - 3 * 50 / 255


def test_gaussian_strength_is_drawn_within_min_max(rng):
    image = _grey(48, 48)
    stds = [(apply_noise(image, NoiseSpec.parse("gaussian,10,30"), rng)[0] - image).std() * 255
            for _ in range(60)]
    assert 10 * 0.95 < min(stds) < 13
    assert 27 < max(stds) < 30 * 1.05


# --- poisson -------------------------------------------------------------------------------

@pytest.mark.parametrize("level", [0.2, 0.5, 0.9])
def test_poisson_keeps_the_mean_with_variance_x_over_lambda(level, rng):
    lam = 20.0
    noisy, _ = apply_noise(_grey(value=level), NoiseSpec("poisson", lam, lam), rng)
    assert noisy.mean() == pytest.approx(level, rel=0.01)
    assert noisy.var() == pytest.approx(level / lam, rel=0.03)


def test_poisson_keeps_black_black(rng):
    noisy, _ = apply_noise(_grey(8, 8, 0.0), NoiseSpec.parse("poisson,0,50"), rng)
    np.testing.assert_array_equal(noisy, 0)


# --- bernoulli -----------------------------------------------------------------------------

@pytest.mark.parametrize("p", [0.0, 0.3, 0.8, 1.0])
def test_bernoulli_drops_fraction_p_to_zero_in_every_channel(p, rng):
    image = rng.random((128, 128, 3), dtype=np.float32) + 0.01  # nothing is 0 beforehand
    noisy, mask = apply_noise(image, NoiseSpec("bernoulli", p, p), rng)
    dropped = np.all(noisy == 0, axis=-1)
    assert dropped.mean() == pytest.approx(p, abs=0.01)
    np.testing.assert_array_equal(mask[..., 0], np.where(dropped, 0.0, 1.0))
    np.testing.assert_array_equal(noisy[~dropped], image[~dropped])
    assert not np.any(noisy[~dropped] == 0)


# --- text ----------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("occupancy", [10, 25, 50])
def test_text_covers_the_requested_occupancy(seed, occupancy):
    image = _grey(96, 128)
    noisy, _ = apply_noise(image, NoiseSpec("text", occupancy, occupancy),
                           np.random.default_rng(seed))
    assert _changed(noisy, image).mean() * 100 == pytest.approx(occupancy, abs=2.0)


def test_text_pixels_take_colours_in_range(rng):
    image = _grey(64, 64)
    noisy, _ = apply_noise(image, NoiseSpec.parse("text,30"), rng)
    text = noisy[_changed(noisy, image)]
    assert len(text) > 0 and text.min() >= 0 and text.max() <= 1
    assert len(np.unique(text, axis=0)) > 1  # strings differ in colour


def test_text_zero_occupancy_leaves_image_unchanged(rng):
    image = rng.random((20, 30, 3), dtype=np.float32)
    noisy, _ = apply_noise(image, NoiseSpec.parse("text,0"), rng)
    np.testing.assert_array_equal(noisy, image)


def test_text_has_the_same_scale_on_crops_and_whole_images():
    def glyph_height(size):  # mean height of the covered runs down each column
        image = _grey(size, size)
        changed = _changed(apply_noise(image, NoiseSpec.parse("text,20"),
                                       np.random.default_rng(0))[0], image)
        runs = np.diff(np.pad(changed, ((1, 1), (0, 0))).astype(np.int8), axis=0)
        return changed.sum() / max((runs == 1).sum(), 1)

    assert glyph_height(256) == pytest.approx(glyph_height(64), rel=0.35)


@pytest.mark.parametrize("shape", [(5, 7), (1, 1), (2, 300)])
def test_text_finishes_on_tiny_and_thin_images(shape, rng):
    noisy, _ = apply_noise(_grey(*shape), NoiseSpec.parse("text,100"), rng)
    assert noisy.shape == (*shape, 3)


# --- impulse -------------------------------------------------------------------------------

@pytest.mark.parametrize("occupancy", [0, 20, 70, 100])
def test_impulse_replaces_fraction_of_pixels_with_random_colours(occupancy, rng):
    image = _grey(128, 128)
    noisy, _ = apply_noise(image, NoiseSpec("impulse", occupancy, occupancy), rng)
    changed = _changed(noisy, image)
    assert changed.mean() * 100 == pytest.approx(occupancy, abs=1.0)
    assert noisy.min() >= 0 and noisy.max() <= 1
    if occupancy:
        assert noisy[changed].std() == pytest.approx(np.sqrt(1 / 12), rel=0.05)  # uniform
