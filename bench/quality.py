"""Quality on held-out renders with references: noisy input, mcdenoise and OIDN side by side.

    python bench/quality.py data/val [--model PATH] [--no-oidn]

For every scene of a data folder in the training layout that has a `<scene>_ref.exr`, each
noisy render is denoised by mcdenoise (and by Intel OIDN when pyoidn is installed) and
compared with the reference: tonemapped PSNR (the N2N tonemap, peak 1) and relMSE.
Prints per-image rows and the means. (`mcdenoise evaluate` will grow from this.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from mcdenoise.data import find_renders
from mcdenoise.denoise import load_model
from mcdenoise.exr import load_frame
from mcdenoise.metrics import psnr_tonemapped, relmse
from mcdenoise.oidn import oidn_available, oidn_denoise


def _scores(image: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    a, b = (torch.from_numpy(x).permute(2, 0, 1) for x in (image, reference))
    return psnr_tonemapped(a, b).item(), relmse(a, b).item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("--model")
    parser.add_argument("--no-oidn", action="store_true")
    args = parser.parse_args()
    denoiser = load_model(args.model, device="cpu")
    use_oidn = oidn_available() and not args.no_oidn
    rows = []
    for renders in find_renders(args.data).values():
        reference = next((r for r in renders if r.seed < 0), None)
        if reference is None:
            continue
        ref = load_frame(reference.path).color
        for render in (r for r in renders if r.seed >= 0):
            frame = load_frame(render.path)
            row = {"image": render.path.name, "noisy": _scores(frame.color, ref)}
            row["mcdenoise"] = _scores(denoiser.denoise(frame.color, frame.albedo,
                                                        frame.normal, frame.depth), ref)
            if use_oidn:
                row["oidn"] = _scores(oidn_denoise(frame.color, frame.albedo, frame.normal), ref)
            rows.append(row)
            print(f"{row['image']:36} " + "  ".join(
                f"{k} {v[0]:6.2f} dB {v[1]:.4f}" for k, v in row.items() if k != "image"))
    methods = [k for k in rows[0] if k != "image"]
    print(f"mean over {len(rows)} images (tonemapped PSNR, relMSE):")
    for method in methods:
        psnr = np.mean([r[method][0] for r in rows])
        rel = np.mean([r[method][1] for r in rows])
        print(f"  {method:10} {psnr:6.2f} dB  relMSE {rel:.4f}")


if __name__ == "__main__":
    main()
