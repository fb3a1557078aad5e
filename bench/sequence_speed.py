"""What a sequence costs: `mcdenoise denoise` on a moving shot frame by frame (--no-temporal)
against as a sequence (neighbours aligned and averaged in, then the denoised frames blended:
the default), side by side in one farm-bench call.

    python bench/sequence_speed.py [--size 1080p] [--frames 6] [--out /tmp/sequence-speed]
                                   [--runs 3] [--warmup 1] [--threads N]

The shot is made here, no render needed: the shipped sample render tiled up to the size,
panned by (0.4, 0.7) px a frame (so every neighbour is warped, bilinearly, and composing two
frames' vectors is exercised), each frame with its own multiplicative noise, and Cycles'
Vector pass. Both commands read and write the same EXRs (--overwrite), so the ratio is what
the sequence adds: alignment, the blend and the reads of the neighbours. Numbers:
docs/benchmarks.md ("Flicker").
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

SIZES = {"512": (512, 512), "1080p": (1080, 1920), "4k": (2160, 3840)}
PAN = (0.4, 0.7)  # rows, columns a frame: the image moves down and right


def _write_frame(path: Path, color, albedo, normal, depth, vectors) -> None:
    from mcdenoise.exr import ExrImage, write_exr

    planes = {f"ViewLayer.Combined.{c}": color[..., i] for i, c in enumerate("RGB")}
    planes["ViewLayer.Combined.A"] = np.ones(color.shape[:2], np.float32)
    for name, value, letters in (("Denoising Albedo", albedo, "RGB"),
                                 ("Denoising Normal", normal, "XYZ"),
                                 ("Vector", vectors, "XYZW")):
        for i, c in enumerate(letters):
            planes[f"ViewLayer.{name}.{c}"] = np.ascontiguousarray(value[..., i], np.float32)
    planes["ViewLayer.Denoising Depth.Z"] = depth
    write_exr(path, ExrImage.from_channels(planes, multipart=True, compression="zip"))


def make_shot(out: Path, size: str, frames: int) -> Path:
    """OUT/shot.####.exr; returns the pattern."""
    import importlib.resources

    from mcdenoise.frame import load_frame
    from mcdenoise.temporal import Sampler

    height, width = SIZES[size]
    sample = load_frame(str(importlib.resources.files("mcdenoise.samples") /
                            "sample_16spp.exr"))

    def grow(a):
        reps = (-(-height // a.shape[0]), -(-width // a.shape[1])) + (1,) * (a.ndim - 2)
        return np.ascontiguousarray(np.tile(a, reps)[:height, :width])

    base = {name: grow(getattr(sample, name)) for name in ("color", "albedo", "normal",
                                                            "depth")}
    # Blender's vectors (x right, y up): a pixel at p was at p + (X, Y) in the previous
    # frame and will be at p - (Z, W) in the next; the image moves down-right by PAN
    vectors = np.zeros((height, width, 4), np.float32)
    vectors[..., 0], vectors[..., 1] = -PAN[1], PAN[0]
    vectors[..., 2], vectors[..., 3] = -PAN[1], PAN[0]
    rng = np.random.default_rng(0)
    out.mkdir(parents=True, exist_ok=True)
    for frame in range(1, frames + 1):
        shift = Sampler(np.full((height, width), -PAN[0] * frame, np.float32),
                        np.full((height, width), -PAN[1] * frame, np.float32))
        moved = {name: shift(value) for name, value in base.items()}
        noise = rng.gamma(4.0, 0.25, moved["color"].shape).astype(np.float32)
        _write_frame(out / f"shot.{frame:04d}.exr", moved["color"] * noise, moved["albedo"],
                     moved["normal"], moved["depth"], vectors)
    return out / "shot.####.exr"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="1080p")
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--out", default="/tmp/sequence-speed")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()

    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    pattern = make_shot(out / "shot", args.size, args.frames)
    mcdenoise = [str(Path(sys.executable).with_name("mcdenoise")), "-q", "denoise",
                 str(pattern), "--device", "cpu", "--overwrite"]
    if args.threads:
        mcdenoise += ["--threads", str(args.threads)]
    sequence = mcdenoise + ["-o", str(out / "sequence" / "shot.####.exr")]
    single = mcdenoise + ["-o", str(out / "single" / "shot.####.exr"), "--no-temporal"]
    print(f"{args.frames} frames at {args.size}: A = as a sequence, B = frame by frame",
          flush=True)
    subprocess.run(["farm-bench", "-n", str(args.runs), "--warmup", str(args.warmup),
                    "--timeout", "3600",
                    "--vs", " ".join(single), "--", *sequence], check=True)


if __name__ == "__main__":
    main()
