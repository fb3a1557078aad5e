"""Is a denoiser's error noise it left or a picture it got wrong? The error split into its
variance over seeds and its bias, per region (bench/error_regions.py's geometry edges,
texture edges and flat rest, found on the reference's features).

    python bench/error_bias.py DATA [--spp 16] [--scenes cornell] [--model NAME=PATH ...]

DATA holds scenes with two or more noisy renders of one spp (seeds; `mcdenoise render field
--out DIR --scenes cornell --spp 16 --seeds 4` adds them to a copy of the field, which keeps
its reference). Each seed is denoised by each model and by OIDN (quality high, prefiltered,
as Blender runs it); in the tonemapped space of `mcdenoise evaluate`'s PSNR, per pixel, over
n seeds:

- variance: the outputs' sample variance (what is left of the noise, and flicker),
- bias: (mean output - reference)^2 - variance / n, an unbiased estimate of the squared
  bias (the picture itself wrong: blur, lost or invented detail; it also holds the
  reference's own noise, the same for every method),

so that total (the squared error of one seed, mean over seeds) = bias + variance. Each
number is the mean over the image's pixels of that region's part (the regions add up to
the whole), x 1e-5.
Numbers: docs/benchmarks.md ("Session 33").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from error_regions import REGIONS, _tensor, regions  # noqa: E402  (a sibling script)


def split(outputs: list[np.ndarray], reference: np.ndarray) -> dict[str, torch.Tensor]:
    """Per-pixel (H, W) total, bias and variance of tonemapped outputs over seeds."""
    from mcdenoise.metrics import tonemap

    mapped = torch.cat([tonemap(_tensor(o)) for o in outputs])  # (n, 3, H, W)
    target = tonemap(_tensor(reference))
    n = mapped.shape[0]
    variance = mapped.var(0, unbiased=True).mean(0)
    bias = ((mapped.mean(0) - target[0]) ** 2).mean(0) - variance / n
    total = ((mapped - target) ** 2).mean((0, 1))
    return {"total": total, "bias": bias, "variance": variance}


def means(rows: list[tuple]) -> list[tuple]:
    """The mean over scenes of each method's part: rows like main's, scene "**mean**"."""
    groups: dict[tuple[str, str], list[tuple]] = {}
    for _scene, _seeds, method, part, whole, cells in rows:
        groups.setdefault((method, part), []).append((whole, cells))
    return [("**mean**", len(group), method, part, float(np.mean([w for w, _ in group])),
             [float(c) for c in np.mean([c for _, c in group], axis=0)])
            for (method, part), group in groups.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--spp", type=int, default=16)
    parser.add_argument("--scenes", default="", help="only these scenes, e.g. cornell,caustics")
    parser.add_argument("--model", action="append", default=[],
                        help="NAME=PATH, repeatable (default: the bundled model)")
    args = parser.parse_args()
    only = {name for name in args.scenes.split(",") if name}

    from mcdenoise.data import find_renders
    from mcdenoise.denoiser import load_model
    from mcdenoise.frame import load_frame
    from mcdenoise.oidn import oidn_available, oidn_denoise

    if not oidn_available():
        sys.exit("error: pyoidn is not installed (pip install 'mcdenoise[compare]')")
    methods = {}
    for item in args.model or ["bundled="]:
        name, _, path = item.partition("=")
        methods[name] = load_model(path or None, device="cpu", precision="fp32").denoise
    methods["oidn"] = lambda color, albedo, normal, depth: oidn_denoise(color, albedo, normal)
    methods["noisy"] = lambda color, *_: color

    rows = []
    for scene, renders in sorted(find_renders(args.data, (args.spp,)).items()):
        if only and scene not in only:
            continue
        reference = next((r for r in renders if r.seed < 0), None)
        seeds = [r for r in renders if r.seed >= 0]
        if reference is None or len(seeds) < 2:
            continue
        reference = load_frame(reference.path)
        masks = regions(reference)
        frames = [load_frame(r.path) for r in seeds]
        for method, denoise in methods.items():
            parts = split([denoise(f.color, f.albedo, f.normal, f.depth) for f in frames],
                          reference.color)
            for part, values in parts.items():
                cells = [float((values * masks[r]).mean()) for r in REGIONS]
                rows.append((scene, len(frames), method, part, float(values.mean()), cells))
    if not rows:
        sys.exit(f"error: {args.data}: no scene with a reference and two seeds at "
                 f"{args.spp} spp")
    print(f"| scene | seeds | method | part | all | {' | '.join(REGIONS)} |")
    print("| --- | ---: | --- | --- | ---: |" + " ---: |" * len(REGIONS))
    scenes = {row[0] for row in rows}
    for scene, n, method, part, whole, cells in rows + (means(rows) if len(scenes) > 1 else []):
        print(f"| {scene} | {n} | {method} | {part} | {whole * 1e5:.2f} | "
              + " | ".join(f"{c * 1e5:.2f}" for c in cells) + " |")
    print(f"(tonemapped squared error per image pixel, x 1e-5, at {args.spp} spp; the mean "
          "rows: over scenes, their seeds column the number of scenes)")


if __name__ == "__main__":
    main()
