"""LDR image files (PNG, JPEG, TIFF): reading, atomic writing with provenance, denoising,
and the clean | noisy | denoised strips of ``mcdenoise denoise --add-noise``.

Pixels are handled as (H, W, 3) float32 in [0, 1]; grey images are denoised as three equal
channels and written back grey; an alpha channel passes through unchanged. Files are written
in the type their name says, 8 bits per channel (16 for 16-bit grey PNG / TIFF: Pillow
writes no 16-bit color), with the model that made them in their metadata (a PNG text
chunk, the JPEG comment, the TIFF ImageDescription), so reruns skip finished files.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcdenoise import McdenoiseError
from mcdenoise.atomic import replacing

LDR_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF", ".tiff": "TIFF"}
_KEY = "mcdenoise"  # PNG text key, and the prefix of the JPEG comment / TIFF description
JPEG_QUALITY = 95


def is_ldr(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in LDR_SUFFIXES


@dataclass
class LdrImage:
    """One LDR image: color in [0, 1], its alpha (or None), and how it was stored."""

    color: np.ndarray  # (H, W, 3) float32 in [0, 1]
    alpha: np.ndarray | None  # (H, W) float32 in [0, 1]
    grey: bool
    bits: int  # 8 or 16

    @property
    def size(self) -> tuple[int, int]:
        return self.color.shape[1], self.color.shape[0]


def read_ldr(path: str | os.PathLike) -> LdrImage:
    """A PNG / JPEG / TIFF as an LdrImage; unreadable files get a one-line error."""
    import imageio.v3 as iio

    path = Path(path)
    if not path.is_file():
        raise McdenoiseError(f"{path}: no such file")
    try:
        pixels = np.asarray(iio.imread(path, plugin="pillow"))
    except Exception as exc:  # imageio and Pillow raise many types for unreadable files
        raise McdenoiseError(f"{path}: cannot read image ({str(exc).splitlines()[0][:120]})") \
            from None
    if pixels.dtype == np.uint8:
        bits, scale = 8, 255.0
    elif pixels.dtype in (np.uint16, np.int32) and pixels.max(initial=0) <= 65535:
        bits, scale = 16, 65535.0  # Pillow reads 16-bit grey as I;16 or I
    elif pixels.dtype == bool:
        bits, scale = 8, 1.0
    else:
        raise McdenoiseError(f"{path}: {pixels.dtype} pixels are not supported (8- or 16-bit "
                             "images; EXR for HDR)")
    values = pixels.astype(np.float32) / scale
    if values.ndim == 2:
        values = values[..., None]
    if values.ndim != 3 or values.shape[-1] not in (1, 2, 3, 4):
        raise McdenoiseError(f"{path}: unsupported image shape {pixels.shape}")
    channels = values.shape[-1]
    grey = channels in (1, 2)
    color = np.repeat(values[..., :1], 3, axis=-1) if grey else values[..., :3]
    alpha = values[..., -1] if channels in (2, 4) else None
    return LdrImage(np.ascontiguousarray(color), alpha, grey, bits)


def _quantise(values: np.ndarray, bits: int) -> np.ndarray:
    top = 65535 if bits == 16 else 255
    quantised = np.clip(np.rint(np.clip(values, 0.0, 1.0) * top), 0, top)
    return quantised.astype(np.uint16 if bits == 16 else np.uint8)


def write_ldr(path: str | os.PathLike, color: np.ndarray, like: LdrImage | None = None,
              provenance: dict | None = None) -> Path:
    """Write (H, W, 3) color in [0, 1] (clipped) atomically in the type ``path`` names, as
    grey and with the alpha of ``like`` when it has them; ``provenance`` (a JSON-able dict)
    goes into the file's metadata."""
    import imageio.v3 as iio

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        raise McdenoiseError(f"{path}: cannot write this type (use {', '.join(LDR_SUFFIXES)})")
    grey = like is not None and like.grey
    fmt = _FORMATS[suffix]
    bits = like.bits if like is not None and grey and fmt != "JPEG" else 8
    planes = [color.mean(axis=-1, keepdims=True)] if grey else [color]
    if like is not None and like.alpha is not None and fmt != "JPEG":
        planes.append(like.alpha[..., None])
    pixels = _quantise(np.concatenate(planes, axis=-1), bits)
    pixels = pixels[..., 0] if pixels.shape[-1] == 1 else pixels
    options: dict = {}
    text = json.dumps(provenance, sort_keys=True) if provenance else None
    if fmt == "PNG" and text:
        from PIL.PngImagePlugin import PngInfo

        options["pnginfo"] = PngInfo()
        options["pnginfo"].add_text(_KEY, text)
    elif fmt == "JPEG":
        options["quality"] = JPEG_QUALITY
        if text:
            options["comment"] = f"{_KEY} {text}"
    elif fmt == "TIFF":
        options["compression"] = "tiff_deflate"
        if text:
            options["description"] = f"{_KEY} {text}"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with replacing(path) as temporary:
            iio.imwrite(temporary, pixels, plugin="pillow", extension=suffix, **options)
    except OSError as exc:
        raise McdenoiseError(f"{path}: cannot write ({exc.strerror or exc})") from None
    return path


def read_provenance(path: str | os.PathLike) -> dict | None:
    """What ``write_ldr`` recorded in a file, or None (not written by mcdenoise, or
    unreadable)."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            text = image.info.get(_KEY)
            if text is None:
                comment = image.info.get("comment") or b""
                if hasattr(image, "tag_v2"):
                    comment = image.tag_v2.get(270, "") or comment
                comment = comment.decode("utf-8", "replace") if isinstance(comment, bytes) \
                    else str(comment)
                if comment.startswith(f"{_KEY} "):
                    text = comment[len(_KEY) + 1:]
    except (OSError, ValueError):
        return None
    try:
        value = json.loads(text) if text else None
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# --- strips: clean | noisy | denoised, with PSNR --------------------------------------------------

def psnr_ldr(pred: np.ndarray, target: np.ndarray) -> float:
    """PSNR in dB of images in [0, 1] (pred clipped to [0, 1], as it is shown)."""
    mse = float(np.mean((np.clip(pred, 0.0, 1.0) - target) ** 2))
    return float("inf") if mse == 0 else 10.0 * float(np.log10(1.0 / mse))


def make_strip(clean: np.ndarray, noisy: np.ndarray, denoised: np.ndarray,
               labels: tuple[str, str, str]) -> np.ndarray:
    """The three (H, W, 3) images side by side, 4 px apart, each under a label band;
    returns (H + band, 3W + 8, 3) float32 in [0, 1]."""
    from PIL import Image, ImageDraw

    from mcdenoise.noise import load_font

    height, width = clean.shape[:2]
    gap = 4
    band = max(14, min(40, width // 14))
    strip = np.ones((height + band, 3 * width + 2 * gap, 3), np.float32)
    for index, image in enumerate((clean, noisy, denoised)):
        x = index * (width + gap)
        strip[band:, x:x + width] = np.clip(image, 0.0, 1.0)
    canvas = Image.fromarray(_quantise(strip, 8))
    draw = ImageDraw.Draw(canvas)
    font = load_font(max(9, band - 5))
    for index, label in enumerate(labels):
        draw.text((index * (width + gap) + 3, 2), label, fill=(0, 0, 0), font=font)
    return np.asarray(canvas, np.float32) / 255.0
