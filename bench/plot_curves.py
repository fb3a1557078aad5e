"""A PNG of runs' TensorBoard curves: validation PSNR (output and noisy input) and loss.

    python bench/plot_curves.py runs/00000-n2n-cpu-20min -o docs/training_curve_cpu.png
    python bench/plot_curves.py runs/00000-* runs/00002-* -o docs/compare.png   # several runs

Needs matplotlib (in the `dev` extra).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def scalars(run: Path, tag: str) -> tuple[list[int], list[float]]:
    events = EventAccumulator(str(run))
    events.Reload()
    if tag not in events.Tags()["scalars"]:
        return [], []
    points = events.Scalars(tag)
    return [p.step for p in points], [p.value for p in points]


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for run in args.runs:
        steps, values = scalars(run, "val/psnr")
        left.plot(steps, values, marker="o", label=run.name)
        steps, values = scalars(run, "train/loss")
        right.semilogy(steps, values, label=run.name, alpha=0.8)
    steps, values = scalars(args.runs[0], "val/psnr_input")
    if values:
        left.axhline(values[0], color="grey", linestyle="--", label="noisy input")
    left.set(xlabel="step", ylabel="tonemapped PSNR (dB)", title="validation")
    left.legend(fontsize=8)
    right.set(xlabel="step", ylabel="loss (mean over log interval)", title="training loss")
    if len(args.runs) > 1:
        right.legend(fontsize=8)
    else:
        figure.suptitle(args.runs[0].name)
    figure.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output, dpi=100)
    print(f"written: {args.output}")


if __name__ == "__main__":
    main()
