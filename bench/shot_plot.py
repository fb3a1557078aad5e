"""A pixel's value over time in every shot of an `evaluate --shots` report: the pixel where
mcdenoise's frame-by-frame error changes most, per method, with its reference.

    mcdenoise evaluate data/field-moving --shots --compare oidn --report reports/moving
    python bench/shot_plot.py reports/moving [-o docs/shot_pixels.png]

Needs matplotlib (in the `dev` extra).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

STYLES = {"noisy": ("0.6", ":"), "oidn": ("tab:orange", "-"),
          "mcdenoise per frame": ("tab:blue", "--"),
          "mcdenoise sequence, no blend": ("tab:cyan", "-."),
          "mcdenoise sequence": ("tab:blue", "-")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report")
    parser.add_argument("-o", "--out", default=None, help="default: REPORT/shot_pixels.png")
    args = parser.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = json.loads((Path(args.report) / "shots.json").read_text())
    shots: dict[tuple, list[dict]] = {}
    for row in rows:
        shots.setdefault((row["scene"], row["kind"], row["spp"]), []).append(row)
    figure, axes = plt.subplots(1, len(shots), figsize=(4.2 * len(shots), 3.4), squeeze=False)
    for axis, ((scene, kind, spp), group) in zip(axes[0], sorted(shots.items()), strict=True):
        frames = range(1, len(group[0]["trace"]) + 1)
        for row in group:
            color, line = STYLES.get(row["method"], ("k", "-"))
            axis.plot(frames, row["trace"], line, color=color, marker="o", markersize=3,
                      label=f"{row['method']} (flicker {row['flicker']:.4f})")
        axis.plot(frames, group[0]["reference_trace"], "-", color="k", linewidth=2.5,
                  alpha=0.35, label="reference")
        axis.set_title(f"{scene}, {kind} shot, {spp} spp, pixel {tuple(group[0]['pixel'])}",
                       fontsize=9)
        axis.set_xlabel("frame")
        axis.set_ylabel("tonemapped luminance")
        axis.legend(fontsize=6.5)
    figure.tight_layout()
    out = Path(args.out) if args.out else Path(args.report) / "shot_pixels.png"
    figure.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()
