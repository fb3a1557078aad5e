"""The Noise2Noise paper's synthetic-noise experiments on an image folder: every noise
trained with clean and with noisy targets under one budget, and the resulting table.

For each noise the shipped ``noise-<kind>`` config (the paper's training noise range, its
fixed validation noise and its loss) is trained twice, with ``target_noise`` the same
noise (Noise2Noise) and ``clean``; both runs see the same steps, crops, seed and network.
Each run keeps its own TensorBoard log and ``results.json``; the experiment folder gets
``table.json``, ``table.md`` and ``curves.png`` (validation PSNR over training).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mcdenoise import McdenoiseError
from mcdenoise.config import Config, load_config, set_value

log = logging.getLogger(__name__)

NOISES = ("gaussian", "poisson", "bernoulli", "text", "impulse")
# Lehtinen et al. 2018, §3.1-3.4: PSNR (dB) with clean targets and with noisy targets
PAPER = {"gaussian": (31.63, 31.61), "poisson": (30.59, 30.57), "bernoulli": (31.85, 32.02),
         "text": (35.82, 35.75), "impulse": (28.86, 28.43)}
TARGETS = ("clean", "noisy")

# Photographs that ship with scikit-image (CC0 or public domain, per its documentation),
# for experiments that need no download: (file, use)
SAMPLE_IMAGES = (
    ("astronaut.png", "train"), ("rocket.jpg", "train"), ("hubble_deep_field.jpg", "train"),
    ("retina.jpg", "train"), ("ihc.png", "train"), ("brick.png", "train"),
    ("grass.png", "train"), ("gravel.png", "train"), ("coins.png", "train"),
    ("chelsea.png", "val"), ("coffee.png", "val"), ("camera.png", "val"),
)


def copy_sample_images(out: str | Path) -> dict[str, int]:
    """Copy scikit-image's bundled photographs into ``out/train`` and ``out/val``."""
    try:
        import skimage
    except ImportError:
        raise McdenoiseError("the sample images come with scikit-image: pip install "
                             "scikit-image (or give any image folder to --data)") from None
    source = Path(skimage.__file__).parent / "data"
    counts = {"train": 0, "val": 0}
    for name, use in SAMPLE_IMAGES:
        if not (source / name).is_file():
            raise McdenoiseError(f"{source / name}: missing from this scikit-image install")
        folder = Path(out) / use
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / name, folder / name)
        counts[use] += 1
    return counts


@dataclass
class TableSettings:
    data: str
    val_data: str | None = None
    holdout: int = 2  # without val_data: the last images of data validate
    out: str = "runs/n2n-table"
    noises: tuple[str, ...] = NOISES
    minutes: float = 2.0  # per run; turned into a step count once, the same for every run
    steps: int | None = None  # instead of minutes
    crop: int = 64
    batch_size: int = 8
    arch: str = "unet"
    device: str = "auto"
    seed: int = 0
    val_crop: int = 256
    evaluations: int = 8  # validations per run (the curve's points)
    sets: tuple[str, ...] = ()  # extra section.key=value overrides for every run


def run_config(settings: TableSettings, noise: str, target: str, steps: int) -> Config:
    """The config of one run of the table."""
    if noise not in NOISES:
        raise McdenoiseError(f"unknown noise {noise!r}; expected some of {', '.join(NOISES)}")
    config = load_config(f"noise-{noise}")
    data, train = config.data, config.train
    data.path, data.val_path, data.holdout = settings.data, settings.val_data, settings.holdout
    data.crop, data.batch_size, data.val_crop = settings.crop, settings.batch_size, \
        settings.val_crop
    data.workers = 1
    if target == "clean":
        data.target_noise = "clean"
    config.model.arch = settings.arch
    train.steps, train.device, train.seed = steps, settings.device, settings.seed
    train.out, train.name = settings.out, f"{noise}-{target}"
    train.val_every = max(1, steps // settings.evaluations)
    train.log_every = max(1, min(50, train.val_every))
    train.image_every = steps
    train.ckpt_every = steps
    for assignment in settings.sets:
        set_value(config, assignment)
    return config


def estimate_steps(settings: TableSettings, minutes: float) -> int:
    """Training steps that fit ``minutes`` on this machine, from a few timed steps of the
    gaussian run (data made in the same process, so the estimate errs on the short side)."""
    from mcdenoise.data import build_datasets
    from mcdenoise.device import pick_device
    from mcdenoise.loss import build_loss
    from mcdenoise.train import _setup, _train_step

    config = run_config(settings, "gaussian", "noisy", 1000)
    device = pick_device(config.train.device)
    warmup, timed = 2, 4
    dataset, _ = build_datasets(config, (warmup + timed) * config.data.batch_size)
    state = _setup(config, device, None)
    loss_fn = build_loss(config.loss)
    loader = torch.utils.data.DataLoader(dataset, batch_size=config.data.batch_size)
    started = None
    for index, batch in enumerate(loader):
        if index == warmup:
            if device.type == "cuda":
                torch.cuda.synchronize()
            started = time.perf_counter()
        _train_step(state, batch, loss_fn, config, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    per_step = (time.perf_counter() - started) / timed
    return max(1, int(minutes * 60 * 0.9 / per_step))  # 10 % left for validation


def run_table(settings: TableSettings) -> dict[str, Any]:
    """Train every (noise, target) run and return the table (also written to ``out``)."""
    from mcdenoise.train import read_results, train

    steps = settings.steps or estimate_steps(settings, settings.minutes)
    log.info("%d steps per run (%s)", steps, f"{settings.minutes:g} minutes"
             if settings.steps is None else "--steps")
    rows = []
    for noise in settings.noises:
        row: dict[str, Any] = {"noise": noise}
        for target in TARGETS:
            config = run_config(settings, noise, target, steps)
            run_dir = finished_run(config)
            if run_dir is not None:
                log.info("%s: done before with this config, reused", run_dir)
            else:
                run_dir = train(config, show_progress=True)
            results = read_results(run_dir)
            if not results["history"]:
                raise McdenoiseError(f"{run_dir}: no validation was recorded (no validation "
                                     "images? give --val-data or --holdout)")
            last = results["last"]
            row["val_noise"] = config.data.val_noise
            row["loss"] = config.loss.name
            row["input"] = last["psnr_input"]
            row[target] = last["psnr"]
            row[f"{target}_run"] = str(run_dir)
            row[f"{target}_minutes"] = round(last["seconds"] / 60, 2)
            row[f"{target}_history"] = [(h["step"], h["psnr"]) for h in results["history"]]
        row["paper"] = list(PAPER[noise])
        rows.append(row)
    table = {"steps": steps, "crop": settings.crop, "batch_size": settings.batch_size,
             "arch": settings.arch, "data": settings.data, "val_data": settings.val_data,
             "holdout": settings.holdout if not settings.val_data else 0,
             "device": settings.device, "rows": rows}
    out = Path(settings.out)
    (out / "table.json").write_text(json.dumps(table, indent=1))
    (out / "table.md").write_text(format_table(table) + "\n")
    plot_curves(table, out / "curves.png")
    return table


def finished_run(config: Config) -> Path | None:
    """A run in ``config.train.out`` with exactly this config that trained to the end (an
    interrupted table picks up there; delete a run folder to redo it)."""
    from mcdenoise.config import load_saved_config
    from mcdenoise.train import read_results

    out = Path(config.train.out)
    if not out.is_dir():
        return None
    for run_dir in sorted(out.glob(f"*-{config.train.name}")):
        try:
            same = load_saved_config(run_dir / "config.yaml").to_dict() == config.to_dict()
        except McdenoiseError:
            continue
        last = read_results(run_dir).get("last")
        if same and last is not None and last["step"] == config.train.steps:
            return run_dir
    return None


def format_table(table: dict[str, Any]) -> str:
    """The table as Markdown: PSNR of the input, of clean-target and of noisy-target training,
    their difference, and the paper's numbers."""
    lines = [f"Budget: {table['steps']} steps per run, {table['batch_size']} crops of "
             f"{table['crop']} px, {table['arch']}; data {table['data']}.", "",
             "| noise (validation) | loss | input | clean targets | noisy targets | "
             "noisy - clean | paper clean / noisy |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
    for row in table["rows"]:
        paper = row["paper"]
        lines.append(f"| {row['val_noise']} | {row['loss']} | {row['input']:.2f} | "
                     f"{row['clean']:.2f} | {row['noisy']:.2f} | "
                     f"{row['noisy'] - row['clean']:+.2f} | {paper[0]:.2f} / {paper[1]:.2f} |")
    return "\n".join(lines)


def plot_curves(table: dict[str, Any], path: Path) -> Path:
    """Validation PSNR over training, clean vs noisy targets, one panel per noise."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = table["rows"]
    figure, axes = plt.subplots(1, len(rows), figsize=(3.2 * len(rows), 3.0), squeeze=False)
    for axis, row in zip(axes[0], rows, strict=True):
        for target, style in (("clean", "-"), ("noisy", "--")):
            steps, psnrs = zip(*row[f"{target}_history"], strict=True)
            axis.plot(steps, psnrs, style, marker="o", markersize=3,
                      label=f"{target} targets")
        axis.axhline(row["input"], color="grey", linewidth=0.8, label="input")
        axis.set_title(row["val_noise"], fontsize=10)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation PSNR (dB)")
    axes[0][0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def check_plotting() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise McdenoiseError("the curves plot needs matplotlib: pip install matplotlib (or "
                             "pip install 'mcdenoise[experiments]')") from None
