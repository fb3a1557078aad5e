"""Network inputs: exposure, tonemap, feature normalisation, and the way back."""

from __future__ import annotations

import numpy as np
import pytest

from mcdenoise.config import InputConfig
from mcdenoise.features import (
    FeatureError,
    FrameStats,
    build_input,
    frame_stats,
    normalise_depth,
    output_to_linear,
    transform_color,
)


def test_tonemap_is_the_papers():
    v = np.array([0.0, 1.0, 3.0], np.float32)
    np.testing.assert_allclose(transform_color(v, "tonemap"), (v / (1 + v)) ** (1 / 2.2))
    np.testing.assert_allclose(transform_color(v, "log"), np.log1p(v))
    np.testing.assert_allclose(transform_color(np.array([-2.0]), "none"), [0.0])


def test_exposure_maps_log_average_luminance_to_mid_grey():
    color = np.full((4, 4, 3), 5.0, np.float32)
    assert frame_stats(color).exposure == pytest.approx(0.18 / 5.0, rel=1e-5)
    assert frame_stats(np.zeros((4, 4, 3), np.float32)).exposure == 1.0


def test_depth_is_normalised_per_frame_and_background_is_zero():
    depth = np.array([[2.0, 4.0], [0.0, 1e10]], np.float32)
    stats = frame_stats(np.ones((2, 2, 3), np.float32), depth)
    assert stats.depth_scale == pytest.approx(0.25)
    np.testing.assert_allclose(normalise_depth(depth, stats.depth_scale), [[0.5, 1.0], [0, 0]])


def test_build_input_orders_and_clips_channels():
    rng = np.random.default_rng(0)
    color = rng.random((5, 6, 3)).astype(np.float32) * 10
    albedo = rng.random((5, 6, 3)).astype(np.float32) * 2 - 0.5
    normal = rng.random((5, 6, 3)).astype(np.float32) * 4 - 2
    depth = rng.random((5, 6)).astype(np.float32) * 7
    config = InputConfig()
    stats = frame_stats(color, depth)
    x = build_input(color, config, stats, albedo, normal, depth)
    assert x.shape == (10, 5, 6) and x.dtype == np.float32
    np.testing.assert_allclose(x[0], transform_color(color * stats.exposure, "tonemap")[..., 0])
    assert x[3:6].min() >= 0 and x[3:6].max() <= 1
    assert x[6:9].min() >= -1 and x[6:9].max() <= 1
    assert x[9].max() == pytest.approx(1.0)
    with pytest.raises(FeatureError, match="needs the normal buffer"):
        build_input(color, config, stats, albedo, None, depth)
    assert build_input(color, InputConfig(features=[]), stats).shape == (3, 5, 6)


def test_tiles_agree_because_stats_come_from_the_whole_frame():
    rng = np.random.default_rng(1)
    color = rng.random((8, 8, 3)).astype(np.float32) * 3
    config, stats = InputConfig(features=[]), frame_stats(color)
    whole = build_input(color, config, stats)
    tile = build_input(color[:4, :4], config, stats)
    np.testing.assert_array_equal(whole[:, :4, :4], tile)


def test_output_undoes_only_the_exposure_and_clamps():
    pred = np.array([[-1.0, 0.5, 2.0]], np.float32)
    out = output_to_linear(pred, FrameStats(exposure=0.5), InputConfig())
    np.testing.assert_allclose(out, [[0.0, 1.0, 4.0]])
    same = output_to_linear(pred, FrameStats(exposure=0.5), InputConfig(exposure=False))
    np.testing.assert_allclose(same, [[0.0, 0.5, 2.0]])
