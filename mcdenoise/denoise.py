"""Denoising files and sequences: every layer of an EXR (or an LDR image), written back
atomically; resume, shards, a line per file; frames of a shot with their neighbours."""

from __future__ import annotations

import logging
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mcdenoise import McdenoiseError
from mcdenoise.atomic import remove_stale_temporaries
from mcdenoise.denoiser import DEFAULT_MAX_MEMORY, Denoiser
from mcdenoise.jobs import Job
from mcdenoise.ldr import (
    LdrImage,
    is_ldr,
    make_strip,
    psnr_ldr,
    read_ldr,
    read_provenance,
    write_ldr,
)

if TYPE_CHECKING:
    from mcdenoise.noise import NoiseSpec

log = logging.getLogger(__name__)

MODEL_ATTRIBUTE, HASH_ATTRIBUTE = "mcdenoise.model", "mcdenoise.model_sha256"


@dataclass
class DenoiseOptions:
    layer: str | None = None
    keep_noisy: bool = True
    overwrite: bool = False
    tile: int | None = None
    overlap: int | None = None
    max_memory: int = DEFAULT_MAX_MEMORY
    aovs: tuple[str, ...] = ()  # AOV passes denoised too, with the beauty's features
    temporal: bool = True  # sequences: average each frame with its aligned neighbours first
    temporal_radius: int = 2  # ... this many frames on each side
    beauty_only: bool = False  # write just the denoised beauty, as one-part RGBA
    add_noise: NoiseSpec | None = None  # LDR: corrupt the inputs, write clean|noisy|denoised
    noise_seed: int = 0


def _provenance(denoiser: Denoiser, options: DenoiseOptions) -> dict:
    """What an LDR output records about how it was made (and what a rerun compares)."""
    made = {MODEL_ATTRIBUTE: denoiser.name, HASH_ATTRIBUTE: denoiser.digest}
    if options.add_noise is not None:
        made.update({"mcdenoise.add_noise": str(options.add_noise),
                     "mcdenoise.noise_seed": options.noise_seed})
    return made


def job_status(job: Job, denoiser: Denoiser, overwrite: bool,
               options: DenoiseOptions | None = None) -> str:
    """'denoise' (no output yet), 'skip' (done with this model), 'redo' (another model's
    output, or --overwrite); a foreign file under the output name is an error."""
    from mcdenoise.exr import ExrError, read_exr

    if not job.target.exists():
        return "denoise"
    if overwrite:
        return "redo"
    if is_ldr(job.target):
        made = read_provenance(job.target)
        if made == _provenance(denoiser, options or DenoiseOptions()):
            return "skip"
        if made is not None and HASH_ATTRIBUTE in made:
            return "redo"
        raise McdenoiseError(f"{job.target}: exists and was not written by mcdenoise "
                             "(--overwrite replaces it)")
    try:
        header = read_exr(job.target, header_only=True).parts[0].header
    except ExrError:
        header = {}
    if header.get(HASH_ATTRIBUTE) == denoiser.digest:
        return "skip"
    if HASH_ATTRIBUTE in header:
        return "redo"
    raise McdenoiseError(f"{job.target}: exists and was not written by mcdenoise "
                         "(--overwrite replaces it)")


def denoise_image(image, denoiser: Denoiser, options: DenoiseOptions,
                  neighbours: tuple = ((), ())):
    """Every view layer (or ``options.layer``) of an ExrImage denoised, all else kept.
    ``neighbours``: the previous and the following frames' ExrImages of a sequence, nearest
    first (None for a missing one): each layer's beauty is then averaged with theirs where
    they show the same surface, aligned by the motion vectors (temporal.py), before the
    network."""
    from mcdenoise.frame import (
        aov_color,
        find_oidn_siblings,
        frame_from_image,
        with_denoised,
        with_denoised_aov,
    )
    from mcdenoise.passes import find_aov, list_layers

    path = image.path or Path("<image>")
    layers = [options.layer] if options.layer is not None else list_layers(image) or [None]
    if options.beauty_only and options.aovs:
        raise McdenoiseError("--beauty-only writes the beauty alone: it cannot keep --aov passes")
    if options.beauty_only and len(layers) > 1:
        raise McdenoiseError(f"{path}: --beauty-only writes one image; pick a view layer with "
                             f"--layer ({', '.join(layers)})")
    attributes = {MODEL_ATTRIBUTE: denoiser.name, HASH_ATTRIBUTE: denoiser.digest}
    extra = find_oidn_siblings(path) if image.path else {}
    out = image
    for layer in layers:
        frame = frame_from_image(image, layer, extra=extra)
        for note in frame.notes:
            log.warning("%s: %s", path, note)
        used = denoiser.for_frame(frame, path)
        log.debug("%s: layer '%s', %dx%d, buffers %s, model %s", path, frame.layer,
                  frame.width, frame.height, ", ".join(sorted(frame.sources)), used.name)
        if used is not denoiser:  # the run's model choice still owns the output (resume)
            attributes["mcdenoise.fallback_model"] = used.name
        features = (frame.albedo, frame.normal, frame.depth)
        noisy = _accumulated(frame, neighbours, path) if any(
            n is not None for side in neighbours for n in side) else frame.color
        color = used.denoise(noisy, *features, options.tile, options.overlap,
                             options.max_memory)
        if options.beauty_only:
            return _beauty_image(image, frame, color, attributes)
        out = with_denoised(out, frame, color, options.keep_noisy, attributes)
        for aov in options.aovs:
            source = find_aov(image, frame.layer, aov)
            color = used.denoise(aov_color(image, source), *features, options.tile,
                                 options.overlap, options.max_memory)
            out = with_denoised_aov(out, frame.layer, source, color, options.keep_noisy)
    return out


def _accumulated(frame, neighbours: tuple, path: Path) -> np.ndarray:
    """The frame's beauty averaged with its aligned neighbours' (temporal.accumulate); a
    neighbour of another size or without the layer is left out."""
    from mcdenoise.frame import frame_from_image
    from mcdenoise.temporal import accumulate

    def as_frame(image):
        if image is None or image.size != frame.image.size:
            return None
        try:
            return frame_from_image(image, frame.layer)
        except McdenoiseError:
            return None

    before, after = ([as_frame(image) for image in side] for side in neighbours)
    color, samples = accumulate(frame, before, after)
    log.debug("%s: %.2f frames averaged per pixel", path, float(samples.mean()))
    return color


def denoise_file(source: str | os.PathLike, target: str | os.PathLike, denoiser: Denoiser,
                 options: DenoiseOptions | None = None, previous: tuple = (),
                 following: tuple = ()) -> Path:
    """One EXR denoised into another, written atomically (what the Blender add-on calls).
    ``previous`` / ``following``: the paths of the frames before and after it in its shot,
    nearest first; with ``options.temporal`` it is denoised with them as a sequence's frame
    is (a missing or unreadable one is left out)."""
    from mcdenoise.exr import read_exr

    options = options or DenoiseOptions()
    source, target = Path(source), Path(target)
    if target.resolve() == source.resolve():
        raise McdenoiseError(f"{target}: the output would overwrite its input")
    image = read_exr(source)
    neighbours = ((), ())
    if options.temporal:
        neighbours = tuple([_read_or_none(Path(p)) for p in side] for side in (previous,
                                                                               following))
    _denoise_into(image, target, denoiser, options, neighbours)
    return target


def _read_or_none(path: Path):
    from mcdenoise.exr import read_exr

    try:
        return read_exr(path) if path.is_file() else None
    except McdenoiseError:
        return None


def _denoise_into(image, target: Path, denoiser: Denoiser, options: DenoiseOptions,
                  neighbours: tuple = ((), ())) -> None:
    """Denoise an ExrImage and write it to ``target`` atomically, clearing what a killed
    earlier run left there."""
    from mcdenoise.exr import write_exr

    out = denoise_image(image, denoiser, options, neighbours)
    make_output_folder(target)
    remove_stale_temporaries(target)
    write_exr(target, out)


def denoise_ldr(image: LdrImage, target: Path, denoiser: Denoiser, options: DenoiseOptions,
                name: str = "") -> tuple[float, float] | None:
    """Denoise an LDR image into ``target`` (atomically); with ``options.add_noise`` the
    image is taken as clean, corrupted first, and ``target`` gets the clean | noisy |
    denoised strip. Returns the (noisy, denoised) PSNR of a strip, else None."""
    color = image.color
    if options.add_noise is not None:
        rng = np.random.default_rng([options.noise_seed, zlib.crc32(name.encode())])
        from mcdenoise.noise import apply_noise

        noisy, _ = apply_noise(color, options.add_noise, rng)
        if image.grey:  # grey noise for a grey image
            noisy = np.repeat(noisy[..., :1], 3, axis=-1)
    else:
        noisy = color
    denoised = np.clip(denoiser.denoise(noisy, tile=options.tile, overlap=options.overlap,
                                        max_memory=options.max_memory), 0.0, 1.0)
    made = _provenance(denoiser, options)
    make_output_folder(target)
    remove_stale_temporaries(target)
    if options.add_noise is None:
        write_ldr(target, denoised, image, made)
        return None
    scores = psnr_ldr(noisy, color), psnr_ldr(denoised, color)
    labels = ("clean", f"noisy {options.add_noise}: {scores[0]:.2f} dB",
              f"denoised: {scores[1]:.2f} dB")
    strip = make_strip(color, np.clip(noisy, 0.0, 1.0), denoised, labels)
    write_ldr(target, strip, None, made)
    return scores


def _beauty_image(image, frame, color: np.ndarray, attributes: dict[str, str]):
    """The denoised beauty alone: one part, R G B A (alpha from the render, else 1)."""
    from mcdenoise.exr import ExrImage

    alpha = frame.alpha if frame.alpha is not None else np.ones(color.shape[:2], np.float32)
    planes = {"R": color[..., 0], "G": color[..., 1], "B": color[..., 2], "A": alpha}
    compression = image.parts[frame.sources["color"].parts[0]].compression
    return ExrImage.from_channels(planes, header=attributes,
                                  compression=compression if compression != "unknown" else "zip")


def make_output_folder(target: Path) -> None:
    """Create the folder of an output, or fail with one line saying why."""
    folder = target.parent if str(target.parent) else Path(".")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise McdenoiseError(f"{target}: cannot create the output folder {folder} (a file "
                             "is in the way)") from None
    except OSError as exc:
        raise McdenoiseError(f"{target}: cannot create the output folder {folder} "
                             f"({exc.strerror or exc})") from None


def _read(path: Path):
    from mcdenoise.exr import read_exr

    return read_ldr(path) if is_ldr(path) else read_exr(path)


@dataclass
class RunSummary:
    """What a run over many files did: (job, seconds) denoised, jobs skipped (done with this
    model), jobs whose input is missing, (job, reason) failures."""

    denoised: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    missing: list = field(default_factory=list)
    failures: list = field(default_factory=list)


def frame_ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 7, 9, 10] -> '1-3, 7, 9-10'."""
    runs: list[list[int]] = []
    for number in sorted(numbers):
        if runs and number == runs[-1][1] + 1:
            runs[-1][1] = number
        else:
            runs.append([number, number])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _present_inputs(jobs: list[Job], summary: RunSummary) -> list[Job]:
    """Jobs whose input exists; the others go to ``summary.missing`` (told once, at the end,
    as frame ranges, rather than a line per frame)."""
    summary.missing += [job for job in jobs if not job.source.exists()]
    return [job for job in jobs if job.source.exists()]


def frame_sequence(jobs: list[Job]) -> dict[int, Path]:
    """Frame number -> input, for jobs that came from one frame pattern (a folder or a glob
    of files is not taken for a shot: its neighbours may be other scenes)."""
    patterned = [job for job in jobs if job.in_sequence and job.frame is not None]
    sequence = {job.frame: job.source for job in patterned}
    return sequence if len(sequence) == len(patterned) else {}


class _Reads:
    """Every input read once, by one reader thread, ahead of need: a frame and, for a
    sequence, the frames within ``radius`` of it, kept only while still needed (memory:
    2 radius + 2 frames)."""

    def __init__(self, executor, sequence: dict[int, Path], radius: int) -> None:
        self.executor, self.sequence, self.radius = executor, sequence, radius
        self.futures: dict[Path, object] = {}

    def _get(self, path: Path):
        if path not in self.futures:
            self.futures[path] = self.executor.submit(_read, path)
        return self.futures[path]

    def _around(self, job: Job) -> list[list[Path | None]]:
        if job.frame is None or not self.radius:
            return [[], []]
        steps = range(1, self.radius + 1)
        return [[self.sequence.get(job.frame - k) for k in steps],
                [self.sequence.get(job.frame + k) for k in steps]]

    def ahead(self, jobs: list[Job]) -> None:
        """Start reading these jobs' inputs and neighbours; forget every other file."""
        wanted = [job.source for job in jobs] + [p for job in jobs for side in
                                                 self._around(job) for p in side if p]
        for path in [p for p in self.futures if p not in wanted]:
            del self.futures[path]
        for path in wanted:
            if path.exists():
                self._get(path)

    def image(self, job: Job):
        return self._get(job.source).result()

    def neighbours(self, job: Job) -> tuple:
        """(previous frames nearest first, following frames nearest first) as ExrImages,
        None where a frame is missing or unreadable."""
        found = []
        for side in self._around(job):
            images = []
            for path in side:
                try:
                    images.append(self._get(path).result() if path and path.exists() else None)
                except McdenoiseError:
                    images.append(None)
            found.append(images)
        return tuple(found)


def denoise_jobs(jobs: list[Job], denoiser: Denoiser, options: DenoiseOptions,
                 progress: bool = True, scores: list[tuple[Job, float, float]] | None = None,
                 report=None, sequence: dict[int, Path] | None = None) -> RunSummary:
    """Denoise a sequence (EXRs, or LDR images with an LDR model), reading the next file
    while this one is denoised. A failing frame is reported (on stderr, when there are
    several) and skipped. ``report(line)`` hears one line per file written or skipped.
    With ``options.add_noise``, each strip's (job, noisy PSNR, denoised PSNR) is appended
    to ``scores``. With ``options.temporal``, each EXR frame of a sequence is denoised with
    its neighbours (``sequence``: every frame number's input, this shard's or not; by
    default the jobs' own)."""
    import sys
    import time
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    summary = RunSummary()
    several = len(jobs) > 1
    bar = tqdm(total=0, unit="frame", disable=True)

    def say(line: str) -> None:
        bar.write(line, file=sys.stderr)

    remove_stale_temporaries(*(job.target for job in jobs))  # what killed runs left
    todo = []
    for job in _present_inputs(jobs, summary):
        try:
            if job_status(job, denoiser, options.overwrite, options) == "skip":
                summary.skipped.append(job)
                if report:
                    report(f"{job.target}: already denoised with this model, skipped")
            else:
                todo.append(job)
        except McdenoiseError as exc:
            summary.failures.append((job, str(exc)))
            if several:
                say(f"Error: {exc}")
    size = None
    if sequence is None:
        sequence = frame_sequence(jobs)
    temporal = (options.temporal and options.temporal_radius > 0 and options.add_noise is None
                and len(sequence) > 1)
    bar = tqdm(total=len(todo), unit="frame", disable=not progress or len(todo) < 2)
    with ThreadPoolExecutor(max_workers=1) as reader:
        reads = _Reads(reader, sequence, options.temporal_radius if temporal else 0)
        for index, job in enumerate(todo):
            reads.ahead(todo[index:index + 2])  # this frame and the next, with neighbours
            started = time.perf_counter()
            try:
                image = reads.image(job)
                if isinstance(image, LdrImage):  # photographs: any sizes
                    pair = denoise_ldr(image, job.target, denoiser, options, job.source.name)
                    if pair is not None:
                        bar.write(f"{job.source}: noisy {pair[0]:.2f} dB, denoised "
                                  f"{pair[1]:.2f} dB -> {job.target}")
                        if scores is not None:
                            scores.append((job, *pair))
                else:
                    if size is not None and image.size != size:
                        raise McdenoiseError(f"{job.source}: {image.size[0]}x{image.size[1]} "
                                             f"but the sequence is {size[0]}x{size[1]}")
                    size = size or image.size
                    _denoise_into(image, job.target, denoiser, options, reads.neighbours(job))
                seconds = time.perf_counter() - started
                summary.denoised.append((job, seconds))
                if report:  # through the bar while it is drawn, so it is not torn
                    line = f"{job.source} -> {job.target} ({seconds:.1f} s)"
                    bar.write(line) if not bar.disable else report(line)
            except McdenoiseError as exc:
                summary.failures.append((job, str(exc)))
                if several:
                    say(f"Error: {exc}")
            bar.update(1)
    bar.close()
    return summary
