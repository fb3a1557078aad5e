"""The Blender add-on's installable zip (``mcdenoise addon build``)."""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path

from mcdenoise import McdenoiseError, __version__
from mcdenoise.atomic import replacing

# The folder inside the zip, which is the module name of a legacy add-on install. Not
# "mcdenoise": Blender puts legacy add-ons on sys.path, where that name would hide the real
# mcdenoise package from the add-on's in-process mode. As an extension the module is
# bl_ext.<repository>.mcdenoise, from the manifest's id.
ZIP_FOLDER = "mcdenoise_blender"
_INCLUDE = ("*.py", "blender_manifest.toml")


def addon_source() -> Path:
    from mcdenoise import blender_addon

    return Path(blender_addon.__path__[0])


def manifest_version(source: Path | None = None) -> str:
    text = ((source or addon_source()) / "blender_manifest.toml").read_text()
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise McdenoiseError("blender_manifest.toml has no version")
    return match.group(1)


def build_addon(out_dir: str | os.PathLike) -> Path:
    """Write ``mcdenoise-blender-<version>.zip`` into ``out_dir``: installable both as a
    Blender 4.2+ extension (Install from Disk) and as a legacy add-on."""
    source = addon_source()
    version = manifest_version(source)
    if version != __version__:
        raise McdenoiseError(f"blender_manifest.toml says {version}, mcdenoise is {__version__}")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise McdenoiseError(f"{out_dir}: not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"mcdenoise-blender-{version}.zip"
    files = sorted({p for pattern in _INCLUDE for p in source.glob(pattern)})
    with replacing(target) as temporary, zipfile.ZipFile(temporary, "w",
                                                         zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, f"{ZIP_FOLDER}/{path.name}")
    return target
