"""What both Blender drivers (addon_driver.py, extension_driver.py) measure the same way; no
mcdenoise import here (the extension driver must not see the development install)."""

from __future__ import annotations

import traceback

import numpy as np


class Scenarios:
    """``@scenarios.add`` runs a scenario at once and keeps its result, or its traceback."""

    def __init__(self) -> None:
        self.results: dict[str, object] = {}

    def add(self, function):
        try:
            self.results[function.__name__] = function()
        except Exception:
            self.results[function.__name__] = {"error": traceback.format_exc()}
        return function


def tonemapped(rgb: np.ndarray) -> np.ndarray:
    rgb = np.maximum(rgb, 0.0)
    return (rgb / (1.0 + rgb)) ** (1 / 2.2)


def mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((tonemapped(a) - tonemapped(b)) ** 2))


def image_rgb(bpy, name: str) -> np.ndarray:
    """A Blender image's pixels as (H, W, 3), top row first."""
    image = bpy.data.images[name]
    width, height = image.size
    pixels = np.empty(width * height * 4, np.float32)
    image.pixels.foreach_get(pixels)
    return pixels.reshape(height, width, 4)[::-1, :, :3]


def disable_and_look(bpy, module: str) -> dict:
    """Disable the add-on; what of it is left: classes, the scene property, handlers."""
    handler_names = ("render_init", "render_write", "render_complete", "render_cancel")
    bpy.ops.preferences.addon_disable(module=module)
    leftovers = [name for name in dir(bpy.types) if name.upper().startswith("MCDENOISE")
                 or name == "RENDER_PT_mcdenoise"]
    handlers = [f.__module__ for name in handler_names
                for f in getattr(bpy.app.handlers, name) if "mcdenoise" in f.__module__]
    return {"leftover_classes": leftovers, "scene_property": hasattr(bpy.types.Scene,
                                                                      "mcdenoise"),
            "handlers": handlers, "enabled": module in bpy.context.preferences.addons}
