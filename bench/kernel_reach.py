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

``--force blend=0`` (and ``soften=F``, repeatable) also scores the model with its coarse
scales forced on those flat pixels (blend logits raised to at least 0; coarse kernel
logits multiplied by F, which widens them), as PSNR changes against the model as it is:
whether the reach it leaves unused would pay (docs/benchmarks.md, "Session 29").

    python bench/kernel_reach.py --scenes cornell,caustics --force blend=0 --force soften=0.5
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
import torch.nn.functional as F
from error_regions import regions


def network_output(denoiser, frame) -> tuple[torch.Tensor, torch.Tensor]:
    """(padded network input, last conv's output), both (1, C, H', W') with H', W' padded
    to the network's alignment: what ``Network.forward`` computes before the kernels."""
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
        return x, net.body(x).float()


def reach(denoiser, frame) -> dict[str, torch.Tensor]:
    """Per-pixel maps (H, W) of one frame: ``taps s`` for each scale, ``blend s`` (the
    weight of scale s + 1 in scale s) and ``mix`` when the model demodulates."""
    net = denoiser.model
    height, width = frame.color.shape[:2]
    _, out = network_output(denoiser, frame)
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


def forced(denoiser, frame, flat: torch.Tensor, blend: float | None = None,
           soften: float = 1.0) -> np.ndarray:
    """The frame denoised with the coarse scales forced on the ``flat`` pixels (H, W): every
    blend logit raised to at least ``blend``, the coarse kernels' logits multiplied by
    ``soften`` (< 1 widens them; 0 makes them boxes). (H, W, 3) linear, as ``denoise``."""
    from mcdenoise.features import frame_stats, output_to_linear

    net = denoiser.model
    height, width = frame.color.shape[:2]
    x, out = network_output(denoiser, frame)
    mask = torch.zeros((1, 1, *out.shape[-2:]), dtype=torch.bool)
    mask[0, 0, :height, :width] = flat
    k2, scales = net.kernel_size**2, net.scales
    for scale in range(1, scales):
        part = out[:, scale * k2:(scale + 1) * k2]
        out[:, scale * k2:(scale + 1) * k2] = torch.where(mask, part * soften, part)
    if blend is not None:
        part = out[:, scales * k2:scales * k2 + scales - 1]
        out[:, scales * k2:scales * k2 + scales - 1] = torch.where(
            mask, part.clamp(min=blend), part)
    albedo = None
    if net.albedo_channel is not None:
        albedo = x[:, net.albedo_channel:net.albedo_channel + 3]
    with torch.no_grad():
        y = net.apply_kernels(out, x[:, :net.filtered], albedo)[..., :height, :width]
    stats = frame_stats(frame.color, frame.depth)
    return output_to_linear(y[0].permute(1, 2, 0).numpy(), stats, denoiser.config.input)


def parse_force(spec: str) -> dict[str, float]:
    """'blend=0,soften=0.5' -> {'blend': 0.0, 'soften': 0.5}."""
    values = {}
    for part in spec.split(","):
        key, _, value = part.partition("=")
        if key.strip() not in ("blend", "soften") or not value:
            raise ValueError(f"{spec!r}: give blend=LOGIT and / or soften=FACTOR")
        values[key.strip()] = float(value)
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/field")
    parser.add_argument("--model", action="append", default=None,
                        help="a kernel model (repeat for several); default: the bundled one")
    parser.add_argument("--spp", type=int, default=16)
    parser.add_argument("--force", action="append", default=[], metavar="SPEC",
                        help="also score the model with its coarse scales forced on the flat "
                             "pixels, e.g. blend=0 (blend logits at least 0), soften=0.5 "
                             "(coarse kernel logits halved), blend=6,soften=0.5 (repeat); "
                             "needs references")
    parser.add_argument("--margin", type=int, default=0,
                        help="with --force: only flat pixels this far from any edge (the "
                             "coarse kernels reach 10 and 20 px)")
    parser.add_argument("--scenes", default="", help="only these scenes, e.g. cornell,caustics")
    args = parser.parse_args()
    try:
        forces = [(spec, parse_force(spec)) for spec in args.force]
    except ValueError as exc:
        parser.error(f"--force {exc}")
    only = {name for name in args.scenes.split(",") if name}

    from mcdenoise.data import find_renders
    from mcdenoise.denoiser import load_model
    from mcdenoise.frame import load_frame
    from mcdenoise.metrics import psnr_tonemapped

    def psnr(image: np.ndarray, reference: np.ndarray) -> float:
        a, b = (torch.from_numpy(np.ascontiguousarray(v, np.float32)).permute(2, 0, 1)
                for v in (image, reference))
        return psnr_tonemapped(a, b).item()

    models = {}
    for path in args.model or [None]:
        denoiser = load_model(path, device="cpu", precision="fp32", backend="torch")
        if not denoiser.model.kernel_size:
            parser.error(f"{path or 'the bundled model'}: not a kernel model")
        models[path or "bundled"] = denoiser
    for scene, renders in sorted(find_renders(args.data, (args.spp,)).items()):
        if only and scene not in only:
            continue
        references = [r for r in renders if r.seed < 0]
        if forces and not references:
            parser.error(f"{scene}: --force needs a reference render")
        for render in (r for r in renders if r.seed >= 0):
            frame = load_frame(render.path)
            flat = regions(frame)["flat"]
            print(f"{scene} {render.spp} spp, {float(flat.float().mean()):.0%} flat")
            for name, denoiser in models.items():
                maps = reach(denoiser, frame)
                cells = "  ".join(f"{key} {float(value[flat].median()):5.2f}"
                                  for key, value in maps.items())
                print(f"  {name}: {cells}")
                if forces:
                    inner = flat
                    if args.margin:  # eroded: no edge within the margin
                        size = 2 * args.margin + 1
                        edge = (~flat).float()[None, None]
                        inner = F.max_pool2d(edge, size, 1, args.margin)[0, 0] == 0
                    reference = load_frame(references[0].path).color
                    base = psnr(denoiser.denoise(frame.color, frame.albedo, frame.normal,
                                                 frame.depth), reference)
                    deltas = "  ".join(
                        f"{spec} {psnr(forced(denoiser, frame, inner, **v), reference) - base:+.2f}"
                        for spec, v in forces)
                    print(f"    PSNR {base:.2f} dB; forced on {float(inner.float().mean()):.0%} "
                          f"of the pixels: {deltas}")


if __name__ == "__main__":
    main()
