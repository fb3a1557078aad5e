"""Planning a denoising run: which files become which outputs (files, folders, globs,
frame patterns such as ``beauty.####.exr``, %04d and $F4) and how frames are shared out
between machines or torchrun ranks."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from mcdenoise import McdenoiseError
from mcdenoise.ldr import LDR_SUFFIXES, is_ldr

_FRAME_TOKEN = re.compile(r"(#+)|%0?(\d*)d|\$F(\d*)")


@dataclass(frozen=True)
class Job:
    """One input file, the output it becomes and its frame number (None: not a sequence)."""

    source: Path
    target: Path
    frame: int | None = None
    in_sequence: bool = False  # from a frame pattern: its neighbours are frames of one shot


def _pattern_parts(pattern: str) -> tuple[str, int, str] | None:
    """'shot/b.####.exr' -> ('shot/b.', 4, '.exr'); also %04d and $F4 (0 = no padding)."""
    match = _FRAME_TOKEN.search(pattern)
    if match is None:
        return None
    hashes, printf, houdini = match.groups()
    width = len(hashes) if hashes else int(printf or houdini or 0)
    return pattern[:match.start()], width, pattern[match.end():]


def _format_frame(parts: tuple[str, int, str], frame: int) -> Path:
    head, width, tail = parts
    return Path(f"{head}{frame:0{width}d}{tail}")


def _frames_on_disk(parts: tuple[str, int, str]) -> list[int]:
    head, width, tail = parts
    folder, prefix = Path(head).parent, Path(head).name
    digits = rf"\d{{{width},}}" if width else r"\d+"
    regex = re.compile(rf"^{re.escape(prefix)}(-?{digits}){re.escape(tail)}$")
    if not folder.is_dir():
        return []
    found = (regex.match(p.name) for p in folder.iterdir())
    return sorted(int(m[1]) for m in found if m)


def _trailing_number(path: Path) -> int | None:
    found = re.findall(r"\d+", path.name)
    return int(found[-1]) if found else None


def plan_jobs(inputs: list[str], output: str | None, frames: list[int] | None) -> list[Job]:
    """(input, output) per frame from files, directories, globs or frame patterns; ``output``
    is a file (one input), a directory, or a pattern (####, %04d, $F4)."""
    sources: list[tuple[Path, int | None, bool]] = []
    for item in inputs:
        parts = _pattern_parts(item)
        if parts is None:
            sources += [(p, _trailing_number(p), False) for p in _expand(item)]
            continue
        numbers = frames if frames is not None else _frames_on_disk(parts)
        if not numbers:
            raise McdenoiseError(f"{item}: no frames found (give --frames)")
        sources += [(_format_frame(parts, n), n, True) for n in numbers]
    if not sources:
        raise McdenoiseError("no input files")
    if output is None:
        raise McdenoiseError("give an output with -o (a file, a directory or a pattern)")
    out_parts = _pattern_parts(output)
    to_folder = Path(output).is_dir() or output.endswith(("/", os.sep))
    if len(sources) > 1 and out_parts is None and not to_folder:
        raise McdenoiseError(f"-o {output}: several inputs need a directory or a frame "
                             "pattern such as out/beauty.####.exr")
    jobs = []
    for source, number, in_sequence in sources:
        if out_parts is not None:
            if number is None:
                raise McdenoiseError(f"{source}: no frame number for the output pattern")
            target = _format_frame(out_parts, number)
        else:
            target = Path(output) / source.name if to_folder else Path(output)
        if target.resolve() == source.resolve():
            raise McdenoiseError(f"{source}: the output is the input; inputs are never modified")
        if is_ldr(source) != is_ldr(target):
            raise McdenoiseError(f"{target}: {source.name} is written as "
                                 f"{'a PNG, JPEG or TIFF' if is_ldr(source) else 'an EXR'}")
        jobs.append(Job(source, target, number, in_sequence))
    targets = [job.target for job in jobs]
    if len(set(targets)) != len(targets):
        raise McdenoiseError("several inputs would write the same output file")
    return jobs


def sequence_on_disk(inputs: list[str]) -> dict[int, Path]:
    """Frame number -> file for every frame on disk of the frame-pattern inputs (one shot:
    a frame's neighbours are used even outside --frames or this shard's part); {} when
    the inputs hold no pattern or several patterns share a frame number."""
    found: dict[int, Path] = {}
    for item in inputs:
        parts = _pattern_parts(item)
        if parts is None:
            continue
        for number in _frames_on_disk(parts):
            if number in found:
                return {}
            found[number] = _format_frame(parts, number)
    return found


def _expand(item: str) -> list[Path]:
    """Files as given, globs expanded; a folder gives its EXRs, or its PNG / JPEG / TIFF
    images when it holds no EXR."""
    from mcdenoise.exr import expand_paths

    found = expand_paths((item,))
    if Path(item).is_dir() and not found:
        found = expand_paths((item,), LDR_SUFFIXES)
    return found


def input_kind(jobs: list[Job]) -> str:
    """'ldr' (PNG / JPEG / TIFF) or 'hdr' (EXR); one run takes one kind (one model)."""
    kinds = {is_ldr(job.source) for job in jobs}
    if len(kinds) > 1:
        raise McdenoiseError("the inputs mix EXR renders and PNG / JPEG / TIFF images, which "
                             "need different models: denoise them in two runs")
    return "ldr" if kinds == {True} else "hdr"


def parse_shard(text: str) -> tuple[int, int]:
    """'2/4' -> (1, 4): the 0-based part index and the number of parts."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise McdenoiseError(f"--shard {text!r}: expected K/N with 1 <= K <= N, e.g. 1/4")
    return int(match[1]) - 1, int(match[2])


def shard_jobs(jobs: list[Job], index: int, count: int, order: str = "contiguous") -> list[Job]:
    """Part ``index`` (0-based) of ``count``: every job lands in exactly one part. Contiguous
    parts differ in length by one at most; interleaved takes every count-th job."""
    if order == "interleaved":
        return jobs[index::count]
    size, extra = divmod(len(jobs), count)
    start = index * size + min(index, extra)
    return jobs[start:start + size + (index < extra)]
