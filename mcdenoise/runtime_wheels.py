"""The wheels a self-contained Blender extension carries: ONNX Runtime and OpenEXR for each
platform's Python 3.11 (Blender 4.2 to 5.0), fetched from PyPI by ``pip download``, and
mcdenoise's own inference code with the bundled models exported to ONNX, built here.

Blender ships numpy; nothing else the inference code imports is outside the standard
library (``import mcdenoise.denoise`` loads no torch, no YAML, no Pillow).
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

from mcdenoise import McdenoiseError, __version__

PYTHON = "3.11"  # Blender 4.2 - 5.0
# pip --platform tags per Blender platform, newest first (pip takes any of them)
PLATFORM_TAGS = {
    "linux-x64": ("manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux2014_x86_64"),
    "windows-x64": ("win_amd64",),
    "macos-arm64": ("macosx_14_0_arm64", "macosx_13_0_arm64", "macosx_12_0_arm64",
                    "macosx_11_0_arm64"),
    "macos-x64": ("macosx_13_0_x86_64", "macosx_12_0_x86_64", "macosx_11_0_x86_64",
                  "macosx_10_15_x86_64"),
}
# ONNX Runtime and what it imports (numpy comes with Blender); OpenEXR for the EXR files
RUNTIME = ("onnxruntime", "openexr", "flatbuffers", "packaging", "protobuf")
# mcdenoise modules on the inference side (shared/DESIGN.md: "Two halves")
INFERENCE_MODULES = ("__init__", "atomic", "backends", "config", "denoise", "denoiser", "device",
                     "exr", "features", "frame", "jobs", "ldr", "noise", "passes", "temporal")
BUNDLED_MODELS = ("default", "color")


def platform_wheels(platform: str, folder: Path) -> list[Path]:
    """The runtime wheels for ``platform`` in ``folder`` (a cache: downloaded once)."""
    folder.mkdir(parents=True, exist_ok=True)
    found = _wheels_for(folder)
    if len(found) == len(RUNTIME):
        return found
    tags = [arg for tag in PLATFORM_TAGS[platform] for arg in ("--platform", tag)]
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:",
               "--no-deps", "--python-version", PYTHON, "--implementation", "cp", "--abi",
               "cp" + PYTHON.replace(".", ""), *tags, "--dest", str(folder), *RUNTIME]
    done = subprocess.run(command, capture_output=True, text=True)
    found = _wheels_for(folder)
    if done.returncode != 0 or len(found) != len(RUNTIME):
        last = [line for line in done.stderr.splitlines() if line.strip()
                and "is ignored" not in line]
        raise McdenoiseError(f"cannot fetch the {platform} runtime wheels from PyPI "
                             f"({last[-1] if last else 'pip download failed'})")
    return found


def _wheels_for(folder: Path) -> list[Path]:
    """One wheel per RUNTIME package in ``folder`` (the newest version of each)."""
    found = []
    for package in RUNTIME:
        names = sorted(folder.glob(f"{package}-*.whl"),
                       key=lambda p: _version_key(p.name.split("-")[1]))
        if names:
            found.append(names[-1])
    return found


def _version_key(text: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in text.split("."))


def inference_wheel(folder: Path) -> Path:
    """``mcdenoise-<version>-py3-none-any.whl``: the inference modules and the bundled models
    as ONNX (exported now, from the shipped .safetensors; needs torch and onnx)."""
    import mcdenoise
    from mcdenoise.checkpoint import default_model_path, export_onnx_model

    package = Path(mcdenoise.__file__).parent
    files: dict[str, bytes] = {}
    for name in INFERENCE_MODULES:
        files[f"mcdenoise/{name}.py"] = (package / f"{name}.py").read_bytes()
    files["mcdenoise/weights/__init__.py"] = (package / "weights" / "__init__.py").read_bytes()
    for name in BUNDLED_MODELS:
        onnx = export_onnx_model(default_model_path(name), folder / f"{name}.onnx")
        files[f"mcdenoise/weights/{name}.onnx"] = onnx.read_bytes()
    info = f"mcdenoise-{__version__}.dist-info"
    files[f"{info}/METADATA"] = (f"Metadata-Version: 2.1\nName: mcdenoise\nVersion: "
                                 f"{__version__}\nSummary: mcdenoise inference for the Blender "
                                 "extension (ONNX Runtime, no torch)\nLicense: "
                                 "GPL-3.0-or-later\n").encode()
    files[f"{info}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: mcdenoise addon build\n"
                              b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    record = [f"{path},sha256={_digest(data)},{len(data)}" for path, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    wheel = folder / f"mcdenoise-{__version__}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
