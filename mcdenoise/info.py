"""`mcdenoise info`: what an EXR file holds and which channels mcdenoise would use."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from mcdenoise.exr import ExrError, ExrImage, check_display_window, read_exr, split_channel_name
from mcdenoise.frame import find_oidn_siblings, frame_from_image
from mcdenoise.passes import BUFFERS, channel_key, layer_passes, list_layers


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


_LETTER_ORDER = {letter: i for i, letter in enumerate("RGBAXYZ")}


def _channel_order(name: str) -> tuple[str, str, int, str]:
    """File order is alphabetical (B, G, R); people read R, G, B, A and X, Y, Z."""
    layer, pass_name, letter = split_channel_name(name)
    return layer, pass_name, _LETTER_ORDER.get(letter.upper(), len(_LETTER_ORDER)), letter


_STRUCTURAL = {"dataWindow", "displayWindow", "compression", "type", "tiles", "name"}


def _describe_parts(image: ExrImage) -> list[dict[str, Any]]:
    parts = []
    for index, part in enumerate(image.parts):
        tiles = part.header.get("tiles")
        channels = []
        for name, channel in sorted(part.channels.items(), key=lambda item: _channel_order(
                item[0])):
            layer, pass_name, letter = channel_key(image, index, name)
            channels.append({"name": name, "layer": layer, "pass": pass_name, "channel": letter,
                             "type": channel.pixel_type,
                             "sampling": [channel.x_sampling, channel.y_sampling]})
        parts.append({
            "index": index, "name": part.name, "storage": "tiled" if tiles else "scanline",
            "tile_size": [tiles.xSize, tiles.ySize] if tiles else None,
            "compression": part.compression, "data_window": list(part.data_window),
            "channels": channels,
            "attributes": {k: _jsonable(v) for k, v in part.header.items()
                           if k not in _STRUCTURAL},
        })
    return parts


def describe_file(path: str | Path, layer: str | None = None,
                  overrides: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A JSON-ready description of one EXR file; raises ExrError for unreadable files."""
    path = Path(path)
    image = read_exr(path)
    width, height = image.size
    extra = find_oidn_siblings(path)
    layers = [layer] if layer is not None else list_layers(image)
    if not layers and overrides and "color" in overrides:
        layers = [""]
    report: dict[str, Any] = {
        "path": str(path), "width": width, "height": height,
        "display_window": list(image.display_window), "multipart": image.multipart,
        "parts": _describe_parts(image), "layers": [], "notes": [],
    }
    if not layers:
        report["notes"].append("no beauty (RGB) channels: mcdenoise cannot denoise this file")
    try:
        check_display_window(image)
    except ExrError as exc:
        report["notes"].append(f"{exc.problem}: mcdenoise cannot denoise this file")
        layers = []
    for name in layers:
        frame = frame_from_image(image, name, overrides, extra=extra)
        uses = {}
        for buffer in BUFFERS:
            source = frame.sources.get(buffer)
            if source is not None:
                uses[buffer] = {"pass": source.pass_name, "channels": list(source.channels),
                                "file": str(source.path) if source.path else None,
                                "normal_space": source.normal_space,
                                "summary": source.describe()}
        report["layers"].append({"name": name, "passes": layer_passes(image, name),
                                 "uses": uses})
        report["notes"].extend(f"layer '{name}': {note}" if len(layers) > 1 else note
                               for note in frame.notes)
    return report


def _window(window: list[int]) -> str:
    return f"({window[0]},{window[1]})-({window[2]},{window[3]})"


def format_description(report: Mapping[str, Any]) -> str:
    """The human-readable form of describe_file's report."""
    kind = f"multi-part, {len(report['parts'])} parts" if report["multipart"] else "single-part"
    lines = [f"{report['path']}",
             f"  size {report['width']}x{report['height']}, display window "
             f"{_window(report['display_window'])}, {kind}"]
    for part in report["parts"]:
        storage = part["storage"]
        if part["tile_size"]:
            storage += " {}x{}".format(*part["tile_size"])
        label = f" '{part['name']}'" if part["name"] else ""
        lines.append(f"  part {part['index']}{label}: {storage}, {part['compression']}, "
                     f"data window {_window(part['data_window'])}")
        groups: dict[str, list[str]] = {}
        for channel in part["channels"]:
            prefix = ".".join(p for p in (channel["layer"], channel["pass"]) if p) or "(plain)"
            sampling = "" if channel["sampling"] == [1, 1] else "/sub{}x{}".format(
                *channel["sampling"])
            groups.setdefault(prefix, []).append(f"{channel['channel']}:{channel['type']}"
                                                 f"{sampling}")
        for prefix, chans in groups.items():
            lines.append(f"    {prefix:<40} {' '.join(chans)}")
    for layer in report["layers"]:
        lines.append(f"  view layer '{layer['name']}' uses:" if layer["name"] else "  uses:")
        for buffer in BUFFERS:
            use = layer["uses"].get(buffer)
            lines.append(f"    {buffer:<7} {use['summary'] if use else '-'}")
    lines.extend(f"  note: {note}" for note in report["notes"])
    return "\n".join(lines)
