"""A PNG of runs' TensorBoard curves: validation PSNR (output and noisy input) and loss.

    python bench/plot_curves.py runs/00000-n2n-cpu-20min -o docs/training_curve_cpu.png
    python bench/plot_curves.py runs/00000-* runs/00002-* -o docs/compare.png   # several runs
    python bench/plot_curves.py runs/00003-* runs/00004-*@3600 -o docs/stages.png  # a stage
        # that continued another run: RUN@STEPS shifts its curves right by STEPS

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
    parser.add_argument("runs", nargs="+", metavar="RUN[@STEPS]")
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    runs = []
    for spec in args.runs:
        path, _, offset = spec.partition("@")
        if not offset.isdigit() and offset:
            parser.error(f"{spec}: the part after @ must be a step count")
        runs.append((Path(path), int(offset or 0)))
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for run, offset in runs:
        label = run.name + (f" (from step {offset})" if offset else "")
        steps, values = scalars(run, "val/psnr")
        left.plot([s + offset for s in steps], values, marker="o", label=label)
        steps, values = scalars(run, "train/loss")
        right.semilogy([s + offset for s in steps], values, label=label, alpha=0.8)
    steps, values = scalars(runs[0][0], "val/psnr_input")
    if values:
        left.axhline(values[0], color="grey", linestyle="--", label="noisy input")
    left.set(xlabel="step", ylabel="tonemapped PSNR (dB)", title="validation")
    left.legend(fontsize=8)
    right.set(xlabel="step", ylabel="loss (mean over log interval)", title="training loss")
    if len(runs) > 1:
        right.legend(fontsize=8)
    else:
        figure.suptitle(runs[0][0].name)
    figure.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output, dpi=100)
    print(f"written: {args.output}")


if __name__ == "__main__":
    main()
