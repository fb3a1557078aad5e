"""OpenEXR input and output: every EXR renderers write, whole and untouched; atomic writes.

This is the only module that imports OpenEXR. ``read_exr`` / ``write_exr`` move whole files
(every part, channel and header attribute) between disk and an :class:`ExrImage`, so that
layers mcdenoise does not touch pass through. Which channels are the beauty and the
features is ``passes.py``'s business; reading them as a denoiser's buffers, ``frame.py``'s.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import os
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import OpenEXR

from mcdenoise import McdenoiseError
from mcdenoise.atomic import publish_mode, temporary_path

EXR_MAGIC = b"\x76\x2f\x31\x01"
_VERSION_DEEP = 0x800
_VERSION_MULTIPART = 0x1000

# OpenEXR compression names as users type them; newer codecs only where the bindings have them.
COMPRESSIONS: dict[str, Any] = {
    name.lower(): getattr(OpenEXR, f"{name}_COMPRESSION")
    for name in ("NO", "RLE", "ZIPS", "ZIP", "PIZ", "PXR24", "B44", "B44A", "DWAA", "DWAB",
                 "ZSTD", "HTJ2K256", "HTJ2K32")
    if hasattr(OpenEXR, f"{name}_COMPRESSION")
}
COMPRESSIONS["none"] = COMPRESSIONS.pop("no")
_COMPRESSION_NAMES = {value: name for name, value in COMPRESSIONS.items()}
# Blender 5.0 cannot read these codecs, so they are never chosen unless asked for.
_NEWER_CODECS = {"zstd", "htj2k256", "htj2k32"}

PIXEL_TYPES = {np.dtype(np.float16): "half", np.dtype(np.float32): "float",
               np.dtype(np.uint32): "uint"}
_HALF_MAX = float(np.finfo(np.float16).max)

# Rec.709 / sRGB primaries and D65 white (x, y pairs): red, green, blue, white.
REC709_CHROMATICITIES = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)


class ExrError(McdenoiseError):
    """A file that cannot be read or written as asked; the message names file and problem."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem


# ---------------------------------------------------------------------------------------------
# Whole files


@dataclass
class ExrChannel:
    """One channel's pixels over its part's data window (subsampled when sampling > 1)."""

    pixels: np.ndarray | None  # (h, w) float16 / float32 / uint32; None after a header-only read
    x_sampling: int = 1
    y_sampling: int = 1
    p_linear: bool = False

    @property
    def pixel_type(self) -> str:
        return "?" if self.pixels is None else PIXEL_TYPES[self.pixels.dtype]


@dataclass
class ExrPart:
    """One part of a file: its name, channels (file order) and every header attribute."""

    name: str | None
    channels: dict[str, ExrChannel]
    header: dict[str, Any]

    @property
    def data_window(self) -> tuple[int, int, int, int]:
        """(x_min, y_min, x_max, y_max), inclusive, as stored in the file."""
        return _window(self.header["dataWindow"])

    @property
    def display_window(self) -> tuple[int, int, int, int]:
        return _window(self.header["displayWindow"])

    @property
    def compression(self) -> str:
        return _COMPRESSION_NAMES.get(self.header.get("compression"), "unknown")

    @property
    def tiled(self) -> bool:
        return "tiles" in self.header


@dataclass
class ExrImage:
    """Everything in an EXR file: parts in file order; ``multipart`` as the file was written."""

    parts: list[ExrPart]
    multipart: bool = False
    path: Path | None = None

    @property
    def display_window(self) -> tuple[int, int, int, int]:
        return self.parts[0].display_window

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the display window."""
        x0, y0, x1, y1 = self.display_window
        return x1 - x0 + 1, y1 - y0 + 1

    def channel_names(self) -> list[tuple[int, str]]:
        """Every (part index, channel name), in file order."""
        return [(i, name) for i, part in enumerate(self.parts) for name in part.channels]

    @classmethod
    def from_channels(cls, channels: Mapping[str, np.ndarray], header: Mapping | None = None,
                      multipart: bool = False, compression: str = "zip") -> ExrImage:
        """An image from named (H, W) arrays; ``multipart`` puts each ``layer.pass`` in its own
        part named like Blender 5 does (``ViewLayer.Combined``)."""
        groups: dict[str | None, dict[str, ExrChannel]] = {}
        for name, pixels in channels.items():
            layer, pass_name, _ = split_channel_name(name)
            key = ".".join(p for p in (layer, pass_name) if p) if multipart else None
            groups.setdefault(key, {})[name] = ExrChannel(np.ascontiguousarray(pixels))
        height, width = next(iter(channels.values())).shape
        window = (np.array([0, 0], np.int32), np.array([width - 1, height - 1], np.int32))
        parts = []
        for key, chans in groups.items():
            part_header = {"compression": COMPRESSIONS[compression], "dataWindow": window,
                           "displayWindow": window, "type": OpenEXR.scanlineimage,
                           **(header or {})}
            parts.append(ExrPart(key or None, chans, part_header))
        return cls(parts, multipart=multipart)


def _window(value: Any) -> tuple[int, int, int, int]:
    low, high = value
    return int(low[0]), int(low[1]), int(high[0]), int(high[1])


_NATIVE_LOCK = threading.Lock()  # file descriptors are process-wide: one capture at a time


@contextlib.contextmanager
def _native_output() -> Iterator[list[str]]:
    """Collect what the OpenEXR library prints on stdout/stderr: for damaged pixel data it
    prints warnings and returns empty channels instead of raising."""
    with _NATIVE_LOCK, _captured_fds() as messages:
        yield messages


@contextlib.contextmanager
def _captured_fds() -> Iterator[list[str]]:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    libc = ctypes.CDLL(None)
    saved = (os.dup(1), os.dup(2))
    messages: list[str] = []
    with tempfile.TemporaryFile() as sink:
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            yield messages
        finally:
            libc.fflush(None)
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            sink.seek(0)
            text = sink.read().decode("utf-8", errors="replace")
            messages.extend(line.strip() for line in text.splitlines() if line.strip())


def _library_reason(messages: list[str], fallback: str) -> str:
    """The most telling line of what the library said, shortened to one line."""
    telling = [line.split(") ", 1)[-1] for line in messages if "EXR_ERR" in line]
    telling += [line.rsplit(" - ", 1)[-1] for line in messages if "Exception" in line]
    return f"{fallback} ({telling[0][:160]})" if telling else fallback


def _check_file(path: Path) -> int:
    """Fail early, with a clear reason, on what is not an EXR; return the version flags."""
    if not path.exists():
        raise ExrError(path, "no such file")
    if path.is_dir():
        raise ExrError(path, "is a directory, not an EXR file")
    try:
        with path.open("rb") as stream:
            head = stream.read(8)
    except OSError as exc:
        raise ExrError(path, f"cannot be opened ({exc.strerror})") from None
    if not head:
        raise ExrError(path, "empty file (0 bytes)")
    if head[:4] != EXR_MAGIC:
        raise ExrError(path, "not an OpenEXR file (wrong magic number)")
    if len(head) < 8:
        raise ExrError(path, "truncated file (no complete header)")
    return int.from_bytes(head[4:8], "little")


def read_exr(path: str | os.PathLike, header_only: bool = False) -> ExrImage:
    """Read every part, channel and header attribute of an EXR file.

    Pixels stay as stored (half, float or uint) over each part's data window. Any scanline or
    tiled file, any compression, single- or multi-part. Raises ExrError for missing, empty,
    non-EXR, truncated or corrupt files and for deep images.
    """
    path = Path(path)
    flags = _check_file(path)
    if flags & _VERSION_DEEP:
        raise ExrError(path, "deep EXR images are not supported")
    with _native_output() as messages:
        try:
            exr_file = OpenEXR.File(str(path), separate_channels=True, header_only=header_only)
        except Exception:  # the bindings raise RuntimeError, ValueError... for damaged headers
            exr_file = None
    if exr_file is None:
        raise ExrError(path, _library_reason(messages, "corrupt or unreadable EXR header"))
    if any("EXR_ERR" in line or "Exception" in line for line in messages):
        raise ExrError(path, _library_reason(messages, "truncated or corrupt pixel data"))
    parts = []
    for index, exr_part in enumerate(exr_file.parts):
        header = dict(exr_part.header)
        if header.get("type") in (OpenEXR.deepscanline, OpenEXR.deeptile):
            raise ExrError(path, "deep EXR images are not supported")
        declared = header.pop("channels", [])
        header.pop("chunkCount", None)
        channels = {}
        for spec in declared:
            pixels = None
            if not header_only:
                loaded = exr_part.channels.get(spec.name)
                pixels = None if loaded is None else loaded.pixels
                if pixels is None:
                    raise ExrError(path, f"truncated or corrupt pixel data in part {index}")
            channels[spec.name] = ExrChannel(pixels, int(spec.xSampling), int(spec.ySampling),
                                             bool(spec.pLinear))
        name = header.get("name")
        parts.append(ExrPart(str(name) if name is not None else None, channels, header))
    if not parts:
        raise ExrError(path, "the file holds no image parts")
    return ExrImage(parts, multipart=bool(flags & _VERSION_MULTIPART), path=path)


def write_exr(path: str | os.PathLike, image: ExrImage, compression: str | None = None,
              pixel_type: str | None = None) -> None:
    """Write an image atomically: a temporary file in the target folder, then a rename.

    Parts, their order, names and header attributes are kept. ``compression`` defaults to
    each part's own (``zip`` instead of codecs Blender 5.0 cannot read, unless asked for);
    ``pixel_type`` ``half`` or ``float`` converts floating-point channels (uint stays uint).
    """
    path = Path(path)
    if compression is not None and compression not in COMPRESSIONS:
        known = ", ".join(COMPRESSIONS)
        raise ExrError(path, f"unknown compression '{compression}' (one of {known})")
    if pixel_type not in (None, "half", "float"):
        raise ExrError(path, f"unknown pixel type '{pixel_type}' (half or float)")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ExrError(path, f"output folder {folder} does not exist")
    exr_parts = [_to_library_part(p, compression, pixel_type) for p in image.parts]
    if image.multipart or len(exr_parts) > 1:
        exr_file = OpenEXR.File(exr_parts)
    else:
        exr_file = OpenEXR.File(exr_parts[0].header, {
            name: channel for name, channel in exr_parts[0].channels.items()})
    if path.is_dir():
        raise ExrError(path, "is a directory")
    try:
        temporary = temporary_path(path)
    except OSError as exc:
        raise ExrError(path, f"cannot be written ({exc.strerror})") from None
    try:
        with _native_output() as messages:
            try:
                exr_file.write(str(temporary))
                failure = None
            except Exception as exc:  # the bindings raise several types on bad headers/IO
                failure = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if failure is not None:
            raise ExrError(path, _library_reason(messages, f"cannot be written ({failure})"))
        try:
            publish_mode(temporary)
            os.replace(temporary, path)
        except OSError as exc:
            raise ExrError(path, f"cannot be written ({exc.strerror})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _to_library_part(part: ExrPart, compression: str | None, pixel_type: str | None):
    header = dict(part.header)
    chosen = compression or part.compression
    if compression is None and (chosen in _NEWER_CODECS or chosen not in COMPRESSIONS):
        chosen = "zip"
    header["compression"] = COMPRESSIONS[chosen]
    tiles = header.get("tiles")
    if tiles is not None and tiles.mode != OpenEXR.ONE_LEVEL:
        # Only level 0 was read: mip/rip levels are not carried over.
        flat = OpenEXR.TileDescription()
        flat.xSize, flat.ySize = tiles.xSize, tiles.ySize
        flat.mode, flat.roundingMode = OpenEXR.ONE_LEVEL, tiles.roundingMode
        header["tiles"] = flat
    channels = {}
    for name, channel in part.channels.items():
        pixels = _convert_pixels(channel.pixels, pixel_type)
        channels[name] = OpenEXR.Channel(name, pixels, channel.x_sampling, channel.y_sampling,
                                         channel.p_linear)
    return OpenEXR.Part(header, channels, part.name or "")


def _convert_pixels(pixels: np.ndarray, pixel_type: str | None) -> np.ndarray:
    if pixel_type == "half" and pixels.dtype == np.float32:
        # Values beyond half's range would become Inf: keep the largest finite half instead.
        return np.clip(pixels, -_HALF_MAX, _HALF_MAX).astype(np.float16)
    if pixel_type == "float" and pixels.dtype == np.float16:
        return pixels.astype(np.float32)
    return np.ascontiguousarray(pixels)


def expand_paths(items: tuple[str, ...], suffixes: tuple[str, ...] = (".exr",)) -> list[Path]:
    """Files as given, glob patterns expanded, directories listed (their files with one of
    ``suffixes``, sorted). Names that match nothing are kept so the reader reports them."""
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            paths.extend(sorted(p for p in path.iterdir()
                                if p.is_file() and p.name.lower().endswith(suffixes)))
        elif not path.exists() and glob.has_magic(item):
            matches = sorted(glob.glob(item))
            if not matches:
                raise McdenoiseError(f"{item}: no file matches this pattern")
            paths.extend(Path(m) for m in matches)
        else:
            paths.append(path)
    return paths


def split_channel_name(name: str) -> tuple[str, str, str]:
    """``ViewLayer.Combined.R`` -> (layer, pass, channel); ``albedo.R`` -> ('', 'albedo', 'R');
    ``R`` -> ('', '', 'R'). Blender layer names may hold dots (``ViewLayer.001``): the last two
    pieces are the pass and the channel, the rest is the layer."""
    pieces = name.split(".")
    if len(pieces) == 1:
        return "", "", name
    if len(pieces) == 2:
        return "", pieces[0], pieces[1]
    return ".".join(pieces[:-2]), pieces[-2], pieces[-1]


# ---------------------------------------------------------------------------------------------
# Display and data windows


MAX_DISPLAY_PIXELS = 1 << 28  # 16384 x 16384: a frame's buffers then take several GB


def check_display_window(image: ExrImage) -> None:
    """Refuse a display window too large to hold in memory (a tiny file may declare one of
    60000 x 60000) before anything of its size is allocated."""
    width, height = image.size
    if width < 1 or height < 1 or width * height > MAX_DISPLAY_PIXELS:
        x0, y0, x1, y1 = image.parts[0].data_window
        raise ExrError(image.path or Path("<image>"),
                       f"the display window is {width}x{height} pixels (the data window "
                       f"{x1 - x0 + 1}x{y1 - y0 + 1}): more than mcdenoise handles "
                       f"({MAX_DISPLAY_PIXELS >> 20} megapixels)")


def place_in_display_window(image: ExrImage, part_index: int, name: str) -> np.ndarray:
    """A channel as float32 (H, W) over the display window; pixels outside its data window
    are 0, pixels of the data window outside the display window (overscan) are dropped."""
    part = image.parts[part_index]
    channel = part.channels[name]
    path = image.path or Path("<image>")
    if channel.x_sampling != 1 or channel.y_sampling != 1:
        raise ExrError(path, f"channel '{name}' is subsampled; mcdenoise needs full-resolution "
                             "buffers")
    check_display_window(image)
    dx0, dy0, dx1, dy1 = part.display_window
    x0, y0, x1, y1 = part.data_window
    out = np.zeros((dy1 - dy0 + 1, dx1 - dx0 + 1), np.float32)
    left, top = max(x0, dx0), max(y0, dy0)
    right, bottom = min(x1, dx1), min(y1, dy1)
    if right >= left and bottom >= top:
        out[top - dy0:bottom - dy0 + 1, left - dx0:right - dx0 + 1] = channel.pixels[
            top - y0:bottom - y0 + 1, left - x0:right - x0 + 1]
    return out


def place_in_data_window(part: ExrPart, name: str, plane: np.ndarray) -> np.ndarray:
    """A (H, W) display-window plane written over a channel's data window (overscan kept)."""
    original = part.channels[name].pixels
    out = original.astype(np.float32, copy=True)
    dx0, dy0, dx1, dy1 = part.display_window
    x0, y0, x1, y1 = part.data_window
    left, top, right, bottom = max(x0, dx0), max(y0, dy0), min(x1, dx1), min(y1, dy1)
    if right >= left and bottom >= top:
        out[top - y0:bottom - y0 + 1, left - x0:right - x0 + 1] = plane[
            top - dy0:bottom - dy0 + 1, left - dx0:right - dx0 + 1]
    if original.dtype == np.float16:
        return np.clip(out, -_HALF_MAX, _HALF_MAX).astype(np.float16)
    return out.astype(original.dtype)
