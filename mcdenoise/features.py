"""What the network sees: feature selection, normalisation, the HDR input transform, its output.

numpy only (inference runs without torch). The network never sees raw HDR. Color is scaled
by a per-frame exposure (computed once on the whole frame, so tiles agree), then
tonemapped; the network predicts linear HDR in that exposure-scaled space, and only the
exposure is undone on the way out (plus a clamp at 0).
The input tonemap is never inverted on the output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcdenoise import McdenoiseError
from mcdenoise.config import InputConfig

FEATURE_CHANNELS = {"albedo": 3, "normal": 3, "depth": 1}
KEY_VALUE = 0.18  # mid-grey: the exposure maps the log-average luminance here
LUMINANCE = np.array([0.2126, 0.7152, 0.0722], np.float32)  # Rec.709
_DEPTH_BACKGROUND = 1e9  # Blender's Depth pass writes 1e10 where nothing was hit


class FeatureError(McdenoiseError):
    """A feature the model needs is missing from the input."""


@dataclass(frozen=True)
class FrameStats:
    """Whole-frame normalisation constants, shared by every tile and crop of the frame."""

    exposure: float = 1.0  # multiply linear color by this
    depth_scale: float = 1.0  # multiply depth by this to reach [0, 1]


def input_channels(config: InputConfig, task: str = "color") -> int:
    """Channels the network reads: color 3 (not for model.task=aux), albedo 3, normal 3,
    depth 1."""
    return 3 * (task != "aux") + sum(FEATURE_CHANNELS[name] for name in config.features)


def frame_stats(color: np.ndarray, depth: np.ndarray | None = None) -> FrameStats:
    """color: (H, W, 3) linear HDR >= 0; depth: (H, W) or None."""
    luminance = color.reshape(-1, 3) @ LUMINANCE
    lit = luminance[luminance > 1e-6]
    exposure = 1.0
    if lit.size:
        exposure = float(np.clip(KEY_VALUE / np.exp(np.mean(np.log(lit))), 1e-4, 1e4))
    depth_scale = 1.0
    if depth is not None:
        valid = depth[(depth > 0) & (depth < _DEPTH_BACKGROUND) & np.isfinite(depth)]
        if valid.size:
            depth_scale = float(1.0 / valid.max())
    return FrameStats(exposure, depth_scale)


def transform_color(color: np.ndarray, transform: str) -> np.ndarray:
    """The input transform on exposure-scaled linear color (>= 0)."""
    color = np.maximum(color, 0.0)
    if transform == "tonemap":  # N2N §3.3: T(v) = (v / (1 + v))^(1/2.2)
        return (color / (1.0 + color)) ** (1.0 / 2.2)
    if transform == "log":
        return np.log1p(color)
    return color


def normalise_depth(depth: np.ndarray, depth_scale: float) -> np.ndarray:
    """Depth to [0, 1] with the frame's scale; background (0, or Blender's 1e10) becomes 0."""
    valid = (depth > 0) & (depth < _DEPTH_BACKGROUND)
    return np.where(valid, np.clip(depth * depth_scale, 0.0, 1.0), 0.0).astype(np.float32)


def build_input(color: np.ndarray | None, config: InputConfig, stats: FrameStats,
                albedo: np.ndarray | None = None, normal: np.ndarray | None = None,
                depth: np.ndarray | None = None, depth_normalised: bool = False) -> np.ndarray:
    """The network input (C, H, W) float32 from (H, W, 3) color and optional features.

    color: linear HDR, not yet exposure-scaled, or None for the features alone (the input
    of a model.task=aux network). albedo is clipped to [0, 1], normals (camera space) to
    [-1, 1]; depth is scaled to [0, 1] unless ``depth_normalised``.
    """
    scale = stats.exposure if config.exposure else 1.0
    planes = [] if color is None else [transform_color(color * scale, config.transform)]
    given = {"albedo": albedo, "normal": normal, "depth": depth}
    for name in config.features:
        value = given[name]
        if value is None:
            raise FeatureError(f"the model needs the {name} buffer, which the input lacks")
        if name == "albedo":
            value = np.clip(value, 0.0, 1.0)
        elif name == "normal":
            value = np.clip(value, -1.0, 1.0)
        else:
            value = value if depth_normalised else normalise_depth(value, stats.depth_scale)
            value = value[..., None]
        planes.append(value)
    stacked = np.concatenate([p.astype(np.float32, copy=False) for p in planes], axis=-1)
    return np.ascontiguousarray(stacked.transpose(2, 0, 1))


def output_to_linear(pred: np.ndarray, stats: FrameStats, config: InputConfig) -> np.ndarray:
    """Network output (exposure-scaled linear HDR) back to the frame's linear HDR, >= 0."""
    scale = stats.exposure if config.exposure else 1.0
    return np.maximum(pred, 0.0) / np.float32(scale)
