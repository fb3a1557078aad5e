"""A PNG of a run's TensorBoard curves: validation PSNR (output and noisy input) and loss.

    python bench/plot_curves.py runs/00000-n2n-cpu-20min -o docs/training_curve_cpu.png

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
    parser.add_argument("run", type=Path)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    for tag, label in (("val/psnr", "mcdenoise"), ("val/psnr_input", "noisy input")):
        steps, values = scalars(args.run, tag)
        left.plot(steps, values, marker="o", label=label)
    left.set(xlabel="step", ylabel="tonemapped PSNR (dB)", title="validation")
    left.legend()
    steps, values = scalars(args.run, "train/loss")
    right.semilogy(steps, values)
    right.set(xlabel="step", ylabel="loss (mean over log interval)", title="training loss")
    figure.suptitle(args.run.name)
    figure.tight_layout()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.output, dpi=100)
    print(f"written: {args.output}")


if __name__ == "__main__":
    main()
