"""Frames of a sequence brought into alignment: Cycles' motion vectors, backward warping, and
rejection of what the neighbour does not show (occlusion, disocclusion, a wrong vector).
Neighbours' colors are warped with Catmull-Rom (sharper than bilinear), their features
bilinearly.

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

from mcdenoise.features import LUMINANCE

# A neighbour's pixel is used only where it shows the same surface: depth within 5 %,
# normals within ~14 degrees, albedo within 0.05 (tightened with the shading test on the
# moving field shots, where a turning ball ghosted at 25 degrees and 0.1: docs/benchmarks.md)
DEPTH_TOLERANCE = 0.05
NORMAL_MIN_COSINE = 0.97
BACKGROUND_NORMAL = 1e-3  # shorter normals are no surface (background); two of them agree
ALBEDO_TOLERANCE = 0.05
# ... and only where its shading agrees: local means (WINDOW x WINDOW) of tonemapped
# luminance within SHADING_SIGMAS standard errors of each other, plus SHADING_FLOOR
WINDOW = 7
SHADING_SIGMAS = 1.5
SHADING_FLOOR = 0.01
# A denoised neighbour is blended in with weight ((1 - 2 fy)(1 - 2 fx)) ** SHARPNESS_POWER,
# fy, fx the distance of its samples from whole pixels: even Catmull-Rom sampling blurs a
# sharp image a little between pixels. With bilinear sampling the moving field shots needed
# power 8 to keep their PSNR; with Catmull-Rom, power 2 keeps it on every one (power 1 cost
# motion_blur 0.09 dB, 0 cost it 0.46), and still shots (whole pixels) are blended fully
# (chosen on those shots: docs/benchmarks.md)
SHARPNESS_POWER = 2


def offsets(vectors: np.ndarray, direction: int) -> tuple[np.ndarray, np.ndarray]:
    """(d_row, d_col) per pixel (H, W) to where each pixel of this frame is in the frame
    ``direction`` (-1: previous, +1: next) away, from the (H, W, 4) Vector pass."""
    if direction < 0:
        return -vectors[..., 1], vectors[..., 0]
    return vectors[..., 3], -vectors[..., 2]


class Sampler:
    """Bilinear sampling at (row + d_row, col + d_col) for every pixel of an (H, W) grid:
    the corners and weights are found once and applied to any image of that size (a frame's
    color, depth, normal and albedo, and later its denoised output). All-zero offsets (a
    still shot) sample nothing: the image itself."""

    def __init__(self, d_row: np.ndarray, d_col: np.ndarray) -> None:
        height, width = d_row.shape
        self.shape = (height, width)
        self.still = not d_row.any() and not d_col.any()
        if self.still:
            self.inside = np.ones((height, width), bool)
            return
        rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
        y, x = rows + d_row, cols + d_col
        self.inside = (y >= 0) & (y <= height - 1) & (x >= 0) & (x <= width - 1)
        y, x = np.clip(y, 0, height - 1), np.clip(x, 0, width - 1)
        y0, x0 = np.floor(y).astype(np.int64), np.floor(x).astype(np.int64)
        y1, x1 = np.minimum(y0 + 1, height - 1), np.minimum(x0 + 1, width - 1)
        fy, fx = (y - y0).ravel(), (x - x0).ravel()
        self.corners = [(y0 * width + x0).ravel(), (y0 * width + x1).ravel(),
                        (y1 * width + x0).ravel(), (y1 * width + x1).ravel()]
        self.weights = [(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx]

    @classmethod
    def identity(cls, shape: tuple[int, int]) -> Sampler:
        zero = np.zeros(shape, np.float32)
        return cls(zero, zero)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if self.still:
            return image
        flat = image.reshape(self.shape[0] * self.shape[1], -1).astype(np.float32, copy=False)
        total = np.take(flat, self.corners[0], axis=0)
        total *= self.weights[0][:, None]
        for corner, weight in zip(self.corners[1:], self.weights[1:], strict=True):
            term = np.take(flat, corner, axis=0)
            term *= weight[:, None]
            total += term
        return total.reshape(image.shape).astype(image.dtype, copy=False)

    def sharpness(self) -> np.ndarray | None:
        """(H, W) in [0, 1]: 1 where the samples fall on whole pixels, falling to 0 halfway
        between them, where resampling blurs most (None: all whole pixels). A sharp image
        (a denoised frame) is blended in only as far as it keeps its detail."""
        if self.still:
            return None
        fy = self.weights[2] + self.weights[3]
        fx = self.weights[1] + self.weights[3]
        keep = (1 - 2 * np.minimum(fy, 1 - fy)) * (1 - 2 * np.minimum(fx, 1 - fx))
        return (keep ** SHARPNESS_POWER).reshape(self.shape).astype(np.float32)


def _catmull_rom(t: np.ndarray) -> list[np.ndarray]:
    """The four Catmull-Rom weights of the samples at -1, 0, 1, 2 for a fraction t."""
    t2, t3 = t * t, t * t * t
    return [0.5 * (-t3 + 2 * t2 - t), 0.5 * (3 * t3 - 5 * t2 + 2),
            0.5 * (-3 * t3 + 4 * t2 + t), 0.5 * (t3 - t2)]


class CubicSampler:
    """Catmull-Rom sampling at (row + d_row, col + d_col), clamped to the range of the four
    nearest pixels (no ringing around bright edges). It keeps more of an image's detail at
    sub-pixel offsets than bilinear sampling (at half a pixel, 88 % of the contrast at a
    quarter of the sampling rate against 71 %): neighbours' colors are warped with it. It
    keeps the 4 + 4 weights per pixel and finds the 16 taps at each call (40 bytes a
    pixel)."""

    def __init__(self, d_row: np.ndarray, d_col: np.ndarray) -> None:
        height, width = d_row.shape
        self.shape = (height, width)
        rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
        y = np.clip(rows + d_row, 0, height - 1).ravel()
        x = np.clip(cols + d_col, 0, width - 1).ravel()
        self.y0, self.x0 = np.floor(y).astype(np.int32), np.floor(x).astype(np.int32)
        self.wy = [w.astype(np.float32) for w in _catmull_rom(y - self.y0)]
        self.wx = [w.astype(np.float32) for w in _catmull_rom(x - self.x0)]

    def __call__(self, image: np.ndarray) -> np.ndarray:
        height, width = self.shape
        flat = image.reshape(height * width, -1).astype(np.float32, copy=False)
        cols = [np.clip(self.x0 + k, 0, width - 1).astype(np.int64) for k in (-1, 0, 1, 2)]
        total = np.zeros_like(flat)
        low = high = None
        for i, k in enumerate((-1, 0, 1, 2)):
            row = np.clip(self.y0 + k, 0, height - 1).astype(np.int64) * width
            line = np.zeros_like(flat)
            for j, col in enumerate(cols):
                tap = np.take(flat, row + col, axis=0)
                line += tap * self.wx[j][:, None]
                if k in (0, 1) and j in (1, 2):  # the four nearest pixels bound the result
                    low = tap if low is None else np.minimum(low, tap)
                    high = tap if high is None else np.maximum(high, tap)
            total += line * self.wy[i][:, None]
        return np.clip(total, low, high).reshape(image.shape).astype(image.dtype, copy=False)


def warp(image: np.ndarray, d_row: np.ndarray, d_col: np.ndarray
         ) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``image`` (H, W) or (H, W, C) at (row + d_row, col + d_col), bilinearly;
    returns the warped image and where it was inside the frame (H, W) bool."""
    sampler = Sampler(d_row, d_col)
    return sampler(image), sampler.inside.copy()


@dataclass
class Aligned:
    """A neighbour's color warped onto this frame, and where it may be trusted."""

    color: np.ndarray  # (H, W, 3)
    valid: np.ndarray  # (H, W) bool


@dataclass
class Link:
    """Where a neighbour ``offset`` frames away (-2, -1, 1, 2, ...) lands on this frame: the
    offsets to its pixels (``sampler()`` warps its images here) and the pixels where it shows
    the same surface."""

    offset: int
    path: tuple[np.ndarray, np.ndarray] | None  # (d_row, d_col) to it; None: a still shot
    valid: np.ndarray  # (H, W) bool
    color: np.ndarray | None  # (H, W, 3): its color, warped here (None once averaged in)

    def sampler(self) -> Sampler:
        if self.path is None:
            return Sampler.identity(self.valid.shape)
        return Sampler(*self.path)


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
                sampler = Sampler(d_row, d_col)
                step_row, step_col = sampler(step_row), sampler(step_col)
            d_row, d_col = d_row + step_row, d_col + step_col
        found.append((d_row.copy(), d_col.copy()))
        here = step
    return found


def align(frame, neighbour, direction: int, path: tuple | None = None) -> Aligned:
    """``neighbour`` (a Frame ``direction`` frames away, -1 or +1) warped onto ``frame`` with
    ``frame``'s motion vectors (none: a still shot), valid where it shows the same surface.
    ``path``: precomputed (d_row, d_col) for a neighbour several frames away."""
    link = _link(frame, neighbour, direction, path)
    if link is None:
        return Aligned(frame.color, np.zeros(frame.color.shape[:2], bool))
    return Aligned(link.color, link.valid)


def _link(frame, neighbour, offset: int, path: tuple | None = None,
          shading: tuple | None = None) -> Link | None:
    """``neighbour`` linked to ``frame`` (``shading``: the frame's ``_shading_stats``)."""
    height, width = frame.color.shape[:2]
    if neighbour.color.shape != frame.color.shape:
        return None
    if path is not None:
        d_row, d_col = path
    elif frame.vectors is not None:
        d_row, d_col = offsets(frame.vectors, 1 if offset > 0 else -1)
    else:
        d_row = d_col = np.zeros((height, width), np.float32)
    sampler = Sampler(d_row, d_col)
    checks = [(name, check) for name, check in (("depth", _same_depth),
                                                ("normal", _same_normal),
                                                ("albedo", _same_albedo))
              if getattr(frame, name) is not None and getattr(neighbour, name) is not None]
    # the features the tests read from the neighbour, warped in one bilinear pass; its color
    # with Catmull-Rom, which keeps the detail that bilinear sampling would blur
    planes = [getattr(neighbour, name).reshape(height, width, -1) for name, _ in checks]
    if sampler.still or len(planes) < 2:
        warped_planes = [sampler(plane) for plane in planes]
    else:
        warped = sampler(np.concatenate(planes, axis=-1))
        bounds = np.cumsum([plane.shape[-1] for plane in planes])[:-1]
        warped_planes = np.split(warped, bounds, axis=-1)
    color = neighbour.color if sampler.still else CubicSampler(d_row, d_col)(neighbour.color)
    valid = sampler.inside.copy()
    for (name, check), theirs in zip(checks, warped_planes, strict=True):
        valid &= check(getattr(frame, name), theirs if theirs.shape[-1] > 1 else theirs[..., 0])
    if not checks:  # nothing to tell a moved or hidden surface by: trust no pixel
        valid[:] = False
    elif valid.any():
        valid &= _same_shading(shading or _shading_stats(frame.color), _shading_stats(color))
    return Link(offset, None if sampler.still else (d_row, d_col), valid, color)


def link_neighbours(frame, before: list | None = None, after: list | None = None
                    ) -> list[Link]:
    """How each neighbour lands on ``frame``. ``before`` / ``after``: the previous frames
    nearest first (and the following ones), None where a sequence ends or a frame is missing
    (the frames beyond it are not used)."""
    links, shading = [], _shading_stats(frame.color)
    for direction, side in ((-1, before or []), (1, after or [])):
        chain = []
        for neighbour in side:
            if neighbour is None or neighbour.color.shape != frame.color.shape:
                break
            chain.append(neighbour)
        for step, (neighbour, path) in enumerate(
                zip(chain, _steps(frame, chain, direction), strict=True), start=1):
            links.append(_link(frame, neighbour, direction * step, path, shading))
    return links


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
    x = np.maximum(color, 0.0) @ LUMINANCE
    return (x / (1.0 + x)) ** (1 / 2.2)


def _shading_stats(color: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local (WINDOW x WINDOW) means of tonemapped luminance and their squared standard
    errors."""
    value = _luminance(color)
    mean = _box_mean(value, WINDOW)
    variance = np.maximum(_box_mean(value * value, WINDOW) - mean * mean, 0.0)
    return mean, variance / (WINDOW * WINDOW)


def _same_shading(mine: tuple, theirs: tuple) -> np.ndarray:
    """Where two frames' local means of tonemapped luminance (``_shading_stats``) agree
    within their noise."""
    spread = SHADING_SIGMAS * np.sqrt(mine[1] + theirs[1]) + SHADING_FLOOR
    return np.abs(mine[0] - theirs[0]) <= spread


def _same_depth(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    scale = np.maximum(np.abs(mine), 1e-6)
    return np.abs(mine - theirs) <= DEPTH_TOLERANCE * scale


def _same_normal(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Normals within NORMAL_MIN_COSINE, or both absent (Cycles writes a zero normal where
    a ray leaves the scene: the sky, the world behind a window)."""
    mine_length = np.sqrt(np.einsum("...c,...c->...", mine, mine))
    their_length = np.sqrt(np.einsum("...c,...c->...", theirs, theirs))
    dot = np.einsum("...c,...c->...", mine, theirs)
    both_background = (mine_length < BACKGROUND_NORMAL) & (their_length < BACKGROUND_NORMAL)
    return (dot >= NORMAL_MIN_COSINE * np.maximum(mine_length * their_length, 1e-6)) | (
        both_background)


def _same_albedo(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    return np.max(np.abs(mine - theirs), axis=-1) <= ALBEDO_TOLERANCE


def accumulate(frame, before: list | None = None, after: list | None = None,
               links: list[Link] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The frame's color averaged with its aligned neighbours where they show the same
    surface: more samples per pixel, and shared between consecutive frames, so the network
    sees less noise and consecutive outputs agree. ``before`` / ``after`` as for
    ``link_neighbours`` (``links``: already found). Returns (color (H, W, 3), samples
    (H, W): how many frames each pixel averages)."""
    if links is None:
        links = link_neighbours(frame, before, after)
    total = frame.color.astype(np.float32).copy()
    count = np.ones(frame.color.shape[:2], np.float32)
    for link in links:
        total += np.where(link.valid[..., None], link.color, 0.0)
        count += link.valid
    return total / count[..., None], count


def blend(denoised: np.ndarray, links: list[Link], neighbours: dict[int, np.ndarray]
          ) -> np.ndarray:
    """A denoised frame averaged with its neighbours' denoised frames (offset -> (H, W, 3))
    where they show the same surface, warped with Catmull-Rom (``CubicSampler``) and
    weighted by how sharply it lands here (``Sampler.sharpness``). Consecutive outputs
    then share most of what they show: on still shots the flicker left after
    ``accumulate`` halves again."""
    total = denoised.astype(np.float32).copy()
    count = np.ones(denoised.shape[:2], np.float32)
    for link in links:
        if link.offset not in neighbours or not link.valid.any():
            continue
        sampler = link.sampler()
        weight = link.valid.astype(np.float32)
        sharpness = sampler.sharpness()
        if sharpness is not None:
            weight *= sharpness
        warp_here = sampler if sampler.still else CubicSampler(*link.path)
        total += warp_here(neighbours[link.offset]) * weight[..., None]
        count += weight
    return total / count[..., None]
