"""mcdenoise for Blender: a Denoise button and automatic denoising after every render.

A Blender 4.2+ extension (see blender_manifest.toml) that also installs as a legacy add-on
zip. Build the zip with ``mcdenoise addon build -o dist/``. Nothing here imports ``bpy`` at
import time, so the package can be inspected outside Blender.
"""

bl_info = {  # read by Blender when installed as a legacy add-on; extensions use the manifest
    "name": "mcdenoise",
    "author": "mcdenoise developers",
    "version": (0, 1, 0),
    "blender": (4, 2, 0),
    "location": "Properties > Render > mcdenoise",
    "description": "Denoise Cycles renders with a network trained on noisy renders only",
    "category": "Render",
}

_MODULES = ("settings", "operators", "panel", "work")


def _modules():
    import importlib

    return [importlib.import_module(f".{name}", __package__) for name in _MODULES]


def register():
    for module in _modules():
        module.register()


def unregister():
    for module in reversed(_modules()):
        module.unregister()
