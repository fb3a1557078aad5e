"""Frames: the buffers a denoiser reads from an EXR (beauty, albedo, normal, depth, alpha),
placed in the display window and sanitised, with the whole file kept for pass-through; and
the denoised beauty (or AOV) written back into a copy of that file."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mcdenoise.exr import (
    REC709_CHROMATICITIES,
    ExrChannel,
    ExrError,
    ExrImage,
    ExrPart,
    place_in_data_window,
    place_in_display_window,
    read_exr,
    split_channel_name,
)
from mcdenoise.features import LUMINANCE
from mcdenoise.passes import (
    OIDN_SUFFIXES,
    BufferSource,
    combined_beside,
    final_beauty,
    find_buffer,
    find_buffers,
)

log = logging.getLogger(__name__)


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
    vectors: np.ndarray | None = None  # (H, W, 4) Cycles' Vector pass, pixels (temporal.py)
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


def _gather(image: ExrImage, source: BufferSource) -> np.ndarray:
    pairs = zip(source.parts, source.channels, strict=True)
    planes = [place_in_display_window(image, index, name) for index, name in pairs]
    return planes[0] if len(planes) == 1 else np.stack(planes, axis=-1)


# Magnitudes no render holds (a sun seen directly is ~1e5-1e6): such values are damage, and
# the kernels would spread them into a blob around the pixel. Depth is exempt (Blender
# writes 1e10 where nothing was hit).
ABSURD = {"beauty": 1e9, "albedo": 1e6, "normal": 1e6}
AOV_ABSURD = ABSURD["beauty"]


def _sanitise(label: str, values: np.ndarray, notes: list[str], clamp_negative: bool = False,
              limit: float | None = None):
    """Replace NaN/±Inf, magnitudes above ``limit`` (and negatives for the beauty) by 0,
    counting what was replaced."""
    nan = int(np.count_nonzero(np.isnan(values)))
    inf = int(np.count_nonzero(np.isinf(values)))
    negative = int(np.count_nonzero(values < 0)) if clamp_negative else 0
    with np.errstate(invalid="ignore"):
        huge = (np.abs(values) > limit) & np.isfinite(values) if limit is not None else None
    absurd = int(np.count_nonzero(huge)) if huge is not None else 0
    if nan or inf or negative or absurd:
        values = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
        if absurd:
            values[huge] = 0.0
        if clamp_negative:
            np.maximum(values, 0.0, out=values)
        beyond = f"absurd (|v| > {limit:.0e})" if absurd else ""
        counts = [f"{n} {what}" for n, what in ((nan, "NaN"), (inf, "±Inf"), (absurd, beyond),
                                                (negative, "negative")) if n]
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
    color = _sanitise("beauty", color, notes, clamp_negative=True, limit=ABSURD["beauty"])
    for buffer in list(buffers):
        buffers[buffer] = _sanitise(buffer, buffers[buffer], notes, limit=ABSURD.get(buffer))
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
            source = find_buffer(other, "", "color")
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


def load_beauty(path: str | os.PathLike, layer: str | None = None,
                overrides: Mapping[str, str] | None = None) -> np.ndarray:
    """(H, W, 3) float32 linear: the finished beauty of a file, sanitised, for scoring. In
    a denoised file (a ``Noisy Image`` beside ``Combined``) that is the denoised Combined,
    not the noisy copy that ``load_frame`` hands to a denoiser; an explicit
    ``overrides['color']`` is taken as given."""
    return beauty_of(read_exr(Path(path)), layer, overrides)


def beauty_of(image: ExrImage, layer: str | None = None,
              overrides: Mapping[str, str] | None = None) -> np.ndarray:
    """``load_beauty`` of an image already read."""
    chosen, sources = find_buffers(image, layer, overrides)
    source = sources["color"]
    if "color" not in (overrides or {}):
        source = final_beauty(image, chosen, source)
    color = _gather(image, source)
    if color.ndim == 2:
        color = np.repeat(color[..., None], 3, axis=-1)
    notes: list[str] = []
    color = _sanitise("beauty", color, notes, clamp_negative=True, limit=ABSURD["beauty"])
    for note in notes:
        log.warning("%s: %s", image.path or "<image>", note)
    return color


def aov_color(image: ExrImage, source: BufferSource) -> np.ndarray:
    """(H, W, 3) float32 of an AOV over the display window, NaN/Inf/negatives set to 0."""
    return _sanitise(source.pass_name, _gather(image, source), [], clamp_negative=True,
                     limit=AOV_ABSURD)


# --- writing a denoised pass back ---------------------------------------------------------

def _copy_structure(image: ExrImage) -> ExrImage:
    parts = [ExrPart(p.name, dict(p.channels), dict(p.header)) for p in image.parts]
    return ExrImage(parts, image.multipart, image.path)


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
        target = combined_beside(image, frame.layer) or source
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
        planes = [color @ LUMINANCE]
    for part_index, name, plane in zip(target.parts, target.channels, planes, strict=True):
        part = out.parts[part_index]
        part.channels[name] = ExrChannel(place_in_data_window(part, name, plane),
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
