"""How much the noise in the feature passes costs: denoise with the render's own albedo,
normal and depth, then with the reference's (nearly noise-free) ones, and compare.

    python bench/feature_noise.py [--data data/test] [--model PATH] [--spp 4,16] [--oidn]

On every noisy render of a folder with references (the training layout; see ``mcdenoise
evaluate``), the color stays the render's own; only the feature passes are swapped for the
reference's, which were rendered with many more samples. The difference bounds what
denoising (prefiltering) the features first could gain. ``--oidn`` adds Intel OIDN both
ways (it prefilters the features itself, as Blender's "Accurate" does). Means per sample
count of the metrics of ``mcdenoise evaluate``. Numbers go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/test")
    parser.add_argument("--model", default=None, help="default: the bundled model")
    parser.add_argument("--spp", default="", help="only these sample counts, e.g. 4,16")
    parser.add_argument("--oidn", action="store_true", help="also Intel OIDN (pyoidn)")
    args = parser.parse_args()

    from mcdenoise.data import find_renders
    from mcdenoise.denoiser import load_model
    from mcdenoise.evaluate import Score, means, scores_of, table
    from mcdenoise.frame import load_frame
    from mcdenoise.metrics import flip_available
    from mcdenoise.oidn import oidn_available, oidn_denoise

    if args.oidn and not oidn_available():
        sys.exit("error: pyoidn is not installed (pip install 'mcdenoise[compare]')")
    spp = tuple(int(s) for s in args.spp.split(",") if s)
    denoiser = load_model(args.model, device="cpu")
    methods = {"mcdenoise": lambda f: denoiser.denoise(f.color, f.albedo, f.normal, f.depth)}
    if args.oidn:
        methods["oidn"] = lambda f: oidn_denoise(f.color, f.albedo, f.normal)
    use_flip = flip_available()
    scores: list[Score] = []
    for scene, renders in sorted(find_renders(args.data, spp).items()):
        reference_render = next((r for r in renders if r.seed < 0), None)
        if reference_render is None:
            continue
        reference = load_frame(reference_render.path)
        for render in renders:
            if render.seed < 0:
                continue
            own = load_frame(render.path)
            swapped = dataclasses.replace(own, albedo=reference.albedo, normal=reference.normal,
                                          depth=reference.depth)
            for name, denoise in methods.items():
                for label, frame in (("own features", own), ("reference features", swapped)):
                    values, _ = scores_of(denoise(frame), reference.color, use_flip)
                    scores.append(Score(render.path.name, scene, render.spp,
                                        f"{name}, {label}", **values, seconds=0.0))
    if not scores:
        sys.exit(f"error: {args.data}: no noisy render with a reference")
    rows = sorted(means(scores), key=lambda row: row["spp"])
    print(table(rows, ("spp", "method", "images"), seconds=False))


if __name__ == "__main__":
    main()
