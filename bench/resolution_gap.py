"""Is the gap to OIDN a matter of resolution? On the large scenes of DATA, each noisy render
is scored three ways, each as our PSNR minus OIDN's on the same input:

- ``full``: as rendered (say 512x512 at N spp);
- ``half size``: color, albedo, normal (renormalised), depth and reference averaged over
  2x2 blocks, a picture of half the size with four times the samples per pixel (about
  4N spp at 256x256, the training renders' size);
- ``4N spp``: the 4N spp render at full size, which has about the same noise per pixel as
  the half-size picture.

If the gap came from the scale of the picture (walls that span more pixels than the
training renders' do), the half-size gap would be well below the full-size one at 4N spp.

    python bench/resolution_gap.py [--data data/field] [--model M] [--min-size 360] [--spp 4,16]

Numbers: docs/benchmarks.md ("Session 29").
"""

from __future__ import annotations

import argparse

import numpy as np
import torch


def half(image: np.ndarray) -> np.ndarray:
    """(H, W) or (H, W, C) averaged over 2x2 blocks (an odd last row / column dropped)."""
    h, w = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    blocks = image[:h, :w].reshape(h // 2, 2, w // 2, 2, *image.shape[2:])
    return blocks.mean(axis=(1, 3)).astype(np.float32)


def half_normal(normal: np.ndarray) -> np.ndarray:
    mean = half(normal)
    return mean / np.maximum(np.linalg.norm(mean, axis=-1, keepdims=True), 1e-6)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/field")
    parser.add_argument("--model", default=None, help="default: the bundled model")
    parser.add_argument("--min-size", type=int, default=360,
                        help="only scenes at least this many pixels on their shorter side")
    parser.add_argument("--spp", default="4,16",
                        help="input sample counts N (each needs a 4N spp render too)")
    args = parser.parse_args()

    from mcdenoise.data import find_renders
    from mcdenoise.denoiser import load_model
    from mcdenoise.frame import load_frame
    from mcdenoise.metrics import psnr_tonemapped
    from mcdenoise.oidn import oidn_denoise

    denoiser = load_model(args.model, device="cpu", precision="fp32", backend="torch")

    def psnr(image: np.ndarray, reference: np.ndarray) -> float:
        a, b = (torch.from_numpy(np.ascontiguousarray(x, np.float32)).permute(2, 0, 1)
                for x in (image, reference))
        return psnr_tonemapped(a, b).item()

    def gap(color, albedo, normal, depth, reference) -> tuple[float, float]:
        """(noisy PSNR, our PSNR minus OIDN's)."""
        ours = denoiser.denoise(color, albedo, normal, depth)
        theirs = oidn_denoise(color, albedo, normal)
        return psnr(color, reference), psnr(ours, reference) - psnr(theirs, reference)

    counts = [int(s) for s in args.spp.split(",") if s]
    print("scene          size      N | full: noisy  gap | half size: noisy  gap "
          "| 4N spp full: noisy  gap")
    rows = []
    for scene, renders in sorted(find_renders(args.data).items()):
        by_spp = {r.spp: r for r in renders if r.seed == 0}
        refs = [r for r in renders if r.seed < 0]
        if not refs:
            continue
        reference = load_frame(refs[0].path).color
        if min(reference.shape[:2]) < args.min_size:
            continue
        for n in counts:
            if n not in by_spp or 4 * n not in by_spp:
                continue
            f = load_frame(by_spp[n].path)
            g = load_frame(by_spp[4 * n].path)
            full = gap(f.color, f.albedo, f.normal, f.depth, reference)
            small = gap(half(f.color), half(f.albedo), half_normal(f.normal), half(f.depth),
                        half(reference))
            more = gap(g.color, g.albedo, g.normal, g.depth, reference)
            rows.append((full[1], small[1], more[1]))
            size = f"{reference.shape[1]}x{reference.shape[0]}"
            print(f"{scene:14s} {size:9s} {n:2d} | {full[0]:6.2f} {full[1]:+5.2f} "
                  f"| {small[0]:6.2f} {small[1]:+5.2f} | {more[0]:6.2f} {more[1]:+5.2f}",
                  flush=True)
    if rows:
        full, small, more = np.mean(rows, axis=0)
        print(f"mean gap: full {full:+.2f}, half size {small:+.2f}, 4N spp full {more:+.2f} dB")


if __name__ == "__main__":
    main()
