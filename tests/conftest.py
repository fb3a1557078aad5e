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
