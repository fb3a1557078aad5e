"""Cycles settings shared by every render mcdenoise makes: noisy beauty plus denoising passes."""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mcdenoise import McdenoiseError

_USER_DIRS = ("RESOURCES", "CONFIG", "SCRIPTS", "DATAFILES", "EXTENSIONS")


def import_bpy() -> Any:
    """Import Blender's ``bpy`` with its user folders in a private temporary folder, so that
    renders never read nor write the user's Blender preferences."""
    base = Path(tempfile.gettempdir()) / f"mcdenoise-blender-{os.getuid()}"
    for name in _USER_DIRS:
        os.environ.setdefault(f"BLENDER_USER_{name}", str(base / name.lower()))
    try:
        import bpy
    except ImportError as exc:
        raise McdenoiseError("Blender's bpy module is not installed: pip install "
                             f"'mcdenoise[blender]' (bpy needs Python 3.11) ({exc})") from None
    return bpy


def configure_cycles(scene: Any, spp: int, seed: int, width: int, height: int,
                     threads: int = 0) -> None:
    """Plain path tracing at ``spp`` samples: Cycles' own denoiser and adaptive sampling (on in
    the factory defaults) off, denoising data passes (albedo, normal, depth) on."""
    scene.render.engine = "CYCLES"
    cycles = scene.cycles
    cycles.device = "CPU"
    cycles.samples = spp
    cycles.seed = seed
    cycles.use_animated_seed = False
    cycles.use_denoising = False
    cycles.use_adaptive_sampling = False
    # Unbiased: the factory default clamps indirect samples at 10, which darkens and biases
    # exactly the bright paths Noise2Noise must learn to average.
    cycles.sample_clamp_direct = 0.0
    cycles.sample_clamp_indirect = 0.0
    scene.render.resolution_x = width
    scene.render.resolution_y = height
    scene.render.resolution_percentage = 100
    scene.render.use_persistent_data = True
    scene.render.threads_mode = "FIXED" if threads else "AUTO"
    if threads:
        scene.render.threads = threads
    for view_layer in scene.view_layers:
        view_layer.cycles.denoising_store_passes = True


def set_multilayer_exr(scene: Any, half: bool = True, codec: str = "ZIP") -> None:
    """Multilayer EXR output; Blender 5 wants the media type before the file format."""
    settings = scene.render.image_settings
    if hasattr(settings, "media_type"):
        settings.media_type = "MULTI_LAYER_IMAGE"
    settings.file_format = "OPEN_EXR_MULTILAYER"
    settings.color_depth = "16" if half else "32"
    settings.exr_codec = codec


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "wb") as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield
        finally:
            ctypes.CDLL(None).fflush(None)
            os.dup2(saved, 1)
            os.close(saved)


def render_still(scene: Any, path: str | os.PathLike) -> Path:
    """Render the scene's current frame to a multilayer EXR at ``path``."""
    bpy = import_bpy()
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    scene.render.filepath = str(path)
    scene.render.use_file_extension = False
    with _quiet_stdout():  # Blender prints a line per saved file; progress bars suffice
        bpy.ops.render.render(write_still=True, scene=scene.name)
    if not path.exists() or path.stat().st_size == 0:  # (a temporary may exist, empty)
        raise McdenoiseError(f"{path}: Blender did not write the render")
    return path


def use_gpu(bpy: Any, scene: Any) -> str | None:
    """Render on a GPU when Blender sees one (OptiX, CUDA, HIP, Metal, oneAPI, in that order);
    returns the backend used, or None (the CPU stays in use)."""
    try:
        preferences = bpy.context.preferences.addons["cycles"].preferences
    except KeyError:
        return None
    for backend in ("OPTIX", "CUDA", "HIP", "METAL", "ONEAPI"):
        try:
            preferences.compute_device_type = backend
        except TypeError:  # this build does not know the backend
            continue
        preferences.get_devices()
        gpus = [d for d in preferences.devices if d.type == backend]
        if gpus:
            for device in preferences.devices:
                device.use = device.type == backend
            scene.cycles.device = "GPU"
            return backend
    return None
