"""Flicker on still shots: field scenes rendered as frames that differ only in their seed,
denoised frame by frame and as a sequence (neighbours averaged in), beside OIDN.

    python bench/temporal.py [--field data/field] [--scenes textures,glossy_lights,sky_exterior]
                             [--frames 6] [--spp 16] [--out data/field-shots]

A perfectly stable denoiser gives identical frames. Flicker is the mean absolute change of
tonemapped values between consecutive frames (lower is better); PSNR is per frame against
the scene's field reference (`mcdenoise render field` first). Frames are rendered once into
OUT/<scene>/<scene>.####.exr (seed = frame number) and reused. Numbers: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

RENDER = textwrap.dedent("""
    import sys
    from mcdenoise.render.cycles import (configure_cycles, import_bpy, render_still,
                                         set_multilayer_exr)
    from mcdenoise.render.dataset import cycles_seed
    from mcdenoise.render.field import FIELD_SCENES, build_field_scene
    name, out, frames, spp = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    bpy = import_bpy()
    build_field_scene(bpy, name)
    scene = bpy.context.scene
    width, height = FIELD_SCENES[name].size
    configure_cycles(scene, spp=spp, seed=0, width=width, height=height)
    set_multilayer_exr(scene, half=True)
    for frame in range(1, frames + 1):
        scene.cycles.seed = cycles_seed("still-shot", name, frame)
        render_still(scene, f"{out}/{name}.{frame:04d}.exr")
""")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--field", default="data/field")
    parser.add_argument("--scenes", default="textures,glossy_lights,sky_exterior")
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--spp", type=int, default=16)
    parser.add_argument("--out", default="data/field-shots")
    parser.add_argument("--model", default=None)
    parser.add_argument("--radius", type=int, default=2, help="neighbours on each side")
    args = parser.parse_args()

    from mcdenoise.denoiser import load_model
    from mcdenoise.oidn import oidn_denoise
    from mcdenoise.shots import Shot, score_shot

    denoiser = load_model(args.model, device="cpu", precision="fp32")
    print(f"{'scene':14} {'method':30} {'flicker':>8} {'PSNR':>7}")
    totals: dict[str, list[tuple[float, float]]] = {}
    for name in args.scenes.split(","):
        folder = Path(args.out) / name
        paths = [folder / f"{name}.{f:04d}.exr" for f in range(1, args.frames + 1)]
        if not all(p.exists() for p in paths):
            folder.mkdir(parents=True, exist_ok=True)
            subprocess.run([sys.executable, "-c", RENDER, name, str(folder), str(args.frames),
                            str(args.spp)], check=True, capture_output=True)
        shot = Shot(name, args.spp, "still", paths,
                    [Path(args.field) / name / f"{name}_ref.exr"])
        for score in score_shot(shot, denoiser, lambda f: oidn_denoise(f.color, f.albedo,
                                                                       f.normal), args.radius):
            totals.setdefault(score.method, []).append((score.flicker, score.psnr))
            print(f"{name:14} {score.method:30} {score.flicker:8.4f} {score.psnr:7.2f}",
                  flush=True)
    for method, values in totals.items():
        flicker, psnr = np.mean(values, axis=0)
        print(f"{'mean':14} {method:30} {flicker:8.4f} {psnr:7.2f}")


if __name__ == "__main__":
    main()
