"""The field benchmark's table per scene, in Markdown, from an evaluate report.

    mcdenoise evaluate data/field --compare oidn --report reports/field [--model M]
    python bench/field_table.py reports/field [REPORT ...] [--field data/field] [--label NAME]
        [--previous reports/field-default --previous-label shipped]

One row per scene and sample count: PSNR / FLIP / relMSE of the noisy input, OIDN, the
previous model (its report's mcdenoise rows, with --previous) and mcdenoise, the gap to
OIDN, and the reference's own noise (``reference.noise_psnr`` from the scene's JSON,
estimated from its chunks); then the means, each scene weighing the same whatever its
size. Pasted into docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reports", nargs="+", help="evaluate --report folders (scenes of one "
                                                   "benchmark evaluated in parts)")
    parser.add_argument("--field", default="data/field")
    parser.add_argument("--label", default="mcdenoise")
    parser.add_argument("--previous", help="an evaluate report of the model it replaces: a "
                                           "column of its mcdenoise scores")
    parser.add_argument("--previous-label", default="previous")
    args = parser.parse_args()
    rows = [row for report in args.reports
            for row in json.loads((Path(report) / "scores.json").read_text())["images"]]
    if args.previous:
        rows += [{**row, "method": "previous"} for row in json.loads(
            (Path(args.previous) / "scores.json").read_text())["images"]
            if row["method"] == "mcdenoise"]
    table: dict[tuple[str, int], dict[str, dict]] = {}
    for row in rows:
        table.setdefault((row["scene"], row["spp"]), {})[row["method"]] = row
    methods_shown = ("noisy", "oidn", *(("previous",) if args.previous else ()), "mcdenoise")
    labels = {"noisy": "noisy", "oidn": "OIDN", "previous": args.previous_label,
              "mcdenoise": args.label}
    header = " | ".join(labels[m] for m in methods_shown)
    print(f"| scene | spp | ref. noise (dB) | {header} | gap (dB) |")
    print("| --- | ---: | ---: | " + "--- | " * len(methods_shown) + "---: |")
    gaps: dict[int, list[tuple]] = {}
    for (scene, spp), methods in sorted(table.items()):
        record = Path(args.field) / scene / f"{scene}.json"
        noise = json.loads(record.read_text()).get("reference", {}).get("noise_psnr", "-") \
            if record.exists() else "-"
        cells = [_cell(methods.get(m)) for m in methods_shown]
        gap = methods["mcdenoise"]["psnr"] - methods["oidn"]["psnr"] if "oidn" in methods \
            else float("nan")
        gaps.setdefault(spp, []).append((gap, *[
            (methods[m]["psnr"], methods[m]["flip"], methods[m]["relmse"]) if m in methods
            else (np.nan,) * 3 for m in methods_shown]))
        print(f"| {scene} | {spp} | {noise} | {' | '.join(cells)} | {gap:+.2f} |")
    print(f"\n| spp | scenes | {header} | gap (dB) | worst scene gap |")
    print("| ---: | ---: | " + "--- | " * len(methods_shown) + "---: | ---: |")
    for spp, values in sorted(gaps.items()):
        means = [np.mean([v[i] for v in values], axis=0)
                 for i in range(1, len(methods_shown) + 1)]
        cells = [f"{m[0]:.2f} / {m[1]:.4f} / {m[2]:.4f}" for m in means]
        worst = min(v[0] for v in values)
        print(f"| {spp} | {len(values)} | {' | '.join(cells)} | "
              f"{np.mean([v[0] for v in values]):+.2f} | {worst:+.2f} |")


def _cell(row: dict | None) -> str:
    if row is None:
        return "-"
    return f"{row['psnr']:.2f} / {row['flip']:.4f} / {row['relmse']:.4f}"


if __name__ == "__main__":
    main()
