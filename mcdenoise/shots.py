"""Shots: how much denoised frames flicker, on still shots and on moving ones.

A scene of an evaluation folder with three or more seeds at one spp is a **still shot**:
its renders in seed order are its frames (the training layout already holds them, e.g. from
``mcdenoise render field --seeds 6``); a perfectly stable denoiser gives identical frames, so
flicker is the mean absolute change of tonemapped values between consecutive frames.
A **moving shot** (``mcdenoise render field --moving N``, render/moving.py) has a reference
per frame; motion must not count as flicker, so there flicker is the mean absolute change of
the error (tonemapped output minus tonemapped reference) between consecutive frames.
Each method denoises every frame; quality is the mean per-frame PSNR (and FLIP) against the
frame's reference. mcdenoise runs frame by frame, and as a sequence, as ``mcdenoise
denoise`` does with frame patterns: each frame's neighbours aligned and averaged in before
the network (``temporal.accumulate``; "no blend" stops there), then each denoised frame
averaged with its neighbours' denoised frames (``temporal.blend``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcdenoise import McdenoiseError
from mcdenoise.features import LUMINANCE

MIN_FRAMES = 3
COARSE = 4  # block size of the coarse flicker


@dataclass
class Shot:
    scene: str
    spp: int
    kind: str  # "still" or "moving"
    frames: list[Path]  # the noisy frames in order
    references: list[Path]  # one for a still shot, one per frame for a moving one


@dataclass
class ShotScore:
    scene: str
    spp: int
    method: str
    frames: int
    flicker: float  # still: mean |T(t+1) - T(t)|; moving: of the error T - T(reference)
    coarse: float  # the same of 4x4 block means (COARSE)
    psnr: float  # mean per-frame tonemapped PSNR against the reference
    flip: float  # mean per-frame FLIP (nan without flip-evaluator)
    kind: str = "still"
    pixel: tuple[int, int] = (0, 0)  # (row, column) where frame-by-frame error changes most
    trace: list[float] = field(default_factory=list)  # its tonemapped luminance per frame
    reference_trace: list[float] = field(default_factory=list)


def _tonemap(x: np.ndarray) -> np.ndarray:
    x = np.maximum(x, 0.0)
    return (x / (1.0 + x)) ** (1 / 2.2)


def flicker(frames: list[np.ndarray], references: list[np.ndarray] | None = None,
            block: int = 1) -> float:
    """Mean absolute change of tonemapped values between consecutive (H, W, 3) frames; with
    a reference per frame, of their errors (so that motion is not counted). ``block`` > 1:
    of block x block means (coarse flicker: the blotches that crawl, not pixel grain; it
    also keeps most of the references' own noise out of the error)."""
    mapped = [_tonemap(f) for f in frames]
    if references is not None:
        mapped = [m - _tonemap(r) for m, r in zip(mapped, references, strict=True)]
    if block > 1:
        mapped = [_block_means(m, block) for m in mapped]
    return float(np.mean([np.abs(b - a).mean() for a, b in zip(mapped[:-1], mapped[1:],
                                                                strict=True)]))


def _block_means(image: np.ndarray, block: int) -> np.ndarray:
    height, width = (image.shape[0] // block) * block, (image.shape[1] // block) * block
    return image[:height, :width].reshape(height // block, block, width // block, block,
                                          -1).mean(axis=(1, 3))


def _psnr(image: np.ndarray, reference: np.ndarray) -> float:
    mse = float(np.mean((_tonemap(image) - _tonemap(reference)) ** 2))
    return math.inf if mse == 0 else -10.0 * math.log10(mse)


def still_shots(data: str | Path, spp: tuple[int, ...] = ()) -> list[Shot]:
    """Every still shot of an evaluation folder (its noisy renders in seed order)."""
    from mcdenoise.data import find_renders

    try:
        found = find_renders(data, spp)
    except McdenoiseError:  # no still renders (a folder of moving shots)
        return []
    shots = []
    for scene, renders in found.items():
        reference = next((r for r in renders if r.seed < 0), None)
        if reference is None:
            continue
        for count in sorted({r.spp for r in renders if r.seed >= 0}):
            frames = sorted((r for r in renders if r.seed >= 0 and r.spp == count),
                            key=lambda r: r.seed)
            if len(frames) >= MIN_FRAMES:
                shots.append(Shot(scene, count, "still", [r.path for r in frames],
                                  [reference.path]))
    return shots


def moving_shots(data: str | Path, spp: tuple[int, ...] = ()) -> list[Shot]:
    """Every moving shot under ``data`` (render/moving.py's layout): frames that have a
    reference, from the first on without a gap."""
    from mcdenoise.render.moving import parse_shot_file

    shots = []
    for folder in sorted(p for p in Path(data).iterdir() if p.is_dir()):
        files: dict[int, dict[int, Path]] = {}
        for path in folder.glob("*.exr"):
            parsed = parse_shot_file(path.name)
            if parsed is not None and parsed[0] == folder.name:
                files.setdefault(parsed[1], {})[parsed[2]] = path
        references = files.pop(0, {})
        for count, frames in sorted(files.items()):
            if spp and count not in spp:
                continue
            numbers = []
            for number in sorted(frames):
                if number not in references or (numbers and number != numbers[-1] + 1):
                    break
                numbers.append(number)
            if len(numbers) >= MIN_FRAMES:
                shots.append(Shot(folder.name, count, "moving", [frames[n] for n in numbers],
                                  [references[n] for n in numbers]))
    return shots


def evaluate_shots(data: str | Path, denoiser, oidn: Callable | None = None,
                   spp: tuple[int, ...] = (), radius: int = 2, use_flip: bool = False,
                   strips: Path | None = None) -> list[ShotScore]:
    """Flicker and per-frame quality of every still and moving shot in ``data``
    (``score_shot`` each)."""
    return [score for shot in still_shots(data, spp) + moving_shots(data, spp)
            for score in score_shot(shot, denoiser, oidn, radius, use_flip, strips)]


def score_shot(shot: Shot, denoiser, oidn: Callable | None = None, radius: int = 2,
               use_flip: bool = False, strips: Path | None = None) -> list[ShotScore]:
    """Flicker and per-frame quality of one shot for the noisy frames, mcdenoise frame by
    frame and as a sequence (``radius`` neighbours a side), and ``oidn`` (a Frame -> color
    function); with ``strips``, its contact strip there."""
    from mcdenoise.frame import load_beauty, load_frame
    from mcdenoise.metrics import flip as flip_score
    from mcdenoise.temporal import accumulate, blend, link_neighbours

    references = [load_beauty(p) for p in shot.references]
    if shot.kind == "still":
        references = references * len(shot.frames)
    frames = [load_frame(p) for p in shot.frames]
    outputs = {"noisy": [f.color for f in frames],
               "mcdenoise per frame": [denoiser.denoise(f.color, f.albedo, f.normal, f.depth)
                                       for f in frames]}
    links, first = [], []  # what `mcdenoise denoise` does to a sequence: the first pass ...
    for i, frame in enumerate(frames):
        before = [frames[i - k] for k in range(1, radius + 1) if i - k >= 0]
        after = [frames[i + k] for k in range(1, radius + 1) if i + k < len(frames)]
        links.append(link_neighbours(frame, before, after))
        color, _ = accumulate(frame, links=links[-1])
        first.append(denoiser.denoise(color, frame.albedo, frame.normal, frame.depth))
    outputs["mcdenoise sequence, no blend"] = first
    outputs["mcdenoise sequence"] = [  # ... then each blended with its neighbours' (--blend)
        blend(first[i], links[i], {k: first[i + k] for k in range(-radius, radius + 1)
                                   if k and 0 <= i + k < len(frames)})
        for i in range(len(frames))]
    if oidn is not None:
        outputs["oidn"] = [oidn(f) for f in frames]
    errors_of = references if shot.kind == "moving" else None
    changes = _error_changes(outputs["mcdenoise per frame"], references)
    pixel = tuple(int(v) for v in np.unravel_index(int(np.argmax(changes)), changes.shape))
    scores = []
    for method, images in outputs.items():
        flips = ([flip_score(i, r)[0] for i, r in zip(images, references, strict=True)]
                 if use_flip else [math.nan])
        scores.append(ShotScore(
            shot.scene, shot.spp, method, len(images), flicker(images, errors_of),
            flicker(images, errors_of, COARSE),
            float(np.mean([_psnr(i, r) for i, r in zip(images, references, strict=True)])),
            float(np.mean(flips)), shot.kind, pixel, _trace(images, pixel),
            _trace(references, pixel)))
    if strips is not None:
        save_strip(strips / f"{shot.scene}_{shot.kind}_{shot.spp:04d}spp.png", outputs,
                   references, changes)
    return scores


def _error_changes(images: list[np.ndarray], references: list[np.ndarray]) -> np.ndarray:
    """(H, W): mean absolute change of the tonemapped error between consecutive frames."""
    errors = np.stack([_tonemap(i) - _tonemap(r) for i, r in zip(images, references,
                                                                 strict=True)])
    return np.abs(np.diff(errors, axis=0)).mean(axis=(0, 3))


def _trace(images: list[np.ndarray], pixel: tuple[int, int]) -> list[float]:
    """A pixel's tonemapped luminance in each frame."""
    return [round(float(_tonemap(i[pixel]) @ LUMINANCE), 5) for i in images]


def save_strip(path: Path, outputs: dict[str, list[np.ndarray]],
               references: list[np.ndarray], changes: np.ndarray, size: int = 96) -> None:
    """A contact strip: one row per method, consecutive frames left to right, each row
    closed by the (last frame's) reference, all cropped where ``changes`` (H, W: how much
    mcdenoise's frame-by-frame error changes, ``_error_changes``) is largest, tonemapped."""
    from mcdenoise.evaluate import save_png

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
        row.append(_tonemap(references[-1][window]))  # the reference closes every row
        rows.append(np.concatenate(row, axis=1))
        rows.append(np.ones((2, rows[-1].shape[1], 3), np.float32))
    save_png(path, np.concatenate(rows[:-1], axis=0))


def shot_table(scores: list[ShotScore]) -> str:
    """Per shot, then the means over shots per (spp, method)."""
    lines = [f"{'shot':22} {'kind':6} {'spp':>4} {'method':28} {'frames':>6} {'flicker':>8} "
             f"{'coarse':>8} {'PSNR (dB)':>9} {'FLIP':>7}"]
    groups: dict[tuple[str, int, str], list[ShotScore]] = {}
    for s in scores:
        groups.setdefault((s.kind, s.spp, s.method), []).append(s)
        lines.append(f"{s.scene:22} {s.kind:6} {s.spp:4d} {s.method:28} {s.frames:6d} "
                     f"{s.flicker:8.4f} {s.coarse:8.4f} {s.psnr:9.2f} "
                     f"{_fmt_flip(s.flip):>7}")
    for (kind, count, method), group in groups.items():
        lines.append(f"{'mean of ' + str(len(group)) + ' shot(s)':22} {kind:6} {count:4d} "
                     f"{method:28} {'':6} {np.mean([g.flicker for g in group]):8.4f} "
                     f"{np.mean([g.coarse for g in group]):8.4f} "
                     f"{np.mean([g.psnr for g in group]):9.2f} "
                     f"{_fmt_flip(float(np.mean([g.flip for g in group]))):>7}")
    return "\n".join(lines)


def _fmt_flip(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.4f}"
