"""Frames of a sequence brought into alignment: Cycles' motion vectors, backward warping, and
rejection of what the neighbour does not show (occlusion, disocclusion, a wrong vector).

Cycles' Vector pass (measured in Blender 5.0, ``tests/test_temporal.py``): in Blender's
image coordinates (x right, y up), a pixel at p was at p + (X, Y) in the previous frame and
will be at p - (Z, W) in the next. Arrays here are rows top first, so the row offset flips.
Without a Vector pass the shot is taken as still, and the rejection alone decides; without
depth, normal or albedo nothing can be checked, and no neighbour pixel is used. Shading that
does not travel with the surface (a highlight on a turning ball, light on a normal that
turned) is caught by comparing the two frames' local means of tonemapped luminance: where
they differ by more than their noise explains, the neighbour is not used.
numpy only (inference side).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# A neighbour's pixel is used only where it shows the same surface: depth within 5 %,
# normals within ~14 degrees, albedo within 0.05 (tightened with the shading test on the
# moving field shots, where a turning ball ghosted at 25 degrees and 0.1: docs/benchmarks.md)
DEPTH_TOLERANCE = 0.05
NORMAL_MIN_COSINE = 0.97
ALBEDO_TOLERANCE = 0.05
# ... and only where its shading agrees: local means (WINDOW x WINDOW) of tonemapped
# luminance within SHADING_SIGMAS standard errors of each other, plus SHADING_FLOOR
WINDOW = 7
SHADING_SIGMAS = 1.5
SHADING_FLOOR = 0.01


def offsets(vectors: np.ndarray, direction: int) -> tuple[np.ndarray, np.ndarray]:
    """(d_row, d_col) per pixel (H, W) to where each pixel of this frame is in the frame
    ``direction`` (-1: previous, +1: next) away, from the (H, W, 4) Vector pass."""
    if direction < 0:
        return -vectors[..., 1], vectors[..., 0]
    return vectors[..., 3], -vectors[..., 2]


def warp(image: np.ndarray, d_row: np.ndarray, d_col: np.ndarray
         ) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``image`` (H, W) or (H, W, C) at (row + d_row, col + d_col), bilinearly;
    returns the warped image and where it was inside the frame (H, W) bool."""
    height, width = image.shape[:2]
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    y, x = rows + d_row, cols + d_col
    inside = (y >= 0) & (y <= height - 1) & (x >= 0) & (x <= width - 1)
    y, x = np.clip(y, 0, height - 1), np.clip(x, 0, width - 1)
    y0, x0 = np.floor(y).astype(np.int64), np.floor(x).astype(np.int64)
    y1, x1 = np.minimum(y0 + 1, height - 1), np.minimum(x0 + 1, width - 1)
    fy, fx = y - y0, x - x0
    if image.ndim == 3:
        fy, fx = fy[..., None], fx[..., None]
    top = image[y0, x0] * (1 - fx) + image[y0, x1] * fx
    bottom = image[y1, x0] * (1 - fx) + image[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(image.dtype, copy=False), inside


@dataclass
class Aligned:
    """A neighbour's color warped onto this frame, and where it may be trusted."""

    color: np.ndarray  # (H, W, 3)
    valid: np.ndarray  # (H, W) bool


def _steps(frame, chain: list, direction: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(d_row, d_col) from ``frame`` to each frame of ``chain`` (1, 2, ... steps away in
    ``direction``), composing each frame's own vectors along the way (none: still)."""
    height, width = frame.color.shape[:2]
    d_row = np.zeros((height, width), np.float32)
    d_col = np.zeros((height, width), np.float32)
    found, here = [], frame
    for step in chain:
        if here.vectors is not None:
            step_row, step_col = offsets(here.vectors, direction)
            if here is not frame:  # this frame's vectors, read where the path has got to
                step_row = warp(step_row, d_row, d_col)[0]
                step_col = warp(step_col, d_row, d_col)[0]
            d_row, d_col = d_row + step_row, d_col + step_col
        found.append((d_row.copy(), d_col.copy()))
        here = step
    return found


def align(frame, neighbour, direction: int, path: tuple | None = None) -> Aligned:
    """``neighbour`` (a Frame ``direction`` frames away, -1 or +1) warped onto ``frame`` with
    ``frame``'s motion vectors (none: a still shot), valid where it shows the same surface.
    ``path``: precomputed (d_row, d_col) for a neighbour several frames away."""
    height, width = frame.color.shape[:2]
    if neighbour.color.shape != frame.color.shape:
        return Aligned(frame.color, np.zeros((height, width), bool))
    if path is not None:
        d_row, d_col = path
    elif frame.vectors is not None:
        d_row, d_col = offsets(frame.vectors, direction)
    else:
        d_row = d_col = np.zeros((height, width), np.float32)
    color, valid = warp(neighbour.color, d_row, d_col)
    checked = 0
    for name, check in (("depth", _same_depth), ("normal", _same_normal),
                        ("albedo", _same_albedo)):
        mine, theirs = getattr(frame, name), getattr(neighbour, name)
        if mine is not None and theirs is not None:
            valid &= check(mine, warp(theirs, d_row, d_col)[0])
            checked += 1
    if not checked:  # nothing to tell a moved or hidden surface by: trust no pixel
        valid[:] = False
    elif valid.any():
        valid &= _same_shading(frame.color, color)
    return Aligned(color, valid)


def _box_mean(image: np.ndarray, size: int) -> np.ndarray:
    """Mean over a size x size window around each pixel of (H, W), edges replicated."""
    pad = size // 2
    padded = np.pad(image.astype(np.float64), pad, mode="edge")
    integral = np.pad(padded.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    height, width = image.shape
    total = (integral[size:size + height, size:size + width] - integral[:height, size:size + width]
             - integral[size:size + height, :width] + integral[:height, :width])
    return (total / (size * size)).astype(np.float32)


def _luminance(color: np.ndarray) -> np.ndarray:
    x = np.maximum(color, 0.0) @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    return (x / (1.0 + x)) ** (1 / 2.2)


def _same_shading(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Where two frames' local means of tonemapped luminance agree within their noise."""
    means, errors = [], []
    for color in (mine, theirs):
        value = _luminance(color)
        mean = _box_mean(value, WINDOW)
        variance = np.maximum(_box_mean(value * value, WINDOW) - mean * mean, 0.0)
        means.append(mean)
        errors.append(variance / (WINDOW * WINDOW))
    spread = SHADING_SIGMAS * np.sqrt(errors[0] + errors[1]) + SHADING_FLOOR
    return np.abs(means[0] - means[1]) <= spread


def _same_depth(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    scale = np.maximum(np.abs(mine), 1e-6)
    return np.abs(mine - theirs) <= DEPTH_TOLERANCE * scale


def _same_normal(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    dot = np.sum(mine * theirs, axis=-1)
    norms = np.linalg.norm(mine, axis=-1) * np.linalg.norm(theirs, axis=-1)
    return dot >= NORMAL_MIN_COSINE * np.maximum(norms, 1e-6)


def _same_albedo(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    return np.max(np.abs(mine - theirs), axis=-1) <= ALBEDO_TOLERANCE


def accumulate(frame, before: list | None = None, after: list | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
    """The frame's color averaged with its aligned neighbours where they show the same
    surface: more samples per pixel, and shared between consecutive frames, so the network
    sees less noise and consecutive outputs agree. ``before`` / ``after``: the previous
    frames nearest first (and the following ones), None where a sequence ends or a frame is
    missing (the frames beyond it are not used). Returns (color (H, W, 3), samples (H, W):
    how many frames each pixel averages)."""
    total = frame.color.astype(np.float64).copy()
    count = np.ones(frame.color.shape[:2], np.float64)
    for direction, side in ((-1, before or []), (1, after or [])):
        chain = []
        for neighbour in side:
            if neighbour is None or neighbour.color.shape != frame.color.shape:
                break
            chain.append(neighbour)
        for neighbour, path in zip(chain, _steps(frame, chain, direction), strict=True):
            aligned = align(frame, neighbour, direction, path)
            total[aligned.valid] += aligned.color[aligned.valid]
            count += aligned.valid
    return (total / count[..., None]).astype(np.float32), count.astype(np.float32)
