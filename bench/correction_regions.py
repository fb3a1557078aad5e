"""Where a hybrid model's correction acts (`model.kernel_residual`): the mean |r| of its
factor exp(r) on the kernels' result, split into the regions of bench/error_regions.py
(geometry edges, texture edges, flat; found on the reference's features), per scene.

    python bench/correction_regions.py MODEL [--data data/field] [--spp 16] [--scenes a,b]

A correction that draws one-pixel geometry edges (the hypothesis behind the hybrid,
docs/benchmarks.md "Session 30") acts there more than on flat walls; one that learned
nothing stays at zero everywhere. Numbers: docs/benchmarks.md ("Session 32").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mcdenoise.checkpoint import load_network
from mcdenoise.features import build_input, frame_stats
from mcdenoise.frame import load_frame

sys.path.insert(0, str(Path(__file__).parent))
from error_regions import regions  # noqa: E402  (a sibling script)


def correction(net, config, frame) -> torch.Tensor:
    """r, (3, H, W): the correction channels of the network's last conv, clamped as used."""
    stats = frame_stats(frame.color, frame.depth)
    x = torch.from_numpy(build_input(frame.color, config.input, stats, frame.albedo,
                                     frame.normal, frame.depth))[None]
    with torch.no_grad():
        if net.prefilter is not None:
            x = net.prefiltered(x)
        height, width = x.shape[-2:]
        x = F.pad(x, (0, -width % net.alignment, 0, -height % net.alignment), mode="replicate")
        return net.body(x)[0, -3:, :height, :width].clamp(-8.0, 8.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a checkpoint or model trained with model.kernel_residual")
    parser.add_argument("--data", default="data/field")
    parser.add_argument("--spp", type=int, default=16)
    parser.add_argument("--scenes", default="", help="only these scenes, e.g. cornell,caustics")
    args = parser.parse_args()
    net, config = load_network(args.model)
    if not net.kernel_residual:
        parser.error(f"{args.model}: not a hybrid model (model.kernel_residual)")
    net.eval()
    wanted = {s for s in args.scenes.split(",") if s}
    print(f"{'scene':16s} {'|r| median':>10s} {'p99':>6s} {'max':>6s}   mean |r| per region "
          "(share of pixels)")
    for folder in sorted(p for p in Path(args.data).iterdir() if p.is_dir()):
        if wanted and folder.name not in wanted:
            continue
        noisy = sorted(folder.glob(f"{folder.name}_{args.spp:04d}spp_s*.exr"))
        reference = folder / f"{folder.name}_ref.exr"
        if not noisy or not reference.exists():
            continue
        r = correction(net, config, load_frame(noisy[0]))
        size = r.abs().mean(0)
        quantiles = np.quantile(r.abs().flatten().numpy(), [0.5, 0.99, 1.0])
        parts = "  ".join(f"{name} {float(size[mask].mean()) if mask.any() else 0:.3f} "
                          f"({float(mask.float().mean()):.0%})"
                          for name, mask in regions(load_frame(reference)).items())
        print(f"{folder.name:16s} {quantiles[0]:10.3f} {quantiles[1]:6.3f} {quantiles[2]:6.3f}"
              f"   {parts}")


if __name__ == "__main__":
    main()
