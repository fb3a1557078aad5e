"""A firefly clamp before the network, measured (a prototype; not in the package): a pixel
whose luminance is above FACTOR times the brightest of its 8 neighbours is scaled down to
that bound, then denoised as usual. Each factor is scored beside the model without the
clamp, on every noisy render of DATA that has a reference.

    python bench/firefly_clamp.py data/field [--model M] [--factors 2,4]

Numbers: docs/benchmarks.md ("Session 16"). The clamp cannot tell a firefly from a real
one-pixel light (a star, a glint), which is why it is not shipped.
"""

from __future__ import annotations

import argparse

import numpy as np

import mcdenoise
from mcdenoise.evaluate import evaluate, means, table
from mcdenoise.features import LUMINANCE


def clamp_fireflies(color: np.ndarray, factor: float) -> np.ndarray:
    """(H, W, 3) linear color with isolated bright pixels scaled down to ``factor`` times
    their brightest neighbour's luminance."""
    luminance = color @ LUMINANCE
    height, width = luminance.shape
    padded = np.pad(luminance, 1, mode="edge")
    brightest = np.zeros_like(luminance)
    for dy in range(3):
        for dx in range(3):
            if (dy, dx) != (1, 1):
                np.maximum(brightest, padded[dy:dy + height, dx:dx + width], out=brightest)
    bound = factor * brightest + 1e-6
    scale = np.where(luminance > bound, bound / np.maximum(luminance, 1e-12), 1.0)
    return color * scale[..., None].astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--model", default=None, help="default: the bundled model")
    parser.add_argument("--factors", default="2,4")
    args = parser.parse_args()
    denoiser = mcdenoise.load_model(args.model, device="cpu", precision="fp32")

    def clamped(factor: float):
        return lambda f: denoiser.denoise(clamp_fireflies(f.color, factor), f.albedo,
                                          f.normal, f.depth)

    methods = {"mcdenoise": lambda f: denoiser.denoise(f.color, f.albedo, f.normal, f.depth)}
    for factor in (float(x) for x in args.factors.split(",")):
        methods[f"clamp {factor:g}x"] = clamped(factor)
    scores, _ = evaluate(args.data, methods, use_flip=True, progress=False)
    print(table(means(scores), ("spp", "method"), seconds=False))


if __name__ == "__main__":
    main()
