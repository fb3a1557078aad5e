"""Photographs and HDR environments that ship inside installed packages (no download), and
which of them the field benchmark keeps for itself so that no training scene uses them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mcdenoise import McdenoiseError

# CC0 / public-domain photographs inside scikit-image, and Blender's CC0 world HDRIs
# (Poly Haven, 1K; datafiles/studiolights/world).
FIELD_PHOTOS = ("gravel.png", "rocket.jpg")
FIELD_HDRIS = ("sunset.exr", "courtyard.exr")
TRAIN_PHOTOS = ("astronaut.png", "brick.png", "chelsea.png", "coffee.png", "grass.png",
                "coins.png", "camera.png", "moon.png", "page.png", "text.png",
                "hubble_deep_field.jpg", "retina.jpg", "motorcycle_left.png", "ihc.png",
                "cell.png", "color.png")
TRAIN_HDRIS = ("city.exr", "forest.exr", "interior.exr", "night.exr", "studio.exr",
               "sunrise.exr")


def skimage_photo(name: str) -> Path:
    """A photograph that ships inside scikit-image."""
    try:
        import skimage
    except ImportError:
        raise McdenoiseError("photographic textures need scikit-image: pip install "
                             "'mcdenoise[blender]'") from None
    path = Path(skimage.__file__).parent / "data" / name
    if not path.exists():
        raise McdenoiseError(f"scikit-image has no {name} (looked in {path.parent})")
    return path


def blender_hdri(bpy: Any, name: str) -> Path:
    """One of the world HDRIs Blender ships."""
    path = Path(bpy.utils.system_resource("DATAFILES", path="studiolights/world")) / name
    if not path.exists():
        raise McdenoiseError(f"this Blender has no world HDRI {name} (looked in {path.parent})")
    return path
