"""Where the error is: mcdenoise against Intel OIDN, split by image region and by frequency.

    python bench/error_regions.py [--data data/test] [--model PATH] [--spp 4,16,64] [--scenes a,b]
        [--band N]

On every noisy render of a folder with references (the training layout; see
``mcdenoise evaluate``), the squared error of the tonemapped output (the metric behind
``mcdenoise evaluate``'s PSNR) is summed over three kinds of pixel, found on the
reference's own feature passes:

- geometry: near a normal discontinuity (silhouettes, creases; a 3x3 neighbourhood whose
  normal changes by more than 0.2 summed over x, y, z between neighbours),
- texture: near an albedo edge (more than 0.1 summed over R, G, B) but not geometry,
- flat: the rest;

(``--band N`` widens the first two by N pixels: how much of the error sits near edges);

and split into a low band (the 9x9 box average of the error) and the high band (the rest).
Each row gives the mean over images of the error per image pixel in each part, so the parts
add up to the image's MSE (the bands nearly do: they are not orthogonal), and the share of
pixels in each region. Needs pyoidn (``pip install 'mcdenoise[compare]'``). Numbers go to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
import torch.nn.functional as F

REGIONS = ("geometry", "texture", "flat")


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image, np.float32)).permute(2, 0, 1)[None]


def _edges(image: np.ndarray, threshold: float) -> torch.Tensor:
    """Pixels within one pixel of a step larger than ``threshold`` (summed over channels)."""
    x = _tensor(image)
    gx = (x[..., :, 1:] - x[..., :, :-1]).abs().sum(1, keepdim=True)
    gy = (x[..., 1:, :] - x[..., :-1, :]).abs().sum(1, keepdim=True)
    step = F.pad(gx, (0, 1, 0, 0)) + F.pad(gy, (0, 0, 0, 1))
    return F.max_pool2d(step, 3, 1, 1)[0, 0] > threshold


def _grown(mask: torch.Tensor, band: int) -> torch.Tensor:
    """(H, W) boolean mask grown by ``band`` pixels in every direction."""
    if not band:
        return mask
    return F.max_pool2d(mask.float()[None, None], 2 * band + 1, 1, band)[0, 0] > 0


def regions(reference, band: int = 0) -> dict[str, torch.Tensor]:
    """Boolean (H, W) masks of the three regions, from a reference frame's features; with
    ``band`` the two edge regions reach that many pixels further."""
    geometry = _grown(_edges(reference.normal, 0.2), band)
    texture = _grown(_edges(reference.albedo, 0.1), band) & ~geometry
    return {"geometry": geometry, "texture": texture, "flat": ~geometry & ~texture}


def error_parts(output: np.ndarray, reference: np.ndarray, masks: dict[str, torch.Tensor],
                radius: int = 4) -> dict[str, float]:
    """Squared tonemapped error per image pixel in each region, and in the two bands."""
    from mcdenoise.metrics import tonemap

    error = tonemap(_tensor(output)) - tonemap(_tensor(reference))  # (1, 3, H, W)
    squared = (error**2).mean(1)[0]
    size = 2 * radius + 1
    low = F.avg_pool2d(F.pad(error, (radius,) * 4, mode="replicate"), size, 1)
    parts = {name: float((squared * mask).mean()) for name, mask in masks.items()}
    parts["low band"] = float((low**2).mean())
    parts["high band"] = float(((error - low) ** 2).mean())
    parts["total"] = float(squared.mean())
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/test")
    parser.add_argument("--model", default=None, help="default: the bundled model")
    parser.add_argument("--spp", default="", help="only these sample counts, e.g. 16")
    parser.add_argument("--scenes", default="", help="only these scenes, e.g. cornell,caustics")
    parser.add_argument("--band", type=int, default=0,
                        help="widen the geometry and texture regions by this many pixels")
    args = parser.parse_args()
    only = {name for name in args.scenes.split(",") if name}

    from mcdenoise.data import find_renders
    from mcdenoise.denoiser import load_model
    from mcdenoise.frame import load_frame
    from mcdenoise.oidn import oidn_available, oidn_denoise

    if not oidn_available():
        sys.exit("error: pyoidn is not installed (pip install 'mcdenoise[compare]')")
    spp = tuple(int(s) for s in args.spp.split(",") if s)
    denoiser = load_model(args.model, device="cpu", precision="fp32")
    methods = {
        "mcdenoise": lambda f: denoiser.denoise(f.color, f.albedo, f.normal, f.depth),
        "oidn": lambda f: oidn_denoise(f.color, f.albedo, f.normal),
    }
    sums: dict[tuple[int, str], dict[str, float]] = {}
    shares: dict[str, float] = dict.fromkeys(REGIONS, 0.0)
    counts: dict[int, int] = {}
    for scene, renders in sorted(find_renders(args.data, spp).items()):
        if only and scene not in only:
            continue
        reference_render = next((r for r in renders if r.seed < 0), None)
        if reference_render is None:
            continue
        reference = load_frame(reference_render.path)
        masks = regions(reference, args.band)
        for render in renders:
            if render.seed < 0:
                continue
            frame = load_frame(render.path)
            counts[render.spp] = counts.get(render.spp, 0) + 1
            for name, mask in masks.items():
                shares[name] += float(mask.float().mean())
            for method, denoise in methods.items():
                parts = error_parts(denoise(frame), reference.color, masks)
                total = sums.setdefault((render.spp, method), dict.fromkeys(parts, 0.0))
                for key, value in parts.items():
                    total[key] += value
    if not counts:
        sys.exit(f"error: {args.data}: no noisy render with a reference")
    images = sum(counts.values())
    print("share of pixels: " + ", ".join(f"{n} {shares[n] / images:.2f}" for n in REGIONS))
    keys = ("total", *REGIONS, "low band", "high band")
    print("| spp | method | " + " | ".join(keys) + " |")
    print("| --- | --- |" + " ---: |" * len(keys))
    for (count, method), total in sorted(sums.items()):
        cells = " | ".join(f"{total[k] / counts[count] * 1e5:.2f}" for k in keys)
        print(f"| {count} | {method} | {cells} |")
    print("(squared tonemapped error per pixel, x 1e-5, mean over images)")


if __name__ == "__main__":
    main()
