"""How much the noise in the feature passes costs: denoise with the render's own albedo,
normal and depth, then with cleaner ones, and compare.

    python bench/feature_noise.py [--data data/test] [--model PATH] [--spp 4,16] [--oidn]
                                  [--prefilter reference,oidn,color,aux,none] [--per-scene]
                                  [--aux-model runs/R/checkpoints/last.pt]

On every noisy render of a folder with references (the training layout, or the field; see
``mcdenoise evaluate``), the color stays the render's own; only the feature passes change:

- ``reference``: swapped for the reference's, rendered with many more samples. The
  difference bounds what denoising (prefiltering) the features first could gain.
- ``oidn``: albedo and normal denoised by Intel OIDN's own auxiliary filters (what
  Blender's "Accurate" prefilter feeds OIDN), depth kept: what a good learned prefilter
  gives.
- ``color``: albedo and normal denoised by our own color-only model (the normal mapped to
  [0, 1] and back, then renormalised), depth kept: a prefilter with no new network.
- ``aux``: albedo and normal denoised by a model trained with ``--config aux``
  (model.task=aux, ``--aux-model``), depth kept: our own learned prefilter.
- ``none``: the model fed no clean-up, for reference (always included).

``--oidn`` adds Intel OIDN with its own prefiltered features. Means per sample count of
the metrics of ``mcdenoise evaluate``; ``--per-scene`` adds PSNR per scene. Numbers go to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import defaultdict

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/test")
    parser.add_argument("--model", default=None, help="default: the bundled model")
    parser.add_argument("--spp", default="", help="only these sample counts, e.g. 4,16")
    parser.add_argument("--oidn", action="store_true", help="also Intel OIDN (pyoidn)")
    parser.add_argument("--prefilter", default="reference",
                        help="comma-separated: reference, oidn, color (default: reference)")
    parser.add_argument("--per-scene", action="store_true", help="also PSNR per scene")
    parser.add_argument("--aux-model", default=None, help="prefilter aux: a model.task=aux model")
    args = parser.parse_args()

    from mcdenoise.data import find_renders
    from mcdenoise.denoiser import default_model_file, load_model
    from mcdenoise.evaluate import Score, means, scores_of, table
    from mcdenoise.frame import load_frame
    from mcdenoise.metrics import flip_available
    from mcdenoise.oidn import oidn_available, oidn_denoise, oidn_filter_aux

    prefilters = [p.strip() for p in args.prefilter.split(",") if p.strip() and p != "none"]
    unknown = set(prefilters) - {"reference", "oidn", "color", "aux"}
    if unknown:
        sys.exit(f"error: unknown prefilter {', '.join(sorted(unknown))}")
    if (args.oidn or "oidn" in prefilters) and not oidn_available():
        sys.exit("error: pyoidn is not installed (pip install 'mcdenoise[compare]')")
    spp = tuple(int(s) for s in args.spp.split(",") if s)
    denoiser = load_model(args.model, device="cpu", precision="fp32")
    color_model = (load_model(default_model_file("color", "torch"), device="cpu", precision="fp32")
                   if "color" in prefilters else None)

    def color_prefilter(frame):
        albedo = color_model.denoise(np.clip(frame.albedo, 0, 1))
        normal = color_model.denoise(np.clip(frame.normal, -1, 1) * 0.5 + 0.5) * 2 - 1
        normal /= np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-6)
        return dataclasses.replace(frame, albedo=np.clip(albedo, 0, 1), normal=normal)

    aux_model = None
    if "aux" in prefilters:
        if not args.aux_model:
            sys.exit("error: --prefilter aux needs --aux-model (a model trained with "
                     "--config aux)")
        from mcdenoise.checkpoint import load_network
        aux_model, aux_config = load_network(args.aux_model, "cpu")
        if aux_config.model.task != "aux":
            sys.exit(f"error: {args.aux_model} is not a model.task=aux model")

    def aux_prefilter(frame):
        import torch

        from mcdenoise.features import build_input, frame_stats
        planes = build_input(None, aux_config.input, frame_stats(frame.color, frame.depth),
                             frame.albedo, frame.normal, frame.depth)
        with torch.no_grad():
            out = aux_model.eval()(torch.from_numpy(planes)[None])[0].numpy()
        normal = out[3:6].transpose(1, 2, 0)
        normal = normal / np.maximum(np.linalg.norm(normal, axis=-1, keepdims=True), 1e-6)
        return dataclasses.replace(frame, albedo=np.clip(out[:3].transpose(1, 2, 0), 0, 1),
                                   normal=normal.astype(np.float32))

    def oidn_prefilter(frame):
        albedo, normal = oidn_filter_aux(frame.albedo, frame.normal)
        return dataclasses.replace(frame, albedo=albedo, normal=normal)

    use_flip = flip_available()
    scores: list[Score] = []
    per_scene: dict[tuple[int, str], dict[str, float]] = defaultdict(dict)
    for scene, renders in sorted(find_renders(args.data, spp).items()):
        reference_render = next((r for r in renders if r.seed < 0), None)
        if reference_render is None:
            continue
        reference = load_frame(reference_render.path)
        for render in renders:
            if render.seed < 0:
                continue
            own = load_frame(render.path)
            frames = {"own features": own}
            for name in prefilters:
                if name == "reference":
                    frames["reference features"] = dataclasses.replace(
                        own, albedo=reference.albedo, normal=reference.normal,
                        depth=reference.depth)
                elif name == "oidn":
                    frames["OIDN-prefiltered features"] = oidn_prefilter(own)
                elif name == "aux":
                    frames["aux-model-prefiltered features"] = aux_prefilter(own)
                else:
                    frames["color-model-prefiltered features"] = color_prefilter(own)
            methods = [("mcdenoise", label, frame) for label, frame in frames.items()]
            if args.oidn:
                methods.append(("oidn", "own features (prefiltered)", own))
            for name, label, frame in methods:
                if name == "oidn":
                    output = oidn_denoise(frame.color, frame.albedo, frame.normal)
                else:
                    output = denoiser.denoise(frame.color, frame.albedo, frame.normal,
                                              frame.depth)
                values, _ = scores_of(output, reference.color, use_flip)
                method = f"{name}, {label}"
                scores.append(Score(render.path.name, scene, render.spp, method, **values,
                                    seconds=0.0))
                per_scene[(render.spp, scene)][method] = values["psnr"]
    if not scores:
        sys.exit(f"error: {args.data}: no noisy render with a reference")
    rows = sorted(means(scores), key=lambda row: row["spp"])
    print(table(rows, ("spp", "method", "images"), seconds=False))
    if args.per_scene:
        methods = list(dict.fromkeys(s.method for s in scores))
        print("\n| spp | scene | " + " | ".join(methods) + " |")
        print("| --- | --- |" + " ---: |" * len(methods))
        for (count, scene), values in sorted(per_scene.items()):
            cells = " | ".join(f"{values[m]:.2f}" if m in values else "" for m in methods)
            print(f"| {count} | {scene} | {cells} |")


if __name__ == "__main__":
    main()
