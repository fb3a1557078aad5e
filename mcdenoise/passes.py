"""Which channels of an EXR are a denoiser's buffers: the alias table.

One alias table covers Blender 5 (multi-part), older Blender (one part), OIDN-style file
sets, part-named layers and generic names; with ``features.py`` this is the only place that
knows channel names (``exr.py`` moves whole files, ``frame.py`` reads the buffers found
here and writes a denoised beauty back).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mcdenoise.exr import (
    ExrError,
    ExrImage,
    split_channel_name,
)

RGB = (("R", "G", "B"),)
XYZW = (("X", "Y", "Z", "W"),)
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
    # Cycles' motion vectors (temporal.py reads them): X, Y towards the previous frame,
    # Z, W from the next, in pixels, y up
    "vectors": (("Vector", XYZW, None), ("Motion", XYZW, None)),
}
BUFFERS = tuple(ALIASES)
BUFFER_CHANNELS = {"color": 3, "albedo": 3, "normal": 3, "depth": 1, "alpha": 1, "vectors": 4}

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
    """(layer, pass) -> {channel letter: (part index, full name)}, in file order.

    In a multi-part file whose channels have bare names (R, G, B; X, Y, Z), the part's name
    is the layer and pass ('beauty', 'albedo', 'ViewLayer.normal'), as several renderers and
    compositors write them."""
    index: dict[tuple[str, str], dict[str, tuple[int, str]]] = {}
    for part_index, name in image.channel_names():
        layer, pass_name, letter = channel_key(image, part_index, name)
        index.setdefault((layer, pass_name), {})[letter] = (part_index, name)
    return index


def channel_key(image: ExrImage, part_index: int, name: str) -> tuple[str, str, str]:
    """(layer, pass, channel letter) of a channel; a bare name in a named part of a
    multi-part file takes the part's name as its layer and pass (see _pass_index)."""
    part_name = image.parts[part_index].name
    if len(image.parts) > 1 and part_name and "." not in name:
        return split_channel_name(f"{part_name}.{name}")
    return split_channel_name(name)


def layer_passes(image: ExrImage, layer: str) -> list[str]:
    """The pass names of one view layer, sorted."""
    return sorted({pass_name for lay, pass_name in _pass_index(image) if lay == layer})


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


def find_buffer(image: ExrImage, layer: str, buffer: str) -> BufferSource | None:
    """The alias table's best candidate for ``buffer`` in view ``layer``, or None."""
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
        if layer not in layers and find_buffer(image, layer, "color") is not None:
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
    sets = {"color": RGB, "albedo": RGB, "normal": XYZ, "vectors": XYZW}.get(buffer, ONE)
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
    if "color" not in overrides and find_buffer(image, layer, "color") is None:
        raise ExrError(path, f"view layer '{layer}' has no beauty (RGB) channels")
    for buffer in BUFFERS:
        if buffer in overrides:
            sources[buffer] = _find_override(image, layer, buffer, overrides[buffer])
        else:
            found = None
            if buffer == "alpha":
                found = _beauty_alpha(image, layer, sources["color"])
            found = found or find_buffer(image, layer, buffer)
            if found is not None:
                sources[buffer] = found
    return layer, sources


def final_beauty(image: ExrImage, layer: str, color: BufferSource) -> BufferSource:
    """What a file shows as its finished beauty: Combined beside a ``Noisy Image`` (Cycles'
    or mcdenoise's denoised result), else the beauty itself. Scoring reads this one."""
    if color.pass_name == "Noisy Image":
        return combined_beside(image, layer) or color
    return color


def _beauty_alpha(image: ExrImage, layer: str, color: BufferSource) -> BufferSource | None:
    """The beauty pass's own A channel (Combined.A, Noisy Image.A, plain A)."""
    found = _pass_index(image).get((layer, color.pass_name), {})
    for letter, (part_index, name) in found.items():
        if letter.upper() == "A":
            return BufferSource(image.path, (name,), (part_index,), color.pass_name)
    return None


def combined_beside(image: ExrImage, layer: str) -> BufferSource | None:
    """Cycles' (already denoised) Combined next to a Noisy Image, where ours goes."""
    found = _pass_index(image).get((layer, "Combined"))
    picked = _pick_channels(found, RGB) if found else None
    if not picked:
        return None
    return BufferSource(image.path, tuple(n for _, n in picked), tuple(i for i, _ in picked),
                        "Combined")


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
