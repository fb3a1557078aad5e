"""Renders per minute of `mcdenoise render procedural`, and a contact sheet of the scenes.

    python bench/render_throughput.py [--scenes 10] [--size 256] [--spp 16] [--workers 2]
                                      [--sheet docs/contact_sheet.png]

Renders ``--scenes`` procedural scenes (one seed each) into a temporary folder through the
same code as the CLI, prints renders per minute (Blender start-up included), and writes a
tonemapped contact sheet: beauty on top, albedo below, one column per scene.
Numbers are written down in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from mcdenoise.frame import load_frame
from mcdenoise.render.dataset import RenderJob, run_jobs


def to_display(linear: np.ndarray) -> np.ndarray:
    """The N2N tonemap, then 8 bits."""
    mapped = (np.clip(linear, 0, None) / (1 + np.clip(linear, 0, None))) ** (1 / 2.2)
    return (np.clip(mapped, 0, 1) * 255 + 0.5).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=10)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--spp", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--scene-seed", type=int, default=0)
    parser.add_argument("--sheet", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch)
        jobs = [RenderJob(scene=f"proc{args.scene_seed}-{i:05d}", out=str(out), spp=[args.spp],
                          seeds=1, width=args.size, height=args.size,
                          scene_seed=args.scene_seed, index=i) for i in range(args.scenes)]
        started = time.perf_counter()
        manifest = run_jobs(jobs, out, {"bench": True}, workers=args.workers, progress=False)
        seconds = time.perf_counter() - started
        print(f"{args.scenes} renders at {args.size}x{args.size}, {args.spp} spp, "
              f"{args.workers} worker(s): {seconds:.1f} s, {60 * args.scenes / seconds:.1f} "
              "renders/minute")
        kinds = [manifest["scenes"][job.scene]["kind"] for job in jobs]
        print("kinds:", ", ".join(kinds))
        if args.sheet:
            columns = []
            for job in jobs:
                frame = load_frame(out / job.scene / f"{job.scene}_{args.spp:04d}spp_s000.exr")
                albedo = (np.clip(frame.albedo, 0, 1) ** (1 / 2.2) * 255 + 0.5).astype(np.uint8)
                columns.append(np.concatenate([to_display(frame.color), albedo], axis=0))
            args.sheet.parent.mkdir(parents=True, exist_ok=True)
            iio.imwrite(args.sheet, np.concatenate(columns, axis=1))
            print(f"contact sheet: {args.sheet}")


if __name__ == "__main__":
    main()
