"""How far a kernel model smooths: per scene, the effective size of its kernels at each
scale and how much of each coarser scale it blends in, on the flat pixels of the image.

    python bench/kernel_reach.py [--data data/field] [--model PATH ...] [--spp 16]

For a kernel-predicting model (``model.output=kernel``), on every noisy render of DATA at
the given sample count: the effective number of taps of each scale's softmax kernel
(``1 / sum(w^2)``: 1 for a kernel that copies one pixel, 25 for a uniform 5x5 one) and the
blend weight of each coarser scale into the next finer one (0: the coarse scale is not used,
1: it supplies all the low frequencies), as medians over the flat pixels (away from normal
and albedo edges of the render's own features, as in ``error_regions.py``). On a flat wall
of a noisy render a model that removes the noise must use wide kernels and coarse scales;
where it does not, grain is left (issue 23: the Cornell box's walls). ``mix`` is the weight
of the albedo-demodulated result. Several ``--model`` are printed side by side.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from error_regions import regions


def reach(denoiser, frame) -> dict[str, torch.Tensor]:
    """Per-pixel maps (H, W) of one frame: ``taps s`` for each scale, ``blend s`` (the
    weight of scale s + 1 in scale s) and ``mix`` when the model demodulates."""
    from mcdenoise.features import build_input, frame_stats

    net = denoiser.model.eval()
    stats = frame_stats(frame.color, frame.depth)
    x = torch.from_numpy(build_input(frame.color, denoiser.config.input, stats, frame.albedo,
                                     frame.normal, frame.depth))[None]
    if denoiser.prefilter is not None:  # model.prefilter_width: as Network.forward, the
        # prefilter (which load_model keeps as a stage of its own) first, on the unpadded input
        net.prefilter = denoiser.prefilter.model.eval()
        try:
            with torch.no_grad():
                x = net.prefiltered(x)
        finally:
            net.prefilter = None
    height, width = x.shape[-2:]
    align = net.alignment
    x = F.pad(x, (0, -width % align, 0, -height % align), mode="replicate")
    with torch.no_grad():
        out = net.body(x).float()
    k2, scales = net.kernel_size**2, net.scales
    maps = {}
    for scale in range(scales):
        logits = out[:, scale * k2:(scale + 1) * k2]
        if scale:
            logits = F.avg_pool2d(logits, 2**scale)
        taps = 1.0 / (torch.softmax(logits, 1) ** 2).sum(1, keepdim=True)
        if scale:
            taps = F.interpolate(taps, scale_factor=2.0**scale, mode="nearest")
        maps[f"taps {scale}"] = taps[0, 0, :height, :width]
    for scale in range(scales - 1):
        maps[f"blend {scale}"] = torch.sigmoid(out[0, scales * k2 + scale, :height, :width])
    if net.mix:
        maps["mix"] = torch.sigmoid(out[0, -1, :height, :width])
    return maps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/field")
    parser.add_argument("--model", action="append", default=None,
                        help="a kernel model (repeat for several); default: the bundled one")
    parser.add_argument("--spp", type=int, default=16)
    args = parser.parse_args()

    from mcdenoise.data import find_renders
    from mcdenoise.denoiser import load_model
    from mcdenoise.frame import load_frame

    models = {}
    for path in args.model or [None]:
        denoiser = load_model(path, device="cpu", precision="fp32", backend="torch")
        if not denoiser.model.kernel_size:
            parser.error(f"{path or 'the bundled model'}: not a kernel model")
        models[path or "bundled"] = denoiser
    for scene, renders in sorted(find_renders(args.data, (args.spp,)).items()):
        for render in (r for r in renders if r.seed >= 0):
            frame = load_frame(render.path)
            flat = regions(frame)["flat"]
            print(f"{scene} {render.spp} spp, {float(flat.float().mean()):.0%} flat")
            for name, denoiser in models.items():
                maps = reach(denoiser, frame)
                cells = "  ".join(f"{key} {float(value[flat].median()):5.2f}"
                                  for key, value in maps.items())
                print(f"  {name}: {cells}")


if __name__ == "__main__":
    main()
