"""Shared fixtures: small EXR files written with the OpenEXR bindings, Blender availability."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np
import OpenEXR
import pytest

REPO = Path(__file__).resolve().parents[1]


def window(width: int, height: int, x0: int = 0, y0: int = 0):
    return (np.array([x0, y0], np.int32), np.array([x0 + width - 1, y0 + height - 1], np.int32))


def rgb_planes(rng, height: int = 19, width: int = 37, dtype=np.float32) -> dict[str, np.ndarray]:
    """Random R, G, B planes in [0, 4): the beauty of a plain one-layer file."""
    return {c: (rng.random((height, width)) * 4).astype(dtype) for c in "RGB"}


def write_raw(path: Path, channels: dict[str, np.ndarray], header: dict | None = None,
              parts: dict[str, dict[str, np.ndarray]] | None = None) -> Path:
    """Write an EXR straight through the bindings (not through mcdenoise)."""
    if parts is None:
        height, width = next(iter(channels.values())).shape
        full = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage,
                "dataWindow": window(width, height), "displayWindow": window(width, height),
                **(header or {})}
        OpenEXR.File(full, dict(channels)).write(str(path))  # the bindings mutate the dict
        return path
    exr_parts = []
    for name, chans in parts.items():
        height, width = next(iter(chans.values())).shape
        full = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage,
                "dataWindow": window(width, height), "displayWindow": window(width, height),
                **(header or {})}
        exr_parts.append(OpenEXR.Part(full, dict(chans), name))
    OpenEXR.File(exr_parts).write(str(path))
    return path


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def have_bpy() -> bool:
    return sys.version_info[:2] == (3, 11) and importlib.util.find_spec("bpy") is not None


@pytest.fixture(scope="session")
def blender_env(tmp_path_factory) -> dict[str, str]:
    """Environment for a Blender subprocess: user folders in a temporary folder."""
    if not have_bpy():
        pytest.skip("blender: bpy is not installed (pip install bpy, Python 3.11)")
    home = tmp_path_factory.mktemp("blender-user")
    env = dict(os.environ)
    for name in ("RESOURCES", "CONFIG", "SCRIPTS", "DATAFILES", "EXTENSIONS"):
        env[f"BLENDER_USER_{name}"] = str(home / name.lower())
    return env


def write_mc_render(path: Path, color: np.ndarray, albedo: np.ndarray | None = None,
                    normal: np.ndarray | None = None, depth: np.ndarray | None = None,
                    vectors: np.ndarray | None = None) -> None:
    """One render as Blender 5 writes it (multi-part, Denoising passes, Vector pass)."""
    from mcdenoise.exr import ExrImage, write_exr

    planes = {f"ViewLayer.Combined.{c}": color[..., i] for i, c in enumerate("RGB")}
    planes["ViewLayer.Combined.A"] = np.ones(color.shape[:2], np.float32)
    for pass_name, value, letters in (("Denoising Albedo", albedo, "RGB"),
                                      ("Denoising Normal", normal, "XYZ")):
        if value is not None:
            for i, c in enumerate(letters):
                planes[f"ViewLayer.{pass_name}.{c}"] = value[..., i].astype(np.float32)
    if depth is not None:
        planes["ViewLayer.Denoising Depth.Z"] = depth.astype(np.float32)
    if vectors is not None:
        for i, c in enumerate("XYZW"):
            planes[f"ViewLayer.Vector.{c}"] = vectors[..., i].astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_exr(path, ExrImage.from_channels(planes, multipart=True))


def make_mc_dataset(root: Path, scenes: int = 2, seeds: int = 2, size: int = 48,
                    spp: int = 4, reference: bool = True, features: bool = True) -> Path:
    """Synthetic renders in the training layout: a smooth clean image per scene, noisy
    'renders' = clean x independent mean-1 noise per seed, Blender 5 pass names."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    for index in range(scenes):
        scene = f"scene{index:02d}"
        folder = root / scene
        rng = np.random.default_rng(index)
        albedo = np.stack([0.2 + 0.6 * ((xx * (3 + c + index)) % 1.0) for c in range(3)], -1)
        light = 0.5 + 4.0 * np.exp(-((xx - 0.3) ** 2 + (yy - 0.4) ** 2) * 8.0)[..., None]
        clean = (albedo * light).astype(np.float32)
        normal = np.stack([xx - 0.5, 0.5 - yy, np.full_like(xx, 0.7)], -1)
        normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
        buffers = {"albedo": albedo, "normal": normal, "depth": 2.0 + yy * 3.0} if features else {}
        for seed in range(seeds):
            noise = rng.gamma(2.0, 0.5, clean.shape).astype(np.float32)  # mean 1
            write_mc_render(folder / f"{scene}_{spp:04d}spp_s{seed:03d}.exr", clean * noise,
                            **buffers)
        if reference:
            write_mc_render(folder / f"{scene}_ref.exr", clean, **buffers)
    return root


@pytest.fixture
def model_path(tmp_path):
    """An untrained tiny model (a training checkpoint), fast enough for any test."""
    from mcdenoise.checkpoint import save_checkpoint
    from mcdenoise.config import load_config
    from mcdenoise.model import build_model

    config = load_config("tiny")
    config.model.depth = 3
    path = tmp_path / "model.pt"
    save_checkpoint(path, build_model(config), config, step=0)
    return path


@pytest.fixture
def ldr_model_path(tmp_path):
    """An untrained tiny model for LDR images (what `train --noise` makes)."""
    from mcdenoise.checkpoint import save_checkpoint
    from mcdenoise.config import load_config
    from mcdenoise.model import build_model

    config = load_config("noise-gaussian")
    config.model.enc_width, config.model.dec_width, config.model.depth = 8, 8, 3
    path = tmp_path / "ldr-model.pt"
    save_checkpoint(path, build_model(config), config, step=0)
    return path


def photo(height: int = 72, width: int = 96, seed: int = 0) -> np.ndarray:
    """A smooth synthetic 'photograph': (H, W, 3) float32 in [0, 1], gradients and discs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    image = np.stack([0.2 + 0.6 * xx / width, 0.3 + 0.4 * yy / height,
                      np.full_like(xx, 0.5)], -1)
    for _ in range(4):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(6, 20)
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = rng.uniform(0.05, 0.95, 3)
    return image.astype(np.float32)


def dead_pid() -> int:
    """The process id of a process that has ended (a killed writer's)."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid
