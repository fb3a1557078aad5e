"""OpenEXR input and output: every EXR renderers write, atomic multilayer writes, pass aliases.

This is the only module that imports OpenEXR. It has two layers:

* ``read_exr`` / ``write_exr`` move whole files (every part, channel and header attribute)
  between disk and an :class:`ExrImage`, untouched, so that other layers pass through;
* ``load_frame`` finds the buffers a denoiser needs (beauty, albedo, normal, depth, alpha)
  through one alias table covering Blender 5 (multi-part), older Blender (one part),
  OIDN-style file sets and generic names, and returns them as a :class:`Frame`.
"""

from __future__ import annotations

import contextlib
import ctypes
import glob
import logging
import os
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import OpenEXR

from mcdenoise import McdenoiseError, publish_mode

log = logging.getLogger(__name__)

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
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise ExrError(path, f"cannot be written ({exc.strerror})") from None
    os.close(handle)
    try:
        with _native_output() as messages:
            try:
                exr_file.write(temporary)
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



# ---------------------------------------------------------------------------------------------
# Channel names and the alias table


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


RGB = (("R", "G", "B"),)
XYZ = (("X", "Y", "Z"), ("R", "G", "B"))
ONE = (("Z",), ("V",), ("R",), ("Y",), ("*",))  # '*': the pass's only channel

# Candidate passes for each buffer, best first: (pass name, channel sets, normal space).
# Names compare case-insensitively, except Blender's world-space `Normal` pass, which must
# never pass for the camera-space `Denoising Normal` nor for a generic normal buffer.
# `Noisy Image` leads: when present, Cycles has already denoised `Combined`.
ALIASES: dict[str, tuple[tuple[str, tuple, str | None], ...]] = {
    "color": (("Noisy Image", RGB, None), ("Combined", RGB, None), ("Beauty", RGB, None),
              ("Color", RGB, None), ("RGBA", RGB, None), ("RGB", RGB, None),
              ("Image", RGB, None), ("", RGB, None), ("", (("Y",),), None)),
    "albedo": (("Denoising Albedo", RGB, None), ("Albedo", RGB, None), ("alb", RGB, None),
               ("DiffCol", RGB, None), ("Diffuse Color", RGB, None)),
    "normal": (("Denoising Normal", XYZ, "camera"), ("Ns", XYZ, "unknown"),
               ("N", XYZ, "unknown"), ("nrm", XYZ, "unknown"), ("=normal", XYZ, "unknown"),
               ("normals", XYZ, "unknown"), ("=Normal", XYZ, "world")),
    "depth": (("Denoising Depth", ONE, None), ("Depth", ONE, None), ("Z", ONE, None),
              ("", (("Z",),), None)),
    # Alpha comes first from the beauty pass's own A channel (see _beauty_alpha).
    "alpha": (("Alpha", ONE, None),),
}
BUFFERS = tuple(ALIASES)
BUFFER_CHANNELS = {"color": 3, "albedo": 3, "normal": 3, "depth": 1, "alpha": 1}
# OIDN's training sets keep one buffer per file: X.hdr.exr, X.alb.exr, X.nrm.exr.
OIDN_SUFFIXES = {"color": (".hdr.exr", ".ldr.exr"), "albedo": (".alb.exr",),
                 "normal": (".nrm.exr",)}


@dataclass(frozen=True)
class BufferSource:
    """Where a buffer was found: the file and its channels (``part`` index for each)."""

    path: Path | None
    channels: tuple[str, ...]
    parts: tuple[int, ...]
    pass_name: str
    normal_space: str | None = None

    def describe(self) -> str:
        letters = ",".join(split_channel_name(c)[2] for c in self.channels)
        where = f" in {self.path.name}" if self.path is not None else ""
        label = self.pass_name or "(no pass name)"
        space = f" ({self.normal_space} space)" if self.normal_space else ""
        return f"{label} [{letters}]{where}{space}"


def _pass_index(image: ExrImage) -> dict[tuple[str, str], dict[str, tuple[int, str]]]:
    """(layer, pass) -> {channel letter: (part index, full name)}, in file order."""
    index: dict[tuple[str, str], dict[str, tuple[int, str]]] = {}
    for part_index, name in image.channel_names():
        layer, pass_name, letter = split_channel_name(name)
        index.setdefault((layer, pass_name), {})[letter] = (part_index, name)
    return index


def _pass_matches(candidate: str, pass_name: str) -> bool:
    if candidate.startswith("="):
        return candidate[1:] == pass_name
    return candidate.lower() == pass_name.lower()


def _pick_channels(found: dict[str, tuple[int, str]], channel_sets: tuple) -> list | None:
    by_letter = {letter.upper(): entry for letter, entry in found.items()}
    for letters in channel_sets:
        if letters == ("*",):
            if len(found) == 1:
                return list(found.values())
            continue
        if all(letter in by_letter for letter in letters):
            return [by_letter[letter] for letter in letters]
    return None


def _find_buffer(image: ExrImage, layer: str, buffer: str) -> BufferSource | None:
    passes = _pass_index(image)
    for candidate, channel_sets, space in ALIASES[buffer]:
        for (pass_layer, pass_name), found in passes.items():
            if pass_layer != layer or not _pass_matches(candidate, pass_name):
                continue
            picked = _pick_channels(found, channel_sets)
            if picked is not None:
                return BufferSource(image.path, tuple(n for _, n in picked),
                                    tuple(i for i, _ in picked), pass_name, space)
    return None


def list_layers(image: ExrImage) -> list[str]:
    """View layers that hold a beauty pass, in file order ('' for files without layers)."""
    layers = []
    for layer, _ in _pass_index(image):
        if layer not in layers and _find_buffer(image, layer, "color") is not None:
            layers.append(layer)
    return layers


def _normal_space_of(pass_name: str) -> str:
    for candidate, _, space in ALIASES["normal"]:
        if _pass_matches(candidate, pass_name):
            return space or "unknown"
    return "unknown"


def _find_override(image: ExrImage, layer: str, buffer: str, spec: str) -> BufferSource:
    """An explicit choice: 'a.R,a.G,a.B' (full channel names) or a pass ('Denoising Albedo'
    in the chosen layer, or with its layer: 'ViewLayer.Denoising Albedo')."""
    path = image.path or Path("<image>")
    count = BUFFER_CHANNELS[buffer]
    where = {name: index for index, name in image.channel_names()}
    if "," in spec or spec in where:
        names = tuple(n.strip() for n in spec.split(","))
        missing = [n for n in names if n not in where]
        if missing:
            raise ExrError(path, f"requested {buffer} channel '{missing[0]}' is not in the file")
        if len(names) != count:
            raise ExrError(path, f"{buffer} needs {count} channel(s), got {len(names)}")
        pass_name = split_channel_name(names[0])[1]
        space = _normal_space_of(pass_name) if buffer == "normal" else None
        return BufferSource(image.path, names, tuple(where[n] for n in names), pass_name, space)
    sets = {"color": RGB, "albedo": RGB, "normal": XYZ}.get(buffer, ONE)
    for (pass_layer, pass_name), found in _pass_index(image).items():
        full = ".".join(p for p in (pass_layer, pass_name) if p)
        if spec == full or (pass_layer == layer and spec == pass_name):
            picked = _pick_channels(found, sets)
            if picked is None:
                raise ExrError(path, f"pass '{spec}' has no usable {buffer} channels "
                                     f"({', '.join(found)})")
            space = _normal_space_of(pass_name) if buffer == "normal" else None
            return BufferSource(image.path, tuple(n for _, n in picked),
                                tuple(i for i, _ in picked), pass_name, space)
    raise ExrError(path, f"requested {buffer} pass '{spec}' is not in the file")


def find_buffers(image: ExrImage, layer: str | None = None,
                 overrides: Mapping[str, str] | None = None) -> tuple[str, dict]:
    """Resolve (layer, {buffer: BufferSource}) for one view layer, by names only.

    ``layer`` None picks the first layer holding a beauty; ``overrides`` maps a buffer name
    (color, albedo, normal, depth, alpha) to explicit channels or a pass (see _find_override).
    """
    path = image.path or Path("<image>")
    overrides = dict(overrides or {})
    unknown = set(overrides) - set(BUFFERS)
    if unknown:
        raise ExrError(path, f"unknown buffer '{sorted(unknown)[0]}' (one of {', '.join(BUFFERS)})")
    layers = list_layers(image)
    if layer is None:
        if not layers and "color" not in overrides:
            names = ", ".join(name for _, name in image.channel_names()[:12])
            raise ExrError(path, f"no beauty (RGB) channels found; channels: {names}")
        layer = layers[0] if layers else ""
    elif layer not in {key[0] for key in _pass_index(image)}:
        shown = ", ".join(repr(name) for name in layers) or "none"
        raise ExrError(path, f"view layer '{layer}' is not in the file (layers: {shown})")
    sources = {}
    if "color" not in overrides and _find_buffer(image, layer, "color") is None:
        raise ExrError(path, f"view layer '{layer}' has no beauty (RGB) channels")
    for buffer in BUFFERS:
        if buffer in overrides:
            sources[buffer] = _find_override(image, layer, buffer, overrides[buffer])
        else:
            found = None
            if buffer == "alpha":
                found = _beauty_alpha(image, layer, sources["color"])
            found = found or _find_buffer(image, layer, buffer)
            if found is not None:
                sources[buffer] = found
    return layer, sources


def _beauty_alpha(image: ExrImage, layer: str, color: BufferSource) -> BufferSource | None:
    """The beauty pass's own A channel (Combined.A, Noisy Image.A, plain A)."""
    found = _pass_index(image).get((layer, color.pass_name), {})
    for letter, (part_index, name) in found.items():
        if letter.upper() == "A":
            return BufferSource(image.path, (name,), (part_index,), color.pass_name)
    return None


# ---------------------------------------------------------------------------------------------
# Frames: the buffers a denoiser reads, in display-window coordinates


@dataclass
class Frame:
    """One render's buffers, placed into the display window, sanitised, plus the whole file.

    ``image`` keeps every part, channel and attribute of the file as read, for pass-through.
    ``notes`` lists what was repaired or is suspicious (NaN/Inf counts, colour space).
    """

    path: Path
    image: ExrImage
    layer: str
    color: np.ndarray  # (H, W, 3) float32, linear HDR, finite, >= 0
    albedo: np.ndarray | None = None  # (H, W, 3) float32, finite
    normal: np.ndarray | None = None  # (H, W, 3) float32, finite
    depth: np.ndarray | None = None  # (H, W) float32, finite
    alpha: np.ndarray | None = None  # (H, W) float32, finite
    sources: dict[str, BufferSource] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def height(self) -> int:
        return self.color.shape[0]

    @property
    def width(self) -> int:
        return self.color.shape[1]

    @property
    def normal_space(self) -> str | None:
        """'camera' (Blender's Denoising Normal), 'world' (Blender's Normal pass), 'unknown'."""
        source = self.sources.get("normal")
        return source.normal_space if source else None


def place_in_display_window(image: ExrImage, part_index: int, name: str) -> np.ndarray:
    """A channel as float32 (H, W) over the display window; pixels outside its data window
    are 0, pixels of the data window outside the display window (overscan) are dropped."""
    part = image.parts[part_index]
    channel = part.channels[name]
    path = image.path or Path("<image>")
    if channel.x_sampling != 1 or channel.y_sampling != 1:
        raise ExrError(path, f"channel '{name}' is subsampled; mcdenoise needs full-resolution "
                             "buffers")
    dx0, dy0, dx1, dy1 = part.display_window
    x0, y0, x1, y1 = part.data_window
    out = np.zeros((dy1 - dy0 + 1, dx1 - dx0 + 1), np.float32)
    left, top = max(x0, dx0), max(y0, dy0)
    right, bottom = min(x1, dx1), min(y1, dy1)
    if right >= left and bottom >= top:
        out[top - dy0:bottom - dy0 + 1, left - dx0:right - dx0 + 1] = channel.pixels[
            top - y0:bottom - y0 + 1, left - x0:right - x0 + 1]
    return out


def _gather(image: ExrImage, source: BufferSource) -> np.ndarray:
    pairs = zip(source.parts, source.channels, strict=True)
    planes = [place_in_display_window(image, index, name) for index, name in pairs]
    return planes[0] if len(planes) == 1 else np.stack(planes, axis=-1)


def _sanitise(label: str, values: np.ndarray, notes: list[str], clamp_negative: bool = False):
    """Replace NaN/±Inf (and negatives for the beauty) by 0, counting what was replaced."""
    nan = int(np.count_nonzero(np.isnan(values)))
    inf = int(np.count_nonzero(np.isinf(values)))
    negative = int(np.count_nonzero(values < 0)) if clamp_negative else 0
    if nan or inf or negative:
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
        if clamp_negative:
            np.maximum(values, 0.0, out=values)
        counts = [f"{n} {what}" for n, what in ((nan, "NaN"), (inf, "±Inf"), (negative,
                  "negative")) if n]
        notes.append(f"{label}: {', '.join(counts)} value(s) set to 0")
    return values


def _colour_note(header: Mapping[str, Any]) -> str | None:
    """A warning when the beauty is not in Rec.709 primaries (the model's training space)."""
    chroma = header.get("chromaticities")
    if chroma is not None:
        values = tuple(float(v) for v in chroma)
        if max(abs(a - b) for a, b in zip(values, REC709_CHROMATICITIES, strict=True)) > 2e-3:
            shown = ", ".join(f"{v:.3f}" for v in values)
            return (f"colour primaries ({shown}) are not Rec.709; the model was trained on "
                    "Rec.709 renders")
    interop = header.get("colorInteropID")
    if isinstance(interop, str) and interop and "rec709" not in interop and interop != "data":
        return (f"colour space '{interop}' is not Rec.709; the model was trained on Rec.709 "
                "renders")
    return None


def frame_from_image(image: ExrImage, layer: str | None = None,
                     overrides: Mapping[str, str] | None = None,
                     extra: Mapping[str, tuple[ExrImage, BufferSource]] | None = None) -> Frame:
    """Build a Frame from an image already read (see load_frame for the arguments)."""
    path = image.path or Path("<image>")
    layer, sources = find_buffers(image, layer, overrides)
    notes: list[str] = []
    buffers: dict[str, np.ndarray] = {}
    for buffer, source in sources.items():
        buffers[buffer] = _gather(image, source)
    for buffer, (other, source) in (extra or {}).items():
        if buffer in sources:
            continue
        if other.size != image.size:
            raise ExrError(other.path or path, f"{buffer} buffer is {other.size[0]}x"
                           f"{other.size[1]} but the beauty is {image.size[0]}x{image.size[1]}")
        sources[buffer] = source
        buffers[buffer] = _gather(other, source)
    color = buffers.pop("color")
    if color.ndim == 2:  # luminance-only (Y) image
        color = np.repeat(color[..., None], 3, axis=-1)
    color = _sanitise("beauty", color, notes, clamp_negative=True)
    for buffer in list(buffers):
        buffers[buffer] = _sanitise(buffer, buffers[buffer], notes)
    colour = _colour_note(image.parts[sources["color"].parts[0]].header)
    if colour:
        notes.append(colour)
    if sources.get("normal") and sources["normal"].normal_space == "world":
        notes.append("normal: Blender's world-space Normal pass (the model expects the "
                     "camera-space Denoising Normal)")
    return Frame(path, image, layer, color, sources=sources, notes=notes, **buffers)


def find_oidn_siblings(path: Path) -> dict[str, tuple[ExrImage, BufferSource]]:
    """Feature files beside an OIDN-style beauty file (X.hdr.exr -> X.alb.exr, X.nrm.exr)."""
    lower = path.name.lower()
    stem = next((path.name[: -len(s)] for s in OIDN_SUFFIXES["color"] if lower.endswith(s)),
                None)
    extra: dict[str, tuple[ExrImage, BufferSource]] = {}
    if stem is None:
        return extra
    for buffer in ("albedo", "normal"):
        sibling = path.with_name(stem + OIDN_SUFFIXES[buffer][0])
        if sibling.exists():
            other = read_exr(sibling)
            source = _find_buffer(other, "", "color")
            if source is None:
                raise ExrError(sibling, f"no RGB channels for the {buffer} buffer")
            space = "unknown" if buffer == "normal" else None
            extra[buffer] = (other, BufferSource(sibling, source.channels, source.parts,
                                                 source.pass_name, space))
    return extra


def load_frame(path: str | os.PathLike, layer: str | None = None,
               overrides: Mapping[str, str] | None = None) -> Frame:
    """Read an EXR and find its beauty, albedo, normal, depth and alpha.

    ``layer`` picks a view layer (default: the first holding a beauty). ``overrides`` maps a
    buffer to explicit channels ('a.R,a.G,a.B') or a pass name. Features missing from the
    file are None; OIDN-style sibling files (X.alb.exr, X.nrm.exr) are used when present.
    """
    path = Path(path)
    image = read_exr(path)
    frame = frame_from_image(image, layer, overrides, extra=find_oidn_siblings(path))
    for note in frame.notes:
        log.warning("%s: %s", path, note)
    return frame


# ---------------------------------------------------------------------------------------------
# Writing a denoised beauty back


def _from_display_window(part: ExrPart, name: str, plane: np.ndarray) -> np.ndarray:
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


def _copy_structure(image: ExrImage) -> ExrImage:
    parts = [ExrPart(p.name, dict(p.channels), dict(p.header)) for p in image.parts]
    return ExrImage(parts, image.multipart, image.path)


def _combined_beside(image: ExrImage, layer: str) -> BufferSource | None:
    """Cycles' (already denoised) Combined next to a Noisy Image, where ours goes."""
    found = _pass_index(image).get((layer, "Combined"))
    picked = _pick_channels(found, RGB) if found else None
    if not picked:
        return None
    return BufferSource(image.path, tuple(n for _, n in picked), tuple(i for i, _ in picked),
                        "Combined")


def with_denoised(image: ExrImage, frame: Frame, color: np.ndarray, keep_noisy: bool = True,
                  attributes: Mapping[str, str] | None = None) -> ExrImage:
    """A copy of ``image`` with the denoised beauty of ``frame.layer`` written in.

    color: (H, W, 3) linear, display window. The denoised beauty takes the channel names of
    the input beauty; the noisy one is kept as ``<layer>.Noisy Image`` (its own part in a
    multi-part file) unless ``keep_noisy`` is False. When the input's beauty already was a
    Noisy Image (Cycles denoised Combined), ours replaces Combined and the Noisy Image stays.
    Every other channel, part and attribute is unchanged; ``attributes`` go on every part.
    """
    out = _copy_structure(image)
    source = frame.sources["color"]
    noisy_name = "Noisy Image"
    target = source
    if source.pass_name == noisy_name:
        target = _combined_beside(image, frame.layer) or source
    _write_color(out, target, color)
    if keep_noisy and target is source:
        names = list(source.channels)
        alpha = frame.sources.get("alpha")
        if alpha and alpha.pass_name == source.pass_name:
            names.append(alpha.channels[0])
        _add_noisy_copy(image, out, names, frame.layer, noisy_name)
    elif not keep_noisy and target is not source:
        _drop_pass(out, frame.layer, noisy_name)
    for part in out.parts:
        part.header.update(attributes or {})
    return out


def find_aov(image: ExrImage, layer: str, pass_name: str) -> BufferSource:
    """An AOV pass's RGB channels in a view layer (e.g. 'DiffDir', a light group)."""
    found = _pass_index(image).get((layer, pass_name))
    picked = _pick_channels(found, RGB) if found else None
    if not picked:
        passes = sorted({p for (lay, p) in _pass_index(image) if lay == layer and p})
        raise ExrError(image.path or Path("<image>"), f"no RGB pass '{pass_name}' in view "
                       f"layer '{layer}' (passes: {', '.join(passes)})")
    return BufferSource(image.path, tuple(n for _, n in picked), tuple(i for i, _ in picked),
                        pass_name)


def aov_color(image: ExrImage, source: BufferSource) -> np.ndarray:
    """(H, W, 3) float32 of an AOV over the display window, NaN/Inf/negatives set to 0."""
    return _sanitise(source.pass_name, _gather(image, source), [], clamp_negative=True)


def with_denoised_aov(image: ExrImage, layer: str, source: BufferSource, color: np.ndarray,
                      keep_noisy: bool = True) -> ExrImage:
    """A copy of ``image`` with a denoised AOV written under its own channel names; the
    noisy AOV is kept as ``<layer>.<pass> Noisy`` unless ``keep_noisy`` is False."""
    out = _copy_structure(image)
    _write_color(out, source, color)
    if keep_noisy:
        _add_noisy_copy(image, out, list(source.channels), layer, f"{source.pass_name} Noisy")
    return out


def _write_color(out: ExrImage, target: BufferSource, color: np.ndarray) -> None:
    planes = [color[..., i] for i in range(3)]
    if len(target.channels) == 1:  # a luminance-only file stays luminance-only
        planes = [color @ np.array([0.2126, 0.7152, 0.0722], np.float32)]
    for part_index, name, plane in zip(target.parts, target.channels, planes, strict=True):
        part = out.parts[part_index]
        part.channels[name] = ExrChannel(_from_display_window(part, name, plane),
                                         *_sampling(part.channels[name]))


def _sampling(channel: ExrChannel) -> tuple[int, int, bool]:
    return channel.x_sampling, channel.y_sampling, channel.p_linear


def _add_noisy_copy(image: ExrImage, out: ExrImage, names: list[str], layer: str,
                    noisy_name: str) -> None:
    """The original pixels of ``names`` again, as pass ``noisy_name`` of ``layer``."""
    prefix = f"{layer}." if layer else ""
    copies = {}
    for name in names:
        part_index = next(i for i, n in image.channel_names() if n == name)
        letter = split_channel_name(name)[2]
        copies[f"{prefix}{noisy_name}.{letter}"] = (part_index, image.parts[part_index]
                                                    .channels[name])
    if image.multipart:
        first = image.parts[copies[next(iter(copies))][0]]
        header = {k: v for k, v in first.header.items() if k != "name"}
        out.parts.append(ExrPart(f"{prefix}{noisy_name}", {n: c for n, (_, c) in copies.items()},
                                 header))
    else:
        for name, (part_index, channel) in copies.items():
            out.parts[part_index].channels[name] = channel


def _drop_pass(out: ExrImage, layer: str, pass_name: str) -> None:
    for part in out.parts:
        for name in list(part.channels):
            if split_channel_name(name)[:2] == (layer, pass_name):
                del part.channels[name]
    out.parts = [p for p in out.parts if p.channels]
