"""The Blender add-on's installable zip (``mcdenoise addon build``)."""

from __future__ import annotations

import os
import re
import tempfile
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
# Blender's extension platforms (the manifest's names); runtime_wheels.py knows their wheels
PLATFORMS = ("linux-x64", "windows-x64", "macos-arm64", "macos-x64")


def addon_source() -> Path:
    from mcdenoise import blender_addon

    return Path(blender_addon.__path__[0])


def manifest_version(source: Path | None = None) -> str:
    text = ((source or addon_source()) / "blender_manifest.toml").read_text()
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    if match is None:
        raise McdenoiseError("blender_manifest.toml has no version")
    return match.group(1)


def build_addon(out_dir: str | os.PathLike, platforms: tuple[str, ...] = (),
                wheel_cache: str | os.PathLike | None = None, progress=None) -> list[Path]:
    """Write the add-on into ``out_dir``: one Blender 4.2+ extension zip per platform in
    ``platforms`` (``mcdenoise-blender-<version>-<platform>.zip``) that carries its runtime
    (ONNX Runtime, OpenEXR and mcdenoise's inference code with the bundled models in ONNX)
    as wheels, so it denoises right after Install from Disk; with no platforms, the plain
    ``mcdenoise-blender-<version>.zip`` (no runtime: it uses an mcdenoise installed in
    Blender's Python or elsewhere). Every zip also installs as a legacy add-on."""
    source = addon_source()
    version = manifest_version(source)
    if version != __version__:
        raise McdenoiseError(f"blender_manifest.toml says {version}, mcdenoise is {__version__}")
    unknown = [p for p in platforms if p not in PLATFORMS]
    if unknown:
        raise McdenoiseError(f"unknown platform '{unknown[0]}' (one of {', '.join(PLATFORMS)})")
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise McdenoiseError(f"{out_dir}: not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    files = sorted({p for pattern in _INCLUDE for p in source.glob(pattern)})
    manifest = (source / "blender_manifest.toml").read_text()
    if not platforms:
        target = out_dir / f"mcdenoise-blender-{version}.zip"
        _write_zip(target, files, manifest, [])
        return [target]
    from mcdenoise.runtime_wheels import inference_wheel, platform_wheels

    cache = Path(wheel_cache) if wheel_cache else _default_cache()
    built = []
    with tempfile.TemporaryDirectory() as scratch:
        ours = inference_wheel(Path(scratch))
        for platform in platforms:
            if progress:
                progress(f"{platform}: runtime wheels")
            wheels = [*platform_wheels(platform, cache / platform), ours]
            target = out_dir / f"mcdenoise-blender-{version}-{platform}.zip"
            _write_zip(target, files, _with_runtime(manifest, platform, wheels), wheels)
            built.append(target)
    return built


def _default_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mcdenoise" / "wheels"


def _with_runtime(manifest: str, platform: str, wheels: list[Path]) -> str:
    """The manifest with the platform and its wheels (top-level keys, before any table)."""
    listed = ", ".join(f'"./wheels/{w.name}"' for w in wheels)
    extra = f'platforms = ["{platform}"]\nwheels = [{listed}]\n'
    head, table, rest = manifest.partition("\n[")
    return f"{head.rstrip()}\n{extra}" + (f"\n[{rest}" if table else "")


def _write_zip(target: Path, files: list[Path], manifest: str, wheels: list[Path]) -> None:
    with replacing(target) as temporary, zipfile.ZipFile(temporary, "w",
                                                         zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            if path.name == "blender_manifest.toml":
                archive.writestr(f"{ZIP_FOLDER}/{path.name}", manifest)
            else:
                archive.write(path, f"{ZIP_FOLDER}/{path.name}")
        for wheel in wheels:  # already compressed
            archive.write(wheel, f"{ZIP_FOLDER}/wheels/{wheel.name}", zipfile.ZIP_STORED)
