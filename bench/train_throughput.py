"""Training throughput: model steps per second and pixels per second, and the data pipeline
alone, so it is clear whether loading limits training.

    python bench/train_throughput.py [--config default] [--data DIR] [--device cpu|cuda]
                                     [--steps 5] [--batch-size 8] [--crop 128]

Without --data, a small synthetic data set (noisy EXR renders in the training layout) is
written to a temporary folder first. Numbers are written down in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from mcdenoise.config import load_config
from mcdenoise.data import build_datasets
from mcdenoise.device import pick_device
from mcdenoise.exr import ExrImage, write_exr
from mcdenoise.loss import build_loss
from mcdenoise.model import build_model


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def make_synthetic_renders(root: Path, scenes: int = 4, seeds: int = 2, size: int = 256) -> Path:
    rng = np.random.default_rng(0)
    for index in range(scenes):
        scene = f"bench{index:02d}"
        clean = rng.random((size, size, 3), np.float32) * 2
        for seed in range(seeds):
            color = clean * rng.gamma(2.0, 0.5, clean.shape).astype(np.float32)
            planes = {f"ViewLayer.Combined.{c}": color[..., i] for i, c in enumerate("RGB")}
            for i, c in enumerate("RGB"):
                planes[f"ViewLayer.Denoising Albedo.{c}"] = clean[..., i] / 2
            for i, c in enumerate("XYZ"):
                planes[f"ViewLayer.Denoising Normal.{c}"] = clean[..., i] - 1
            planes["ViewLayer.Denoising Depth.Z"] = clean[..., 0] + 1
            (root / scene).mkdir(parents=True, exist_ok=True)
            write_exr(root / scene / f"{scene}_0016spp_s{seed:03d}.exr",
                      ExrImage.from_channels(planes, multipart=True))
    return root


def time_model(config, device: torch.device, steps: int) -> float:
    """Seconds per training step (forward, loss, backward, Adam) on random crops."""
    model = build_model(config).to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = build_loss(config.loss)
    batch, crop = config.data.batch_size, config.data.crop
    channels = model.head[0].in_channels
    x = torch.rand(batch, channels, crop, crop, device=device)
    y = torch.rand(batch, 3, crop, crop, device=device)
    timings = []
    for step in range(steps + 2):  # two warm-up steps
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16,
                            enabled=device.type == "cuda" and config.train.amp):
            pred = model(x)
        loss = loss_fn(pred, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if step >= 2:
            timings.append(time.perf_counter() - started)
    return float(np.median(timings))


def time_data(config, workers: int, batches: int) -> float:
    """Seconds per batch of the data pipeline alone (cache reads, crops, augmentation)."""
    config.data.workers = workers
    train_set, _ = build_datasets(config, (batches + 2) * config.data.batch_size)
    loader = DataLoader(train_set, batch_size=config.data.batch_size, num_workers=workers,
                        sampler=range(len(train_set)))
    iterator = iter(loader)
    next(iterator)
    next(iterator)  # workers started, caches opened
    started = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return (time.perf_counter() - started) / batches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="default")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--crop", type=int, default=128)
    args = parser.parse_args()
    config = load_config(args.config)
    config.data.batch_size, config.data.crop = args.batch_size, args.crop
    device = pick_device(args.device)
    with tempfile.TemporaryDirectory() as scratch:
        config.data.path = str(args.data or make_synthetic_renders(Path(scratch) / "data"))
        config.data.cache_dir = str(Path(scratch) / "cache")
        step_s = time_model(config, device, args.steps)
        pixels = args.batch_size * args.crop**2
        name = torch.cuda.get_device_name() if device.type == "cuda" else cpu_name()
        print(f"device {device} ({name}), torch {torch.__version__}, "
              f"{torch.get_num_threads()} CPU threads")
        print(f"config {args.config}: batch {args.batch_size} x {args.crop}^2, "
              f"{sum(p.numel() for p in build_model(config).parameters()):,} parameters")
        print(f"model   : {1 / step_s:8.2f} steps/s  {pixels / step_s / 1e6:8.3f} Mpixel/s")
        for workers in (0, 2):
            batch_s = time_data(config, workers, batches=max(args.steps, 10))
            print(f"data w={workers}: {1 / batch_s:8.2f} batches/s "
                  f"{pixels / batch_s / 1e6:8.3f} Mpixel/s")


if __name__ == "__main__":
    main()
