"""Still shots: how much denoised frames flicker when only the sampling seed changes.

A scene of an evaluation folder with three or more seeds at one spp is a still shot: its
renders in seed order are its frames (the training layout already holds them, e.g. from
``mcdenoise render field --seeds 6``). Each method denoises every frame; flicker is the mean
absolute change of tonemapped values between consecutive frames (a perfectly stable
denoiser: 0), quality the mean per-frame PSNR (and FLIP) against the scene's reference.
mcdenoise runs twice: frame by frame, and as a sequence (its neighbours averaged in,
``temporal.accumulate``), which is what ``mcdenoise denoise`` does with frame patterns.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MIN_FRAMES = 3


@dataclass
class ShotScore:
    scene: str
    spp: int
    method: str
    frames: int
    flicker: float  # mean |T(frame t+1) - T(frame t)|, tonemapped
    psnr: float  # mean per-frame tonemapped PSNR against the reference
    flip: float  # mean per-frame FLIP (nan without flip-evaluator)


def _tonemap(x: np.ndarray) -> np.ndarray:
    x = np.maximum(x, 0.0)
    return (x / (1.0 + x)) ** (1 / 2.2)


def flicker(frames: list[np.ndarray]) -> float:
    """Mean absolute change of tonemapped values between consecutive (H, W, 3) frames."""
    mapped = [_tonemap(f) for f in frames]
    return float(np.mean([np.abs(b - a).mean() for a, b in zip(mapped[:-1], mapped[1:],
                                                                strict=True)]))


def _psnr(image: np.ndarray, reference: np.ndarray) -> float:
    mse = float(np.mean((_tonemap(image) - _tonemap(reference)) ** 2))
    return math.inf if mse == 0 else -10.0 * math.log10(mse)


def still_shots(data: str | Path, spp: tuple[int, ...] = ()) -> list[tuple]:
    """(scene, spp, [noisy renders in seed order], reference path) of every still shot."""
    from mcdenoise.data import find_renders

    shots = []
    for scene, renders in find_renders(data, spp).items():
        reference = next((r for r in renders if r.seed < 0), None)
        if reference is None:
            continue
        for count in sorted({r.spp for r in renders if r.seed >= 0}):
            frames = sorted((r for r in renders if r.seed >= 0 and r.spp == count),
                            key=lambda r: r.seed)
            if len(frames) >= MIN_FRAMES:
                shots.append((scene, count, frames, reference.path))
    return shots


def evaluate_shots(data: str | Path, denoiser, oidn: Callable | None = None,
                   spp: tuple[int, ...] = (), radius: int = 2, use_flip: bool = False,
                   strips: Path | None = None) -> list[ShotScore]:
    """Flicker and per-frame quality of every still shot in ``data`` for the noisy frames,
    mcdenoise frame by frame and as a sequence, and ``oidn`` (a Frame -> color function)."""
    from mcdenoise.frame import load_beauty, load_frame
    from mcdenoise.metrics import flip as flip_score
    from mcdenoise.temporal import accumulate

    scores = []
    for scene, count, renders, reference_path in still_shots(data, spp):
        reference = load_beauty(reference_path)
        frames = [load_frame(r.path) for r in renders]
        outputs = {"noisy": [f.color for f in frames],
                   "mcdenoise per frame": [denoiser.denoise(f.color, f.albedo, f.normal,
                                                            f.depth) for f in frames]}
        sequence = []
        for i, frame in enumerate(frames):
            before = [frames[i - k] for k in range(1, radius + 1) if i - k >= 0]
            after = [frames[i + k] for k in range(1, radius + 1) if i + k < len(frames)]
            color, _ = accumulate(frame, before, after)
            sequence.append(denoiser.denoise(color, frame.albedo, frame.normal, frame.depth))
        outputs["mcdenoise sequence"] = sequence
        if oidn is not None:
            outputs["oidn"] = [oidn(f) for f in frames]
        for method, images in outputs.items():
            flips = [flip_score(i, reference)[0] for i in images] if use_flip else [math.nan]
            scores.append(ShotScore(scene, count, method, len(images), flicker(images),
                                    float(np.mean([_psnr(i, reference) for i in images])),
                                    float(np.mean(flips))))
        if strips is not None:
            save_strip(strips / f"{scene}_{count:04d}spp.png", outputs, reference)
    return scores


def save_strip(path: Path, outputs: dict[str, list[np.ndarray]], reference: np.ndarray,
               size: int = 96) -> None:
    """A contact strip: one row per method, consecutive frames left to right, all cropped
    where mcdenoise's frame-by-frame output changes most between frames, tonemapped."""
    from mcdenoise.evaluate import save_png

    changes = np.abs(np.diff(np.stack([_tonemap(f) for f in outputs["mcdenoise per frame"]]),
                             axis=0)).mean(axis=(0, 3))
    height, width = changes.shape
    side = min(size, height, width)
    integral = np.pad(changes.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = (integral[side:, side:] - integral[:-side, side:] - integral[side:, :-side]
            + integral[:-side, :-side])
    y, x = np.unravel_index(np.argmax(sums), sums.shape)
    window = (slice(y, y + side), slice(x, x + side))
    gap = np.ones((side, 2, 3), np.float32)
    rows = []
    for images in outputs.values():
        row = [piece for image in images for piece in (_tonemap(image[window]), gap)]
        row.append(_tonemap(reference[window]))  # the reference closes every row
        rows.append(np.concatenate(row, axis=1))
        rows.append(np.ones((2, rows[-1].shape[1], 3), np.float32))
    save_png(path, np.concatenate(rows[:-1], axis=0))


def shot_table(scores: list[ShotScore]) -> str:
    """Per shot, then the means over shots per (spp, method)."""
    lines = [f"{'shot':22} {'spp':>4} {'method':20} {'frames':>6} {'flicker':>8} "
             f"{'PSNR (dB)':>9} {'FLIP':>7}"]
    groups: dict[tuple[int, str], list[ShotScore]] = {}
    for s in scores:
        groups.setdefault((s.spp, s.method), []).append(s)
        lines.append(f"{s.scene:22} {s.spp:4d} {s.method:20} {s.frames:6d} {s.flicker:8.4f} "
                     f"{s.psnr:9.2f} {_fmt_flip(s.flip):>7}")
    for (count, method), group in groups.items():
        lines.append(f"{'mean of ' + str(len(group)) + ' shot(s)':22} {count:4d} {method:20} "
                     f"{'':6} {np.mean([g.flicker for g in group]):8.4f} "
                     f"{np.mean([g.psnr for g in group]):9.2f} "
                     f"{_fmt_flip(float(np.mean([g.flip for g in group]))):>7}")
    return "\n".join(lines)


def _fmt_flip(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.4f}"
