"""The field benchmark's table per scene, in Markdown, from an evaluate report.

    mcdenoise evaluate data/field --compare oidn --report reports/field [--model M]
    python bench/field_table.py reports/field [REPORT ...] [--field data/field] [--label NAME]

One row per scene and sample count: PSNR / FLIP / relMSE of the noisy input, OIDN and
mcdenoise, the gap to OIDN, and the reference's own noise (``reference.noise_psnr`` from
the scene's JSON, estimated from its chunks); then the means, each scene weighing the same
whatever its size. Pasted into docs/benchmarks.md.
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
    args = parser.parse_args()
    rows = [row for report in args.reports
            for row in json.loads((Path(report) / "scores.json").read_text())["images"]]
    table: dict[tuple[str, int], dict[str, dict]] = {}
    for row in rows:
        table.setdefault((row["scene"], row["spp"]), {})[row["method"]] = row
    print(f"| scene | spp | ref. noise (dB) | noisy | OIDN | {args.label} | gap (dB) |")
    print("| --- | ---: | ---: | --- | --- | --- | ---: |")
    gaps: dict[int, list[tuple]] = {}
    for (scene, spp), methods in sorted(table.items()):
        record = Path(args.field) / scene / f"{scene}.json"
        noise = json.loads(record.read_text()).get("reference", {}).get("noise_psnr", "-") \
            if record.exists() else "-"
        cells = [_cell(methods.get(m)) for m in ("noisy", "oidn", "mcdenoise")]
        gap = methods["mcdenoise"]["psnr"] - methods["oidn"]["psnr"] if "oidn" in methods \
            else float("nan")
        gaps.setdefault(spp, []).append((gap, *[
            (methods[m]["psnr"], methods[m]["flip"], methods[m]["relmse"]) for m in
            ("noisy", "oidn", "mcdenoise") if m in methods]))
        print(f"| {scene} | {spp} | {noise} | {' | '.join(cells)} | {gap:+.2f} |")
    print("\n| spp | scenes | noisy | OIDN | " + args.label + " | gap (dB) | worst scene gap |")
    print("| ---: | ---: | --- | --- | --- | ---: | ---: |")
    for spp, values in sorted(gaps.items()):
        means = [np.mean([v[i] for v in values], axis=0) for i in range(1, 4)]
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
