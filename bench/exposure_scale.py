"""The per-frame exposure, moved (a prototype; not in the package): every noisy render is
denoised with the exposure that `frame_stats` picks (the log-average luminance of the lit
pixels mapped to 0.18) times each factor, and scored beside the others on every noisy
render of DATA that has a reference; per scene, each factor's PSNR minus factor 1's.

    python bench/exposure_scale.py data/field [--model M] [--spp 16] [--factors 1,0.5,2]

Numbers: docs/benchmarks.md ("Session 32"): on the field at 16 spp the rule's own exposure
is best on the mean; half and twice it move single scenes by up to 0.85 dB either way,
with no pattern a different rule could use.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses

import numpy as np

import mcdenoise
from mcdenoise.evaluate import evaluate, means, table
from mcdenoise.features import build_input, frame_stats, output_to_linear


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--model", default=None, help="default: the bundled model")
    parser.add_argument("--spp", default="16", help="only these sample counts, e.g. 4,16")
    parser.add_argument("--factors", default="1,0.5,2", help="exposure factors; 1 first")
    args = parser.parse_args()
    denoiser = mcdenoise.load_model(args.model, device="cpu", precision="auto")
    factors = [float(f) for f in args.factors.split(",")]
    if not factors or factors[0] != 1.0 or any(f <= 0 for f in factors):
        parser.error("--factors: positive numbers, starting with 1")

    def scaled(factor: float):
        def run(frame):
            stats = frame_stats(frame.color, frame.depth)
            stats = dataclasses.replace(stats, exposure=stats.exposure * factor)
            network_input = build_input(frame.color, denoiser.config.input, stats,
                                        frame.albedo, frame.normal, frame.depth)
            out = output_to_linear(denoiser.run_tiled(network_input), stats,
                                   denoiser.config.input)
            return np.ascontiguousarray(out.transpose(1, 2, 0), np.float32)
        return run

    methods = {f"x{f:g}": scaled(f) for f in factors}
    spp = tuple(int(s) for s in args.spp.split(",") if s)
    scores, _ = evaluate(args.data, methods, use_flip=True, spp=spp, progress=False)
    print(table(means(scores), ("spp", "method"), seconds=False))
    per: dict[tuple[str, int], dict[str, float]] = collections.defaultdict(dict)
    for score in scores:
        per[(score.scene, score.spp)][score.method] = score.psnr
    print("\nPSNR minus x1's (dB)")
    for (scene, count), row in sorted(per.items()):
        cells = "  ".join(f"{name} {row[name] - row['x1']:+.2f}" for name in methods
                          if name != "x1")
        print(f"{scene:16s} {count:3d} spp  {cells}")


if __name__ == "__main__":
    main()
