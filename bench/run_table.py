"""A Markdown table of training runs from their TensorBoard logs: validation PSNR and relMSE
at the end, the best PSNR, and training speed.

    python bench/run_table.py runs-ablation/*
"""

from __future__ import annotations

import argparse
from pathlib import Path

from plot_curves import scalars


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    args = parser.parse_args()
    print("| run | steps | val PSNR (dB) | best | val relMSE | input PSNR | steps/s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for run in args.runs:
        steps, psnr = scalars(run, "val/psnr")
        if not steps:
            continue
        _, relmse = scalars(run, "val/relmse")
        _, noisy = scalars(run, "val/psnr_input")
        _, rate = scalars(run, "train/steps_per_second")
        print(f"| {run.name} | {steps[-1]} | {psnr[-1]:.2f} | {max(psnr):.2f} | "
              f"{relmse[-1]:.4f} | {noisy[-1]:.2f} | {rate[-1] if rate else 0:.2f} |")


if __name__ == "__main__":
    main()
