"""Several models side by side on the field benchmark, from their evaluate reports.

    mcdenoise evaluate data/field --compare oidn --report reports/field-default
    mcdenoise evaluate data/field --model runs/R/checkpoints/last.pt --report reports/field-R
    python bench/field_compare.py default=reports/field-default R=reports/field-R [--spp 16]

Each argument is LABEL=REPORT[,REPORT...] (a benchmark evaluated in parts takes several
reports); OIDN's scores come from whichever report has them. Prints, in Markdown, each
scene's PSNR at --spp for every model and OIDN, then per sample count the means over the
scenes every model has (PSNR / FLIP / relMSE, each scene weighing the same) and each
model's mean and worst gap to OIDN. Numbers: docs/benchmarks.md ("Session 16").
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

METRICS = ("psnr", "flip", "relmse")


def read(arguments: list[str]) -> tuple[list[str], dict[tuple[str, int], dict[str, tuple]]]:
    """(model labels, then "oidn"), and (scene, spp) -> label -> (psnr, flip, relmse)."""
    labels, scores = [], {}
    for argument in arguments:
        label, _, reports = argument.partition("=")
        if not reports:
            raise SystemExit(f"{argument}: expected LABEL=REPORT[,REPORT...]")
        labels.append(label)
        for report in reports.split(","):
            document = json.loads((Path(report) / "scores.json").read_text())
            for row in document["images"]:
                name = {"mcdenoise": label, "oidn": "oidn"}.get(row["method"])
                if name is not None:
                    scores.setdefault((row["scene"], row["spp"]), {})[name] = tuple(
                        row[m] for m in METRICS)
    return [*labels, "oidn"], scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="+", metavar="LABEL=REPORT")
    parser.add_argument("--spp", type=int, default=16, help="the per-scene table's spp")
    args = parser.parse_args()
    columns, scores = read(args.models)
    print("| scene | " + " | ".join(columns) + " |")
    print("| --- |" + " ---: |" * len(columns))
    for (scene, spp), row in sorted(scores.items()):
        if spp == args.spp:
            cells = [f"{row[c][0]:.2f}" if c in row else "-" for c in columns]
            print(f"| {scene} | " + " | ".join(cells) + " |")
    print()
    for spp in sorted({spp for _, spp in scores}):
        keys = [k for k in scores if k[1] == spp and all(c in scores[k] for c in columns)]
        if not keys:
            continue
        print(f"{spp} spp, {len(keys)} scenes:")
        for column in columns:
            mean = np.mean([scores[k][column] for k in keys], axis=0)
            line = f"  {column}: {mean[0]:.2f} / {mean[1]:.4f} / {mean[2]:.4f}"
            if column != "oidn":
                gaps = [scores[k][column][0] - scores[k]["oidn"][0] for k in keys]
                line += f"  (gap {np.mean(gaps):+.2f} dB, worst {min(gaps):+.2f})"
            print(line)


if __name__ == "__main__":
    main()
