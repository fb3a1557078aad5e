"""Parsers for the command line's values (frame and spp lists, sizes, memory amounts,
buffer overrides), shared by every command; errors are click.BadParameter."""

from __future__ import annotations

import re

import click


def parse_int_list(text: str) -> list[int]:
    """'1,2,5-10' -> [1, 2, 5, 6, 7, 8, 9, 10] (order kept, duplicates dropped)."""
    values: list[int] = []
    for piece in text.split(","):
        piece = piece.strip()
        try:
            if "-" in piece[1:]:
                start, end = piece[0] + piece[1:].split("-", 1)[0], piece[1:].split("-", 1)[1]
                first, last = int(start), int(end)
                if last < first:
                    raise ValueError
                values.extend(range(first, last + 1))
            else:
                values.append(int(piece))
        except ValueError:
            raise click.BadParameter(f"'{text}' is not a list like 1,2,5-10") from None
    return list(dict.fromkeys(values))


def parse_memory(text: str | None) -> int | None:
    """'2G', '512M', '1.5G' -> bytes (None stays None)."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?)B?\s*", text.upper())
    if not match:
        raise click.BadParameter(f"'{text}' is not a size like 2G or 512M",
                                 param_hint="--max-memory")
    return int(float(match[1]) * {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[match[2]])


def parse_overrides(values: tuple[str, ...]) -> dict[str, str]:
    """('albedo=MyAlbedo', ...) -> {'albedo': 'MyAlbedo'} for --channel."""
    overrides = {}
    for value in values:
        buffer, sep, spec = value.partition("=")
        if not sep or not spec:
            raise click.BadParameter(f"'{value}' is not BUFFER=CHANNELS", param_hint="--channel")
        overrides[buffer.strip()] = spec.strip()
    return overrides


def parse_size(text: str | None) -> tuple[int, int]:
    """'256' -> (256, 256), '640x360' -> (640, 360), None -> (0, 0) (the file's own)."""
    if text is None:
        return 0, 0
    width, _, height = text.lower().partition("x")
    try:
        size = (int(width), int(height or width))
    except ValueError:
        raise click.BadParameter(f"'{text}' is not SIZE or WIDTHxHEIGHT") from None
    if min(size) < 1:
        raise click.BadParameter(f"'{text}': sizes are positive")
    return size
