"""Side-by-side crops of the field benchmark at one sample count, from evaluate reports:
a row per scene, noisy | mcdenoise | OIDN | reference (the report's 128x128 crops, where
mcdenoise's error is largest), tonemapped.

    mcdenoise evaluate data/field --compare oidn --report reports/field
    python bench/field_sheet.py reports/field [REPORT ...] --spp 16 -o docs/field_16spp.png
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

COLUMNS = ("noisy", "mcdenoise", "oidn", "reference")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+")
    parser.add_argument("--spp", type=int, default=16)
    parser.add_argument("--per-row", type=int, default=2, help="scenes side by side")
    parser.add_argument("-o", "--out", required=True)
    args = parser.parse_args()
    import imageio.v3 as iio

    found: dict[str, list[np.ndarray]] = {}
    for report in args.reports:  # a later report's scene replaces an earlier one's
        html = (Path(report) / "report.html").read_text()
        names = re.findall(r"<tr><td>([^<]+)</td>", html)
        for index, name in enumerate(names):
            match = re.match(r"(.+)_(\d{4})spp_s\d+\.exr$", name)
            if match and int(match[2]) == args.spp:
                found[match[1]] = [iio.imread(Path(report) / "images" /
                                              f"{index:03d}_{column}.png")[..., :3]
                                   for column in COLUMNS]
    gap = 4
    tiles = []
    for scene in sorted(found):
        crops = found[scene]
        side = crops[0].shape[0]
        spacer = np.full((side, gap, 3), 255, np.uint8)
        tiles.append(np.concatenate([piece for crop in crops for piece in (crop, spacer)][:-1],
                                    axis=1))
    width = tiles[0].shape[1]
    rows = []
    for start in range(0, len(tiles), args.per_row):
        group = tiles[start:start + args.per_row]
        group += [np.full_like(tiles[0], 255)] * (args.per_row - len(group))
        spacer = np.full((tiles[0].shape[0], 4 * gap, 3), 255, np.uint8)
        rows.append(np.concatenate([p for t in group for p in (t, spacer)][:-1], axis=1))
        rows.append(np.full((gap, rows[-1].shape[1], 3), 255, np.uint8))
    sheet = np.concatenate(rows[:-1], axis=0)
    iio.imwrite(args.out, sheet)
    print(f"{args.out}: {len(tiles)} scenes ({', '.join(sorted(found))}), "
          f"{sheet.shape[1]}x{sheet.shape[0]}, columns {' | '.join(COLUMNS)}; width {width}")


if __name__ == "__main__":
    main()
