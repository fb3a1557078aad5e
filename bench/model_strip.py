"""Two or more models side by side on the same crops of field scenes, with OIDN and the
reference: a row per scene, noisy | each model | OIDN | reference, tonemapped.

    python bench/model_strip.py --scenes cornell,dof_bokeh --spp 16 \
        --model bundled=OLD.safetensors --model new=NEW.safetensors -o docs/strip.jpg

Each scene's 128x128 crop is where the first model's tonemapped error is largest (the same
window for every column, unlike the per-report crops of ``field_sheet.py``), shown at 2x.
Needs pyoidn (``pip install 'mcdenoise[compare]'``).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

CROP = 128


def _pixels(linear: np.ndarray) -> np.ndarray:
    from mcdenoise.evaluate import _display  # the report's tonemap for display

    return (np.clip(_display(np.float32(linear)), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/field")
    parser.add_argument("--scenes", required=True, help="comma-separated scene names")
    parser.add_argument("--spp", type=int, default=16)
    parser.add_argument("--model", action="append", required=True, metavar="LABEL=PATH",
                        help="a model to show (repeat); PATH 'bundled' is the bundled one")
    parser.add_argument("-o", "--out", required=True)
    args = parser.parse_args()
    import imageio.v3 as iio

    from mcdenoise.denoiser import load_model
    from mcdenoise.evaluate import _crop_window
    from mcdenoise.frame import load_beauty, load_frame
    from mcdenoise.metrics import tonemap
    from mcdenoise.oidn import oidn_available, oidn_denoise

    if not oidn_available():
        sys.exit("error: pyoidn is not installed (pip install 'mcdenoise[compare]')")
    models = []
    for item in args.model:
        label, _, path = item.partition("=")
        models.append((label, load_model(None if path == "bundled" else path, device="cpu",
                                         precision="fp32")))
    rows = []
    for scene in args.scenes.split(","):
        frame = load_frame(f"{args.data}/{scene}/{scene}_{args.spp:04d}spp_s000.exr")
        reference = load_beauty(f"{args.data}/{scene}/{scene}_ref.exr")
        columns = [frame.color]
        columns += [m.denoise(frame.color, frame.albedo, frame.normal, frame.depth)
                    for _, m in models]
        columns += [oidn_denoise(frame.color, frame.albedo, frame.normal), reference]
        error = ((tonemap(torch.from_numpy(columns[1])) - tonemap(torch.from_numpy(reference)))
                 ** 2).mean(-1).numpy()
        y, x = _crop_window(error, CROP)
        row = np.concatenate([_pixels(c[y:y + CROP, x:x + CROP]) for c in columns], 1)
        rows.append(row.repeat(2, 0).repeat(2, 1))
        print(f"{scene}: crop at x {x}, y {y}; columns noisy | "
              + " | ".join(label for label, _ in models) + " | OIDN | reference")
    iio.imwrite(args.out, np.concatenate(rows, 0), quality=90)


if __name__ == "__main__":
    main()
