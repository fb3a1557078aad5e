"""The README's picture: the shipped sample tonemapped, noisy | mcdenoise | Intel OIDN.

    python bench/sample_comparison.py [--model PATH] [-o docs/sample_comparison.png]

mcdenoise with the bundled model (or --model), OIDN quality high with albedo + normal
prefiltered (Blender's "Accurate"); tonemap T(v) = (v / (1 + v))^(1/2.2), white separators.
Needs the compare extra (pyoidn).
"""

from __future__ import annotations

import argparse
import importlib.resources
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model")
    parser.add_argument("-o", "--out", type=Path, default=Path("docs/sample_comparison.png"))
    args = parser.parse_args()

    import torch

    from mcdenoise.denoiser import load_model
    from mcdenoise.evaluate import save_png
    from mcdenoise.frame import load_frame
    from mcdenoise.metrics import tonemap
    from mcdenoise.oidn import oidn_denoise

    sample = importlib.resources.files("mcdenoise.samples") / "sample_16spp.exr"
    frame = load_frame(str(sample))
    ours = load_model(args.model, device="cpu", precision="fp32").denoise(frame.color, frame.albedo,
                                                          frame.normal, frame.depth)
    theirs = oidn_denoise(frame.color, frame.albedo, frame.normal)
    separator = np.ones((frame.color.shape[0], 4, 3), np.float32)
    panels = [tonemap(torch.from_numpy(np.ascontiguousarray(image))).numpy()
              for image in (frame.color, ours, theirs)]
    save_png(args.out, np.concatenate([panels[0], separator, panels[1], separator, panels[2]],
                                      axis=1))
    print(f"written: {args.out}")


if __name__ == "__main__":
    main()
