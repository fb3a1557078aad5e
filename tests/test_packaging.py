"""What the installed package carries: configs, add-on sources, the sample render."""

from __future__ import annotations

import importlib.resources
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

from mcdenoise.frame import load_frame

REPO = Path(__file__).resolve().parents[1]


def test_configs_are_reachable_from_the_installed_package():
    assert importlib.resources.files("mcdenoise.configs").joinpath("README.md").is_file()


def test_sample_render_ships_with_features():
    sample = importlib.resources.files("mcdenoise.samples") / "sample_16spp.exr"
    with importlib.resources.as_file(sample) as path:
        frame = load_frame(path)
    assert (frame.width, frame.height) == (256, 192)
    assert {"albedo", "normal", "depth"} <= set(frame.sources)
    assert frame.normal_space == "camera" and frame.notes == []


def test_console_script_is_installed():
    script = Path(sys.executable).parent / "mcdenoise"
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "info" in done.stdout


@pytest.mark.slow
def test_wheel_carries_configs_addon_and_sample(tmp_path):
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(tmp_path), str(REPO)], check=True, timeout=600,
                   capture_output=True)
    wheel = next(tmp_path.glob("mcdenoise-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        manifest = tomllib.loads(archive.read("mcdenoise/blender_addon/blender_manifest.toml")
                                 .decode())
    assert {"mcdenoise/configs/README.md", "mcdenoise/samples/sample_16spp.exr",
            "mcdenoise/exr.py"} <= names
    assert manifest["schema_version"] == "1.0.0"
    assert manifest["license"] == ["SPDX:GPL-3.0-or-later"]
    assert any(name.endswith("/licenses/LICENSE") for name in names)
