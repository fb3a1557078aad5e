"""Denoising files and sequences: every layer of an EXR (or an LDR image), written back
atomically; resume, shards, a line per file; frames of a shot with their neighbours."""

from __future__ import annotations

import dataclasses
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
    blend: bool = True  # ... and then each denoised frame with its neighbours' (temporal.blend)
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


@dataclass
class LayerPass:
    """One view layer of a frame through the network: its frame, the model that took it,
    the denoised beauty (of the frame averaged with its aligned neighbours, in a sequence)
    and how those neighbours land on it (temporal.Link)."""

    layer: str
    frame: object  # None once only the color is needed (a neighbour's pass)
    used: Denoiser
    color: np.ndarray
    links: list = field(default_factory=list)


def _layers(image, options: DenoiseOptions) -> list[str | None]:
    from mcdenoise.passes import list_layers

    path = image.path or Path("<image>")
    layers = [options.layer] if options.layer is not None else list_layers(image) or [None]
    if options.beauty_only and options.aovs:
        raise McdenoiseError("--beauty-only writes the beauty alone: it cannot keep --aov passes")
    if options.beauty_only and len(layers) > 1:
        raise McdenoiseError(f"{path}: --beauty-only writes one image; pick a view layer with "
                             f"--layer ({', '.join(layers)})")
    return layers


def first_pass(image, denoiser: Denoiser, options: DenoiseOptions,
               neighbours: tuple = ((), ())) -> list[LayerPass]:
    """Every view layer (or ``options.layer``) of an ExrImage through the network.
    ``neighbours``: the previous and the following frames' ExrImages of a sequence, nearest
    first (None for a missing one): each layer's beauty is then averaged with theirs where
    they show the same surface, aligned by the motion vectors (temporal.py), before the
    network."""
    from mcdenoise.frame import find_oidn_siblings, frame_from_image

    path = image.path or Path("<image>")
    extra = find_oidn_siblings(path) if image.path else {}
    passes = []
    for layer in _layers(image, options):
        frame = frame_from_image(image, layer, extra=extra)
        for note in frame.notes:
            log.warning("%s: %s", path, note)
        used = denoiser.for_frame(frame, path)
        log.debug("%s: layer '%s', %dx%d, buffers %s, model %s", path, frame.layer,
                  frame.width, frame.height, ", ".join(sorted(frame.sources)), used.name)
        links = _links(frame, neighbours) if any(
            n is not None for side in neighbours for n in side) else []
        noisy = frame.color
        if links:
            from mcdenoise.temporal import accumulate

            noisy, samples = accumulate(frame, links=links)
            log.debug("%s: %.2f frames averaged per pixel", path, float(samples.mean()))
            # the blend needs where the neighbours land, not their warped noisy colors
            links = [dataclasses.replace(link, color=None) for link in links]
        color = used.denoise(noisy, frame.albedo, frame.normal, frame.depth, options.tile,
                             options.overlap, options.max_memory)
        passes.append(LayerPass(frame.layer, frame, used, color, links))
    return passes


def passes_from_file(denoised, denoiser: Denoiser, options: DenoiseOptions, image=None,
                     neighbours: tuple = ((), ())) -> list[LayerPass]:
    """A frame's first passes read back from ``denoised`` (an ExrImage that a run without
    the blend wrote for it: ``first_pass``'s colors) instead of run through the network
    again. With ``image`` (the frame itself), each layer keeps its frame and how
    ``neighbours`` land on it, as ``first_pass`` gives them; without, only the colors (a
    neighbour's passes, for ``denoise_image``'s ``blend_with``)."""
    from mcdenoise.frame import beauty_of, frame_from_image
    from mcdenoise.passes import find_buffers

    passes = []
    for layer in _layers(image if image is not None else denoised, options):
        if image is None:
            chosen = find_buffers(denoised, layer)[0]
            passes.append(LayerPass(chosen, None, denoiser, beauty_of(denoised, chosen)))
            continue
        frame = frame_from_image(image, layer)
        color = beauty_of(denoised, frame.layer)
        if color.shape != frame.color.shape:
            raise McdenoiseError(f"{denoised.path}: {color.shape[1]}x{color.shape[0]} but "
                                 f"{image.path} is {frame.width}x{frame.height}")
        links = _links(frame, neighbours) if any(
            n is not None for side in neighbours for n in side) else []
        links = [dataclasses.replace(link, color=None) for link in links]
        used = denoiser.for_frame(frame, image.path or Path("<image>"))
        passes.append(LayerPass(frame.layer, frame, used, color, links))
    return passes


def denoise_image(image, denoiser: Denoiser, options: DenoiseOptions,
                  neighbours: tuple = ((), ()), passes: list[LayerPass] | None = None,
                  blend_with: dict[int, list[LayerPass] | None] | None = None):
    """Every view layer (or ``options.layer``) of an ExrImage denoised, all else kept.
    ``neighbours``: as for ``first_pass`` (``passes``: its result, already computed).
    ``blend_with``: the first passes of the frames around this one (offset -> passes, None
    where there is none): each layer's denoised beauty is then averaged with theirs where
    they show the same surface (temporal.blend)."""
    from mcdenoise.frame import aov_color, with_denoised, with_denoised_aov
    from mcdenoise.passes import find_aov

    if passes is None:
        passes = first_pass(image, denoiser, options, neighbours)
    attributes = {MODEL_ATTRIBUTE: denoiser.name, HASH_ATTRIBUTE: denoiser.digest}
    out = image
    for layer_pass in passes:
        frame, used, color = layer_pass.frame, layer_pass.used, layer_pass.color
        if used is not denoiser:  # the run's model choice still owns the output (resume)
            attributes["mcdenoise.fallback_model"] = used.name
        if blend_with and layer_pass.links:
            from mcdenoise.temporal import blend

            found = {offset: other.color for offset, others in blend_with.items()
                     for other in others or () if other.layer == frame.layer
                     and other.color.shape == color.shape}
            color = blend(color, layer_pass.links, found)
        if options.beauty_only:
            return _beauty_image(image, frame, color, attributes)
        out = with_denoised(out, frame, color, options.keep_noisy, attributes)
        features = (frame.albedo, frame.normal, frame.depth)
        for aov in options.aovs:
            source = find_aov(image, frame.layer, aov)
            color = used.denoise(aov_color(image, source), *features, options.tile,
                                 options.overlap, options.max_memory)
            out = with_denoised_aov(out, frame.layer, source, color, options.keep_noisy)
    return out


def _links(frame, neighbours: tuple) -> list:
    """How the neighbours' same layer lands on ``frame`` (temporal.link_neighbours); a
    neighbour of another size or without the layer is left out."""
    from mcdenoise.frame import frame_from_image
    from mcdenoise.temporal import link_neighbours

    def as_frame(image):
        if image is None or image.size != frame.image.size:
            return None
        try:
            return frame_from_image(image, frame.layer)
        except McdenoiseError:
            return None

    before, after = ([as_frame(image) for image in side] for side in neighbours)
    return link_neighbours(frame, before, after)


def denoise_file(source: str | os.PathLike, target: str | os.PathLike, denoiser: Denoiser,
                 options: DenoiseOptions | None = None, previous: tuple = (),
                 following: tuple = (), denoised: str | os.PathLike | None = None,
                 previous_denoised: tuple = (), following_denoised: tuple = ()) -> Path:
    """One EXR denoised into another, written atomically (what the Blender add-on calls).
    ``previous`` / ``following``: the paths of the frames before and after it in its shot,
    nearest first; with ``options.temporal`` it is denoised with them as a sequence's frame
    is (a missing or unreadable one is left out), without the blend. The blend needs the
    neighbours' own first passes: ``previous_denoised`` / ``following_denoised`` name what
    a call without them wrote for those frames, and ``denoised`` this frame's (the network
    then does not run again); the output is then what a whole sequence's run gives."""
    from mcdenoise.exr import read_exr

    options = options or DenoiseOptions()
    source, target = Path(source), Path(target)
    if target.resolve() == source.resolve():
        raise McdenoiseError(f"{target}: the output would overwrite its input")
    image = read_exr(source)
    neighbours: tuple = ((), ())
    blending: dict = {}
    if options.temporal:
        neighbours = tuple([_read_or_none(Path(p)) for p in side] for side in (previous,
                                                                               following))
        named = {**{-k: p for k, p in enumerate(previous_denoised, 1)},
                 **{k: p for k, p in enumerate(following_denoised, 1)}}
        if named:
            blending["blend_with"] = {offset: _neighbour_passes(Path(path), denoiser, options)
                                      for offset, path in named.items()}
        if denoised is not None:
            blending["passes"] = passes_from_file(read_exr(Path(denoised)), denoiser, options,
                                                  image, neighbours)
    _denoise_into(image, target, denoiser, options, neighbours, **blending)
    return target


def _neighbour_passes(path: Path, denoiser: Denoiser, options: DenoiseOptions
                      ) -> list[LayerPass] | None:
    """A neighbour's first passes from the file a run without the blend wrote for it (only
    their colors); None where it is missing or unreadable: the frame blends without it."""
    denoised = _read_or_none(Path(path))
    try:
        return None if denoised is None else passes_from_file(denoised, denoiser, options)
    except McdenoiseError:
        return None


def _read_or_none(path: Path):
    from mcdenoise.exr import read_exr

    try:
        return read_exr(path) if path.is_file() else None
    except McdenoiseError:
        return None


def _denoise_into(image, target: Path, denoiser: Denoiser, options: DenoiseOptions,
                  neighbours: tuple = ((), ()), **blending) -> None:
    """Denoise an ExrImage (``denoise_image``) and write it to ``target`` atomically,
    clearing what a killed earlier run left there."""
    from mcdenoise.exr import write_exr

    out = denoise_image(image, denoiser, options, neighbours, **blending)
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
    sequence, the frames within ``reach`` of it, kept only while still needed (memory:
    2 reach + 2 frames)."""

    def __init__(self, executor, sequence: dict[int, Path], radius: int, reach: int) -> None:
        self.executor, self.sequence = executor, sequence
        self.radius, self.reach = radius, reach
        self.futures: dict[Path, object] = {}

    def _get(self, path: Path):
        if path not in self.futures:
            self.futures[path] = self.executor.submit(_read, path)
        return self.futures[path]

    def _around(self, number: int | None, radius: int) -> list[list[Path | None]]:
        if number is None or not radius:
            return [[], []]
        steps = range(1, radius + 1)
        return [[self.sequence.get(number - k) for k in steps],
                [self.sequence.get(number + k) for k in steps]]

    def ahead(self, jobs: list[Job]) -> None:
        """Start reading these jobs' inputs and the frames within reach; forget every
        other file."""
        wanted = [job.source for job in jobs] + [p for job in jobs for side in
                                                 self._around(job.frame, self.reach)
                                                 for p in side if p]
        for path in [p for p in self.futures if p not in wanted]:
            del self.futures[path]
        for path in wanted:
            if path.exists():
                self._get(path)

    def image(self, job: Job):
        return self._get(job.source).result()

    def frame(self, number: int):
        """Frame ``number`` of the sequence as an ExrImage; None where it is missing or
        unreadable."""
        path = self.sequence.get(number)
        try:
            return self._get(path).result() if path and path.exists() else None
        except McdenoiseError:
            return None

    def neighbours(self, number: int | None) -> tuple:
        """(previous frames nearest first, following frames nearest first) of frame
        ``number`` as ExrImages, None where a frame is missing or unreadable."""
        if number is None or not self.radius:
            return ((), ())
        steps = range(1, self.radius + 1)
        return ([self.frame(number - k) for k in steps], [self.frame(number + k) for k in steps])


class _FirstPasses:
    """The first passes (``first_pass``: each frame averaged with its neighbours, through
    the network) of a sequence's frames, each computed once and kept while a frame that
    blends it is still to come: a frame's output blends the passes of the frames within
    ``radius`` of it, its own included."""

    def __init__(self, reads: _Reads, denoiser: Denoiser, options: DenoiseOptions,
                 outputs: set[int], on_disk: dict[int, Path] | None = None) -> None:
        self.reads, self.denoiser, self.options = reads, denoiser, options
        self.outputs = outputs  # frames this run writes: they keep their frame and links
        self.passes: dict[int, list[LayerPass] | None] = {}
        # first passes written before (frame -> file); with it, the others are not computed
        self.on_disk = on_disk

    def _read(self, number: int) -> list[LayerPass] | None:
        """Frame ``number``'s first passes from its file in ``on_disk``; None where that
        file is missing or unreadable (the frame's neighbours blend without it)."""
        if number not in self.outputs:
            return _neighbour_passes(self.on_disk[number], self.denoiser, self.options)
        denoised, image = _read_or_none(self.on_disk[number]), self.reads.frame(number)
        if denoised is None or image is None:
            return None
        return passes_from_file(denoised, self.denoiser, self.options, image,
                                self.reads.neighbours(number))

    def get(self, number: int) -> list[LayerPass] | None:
        if number not in self.passes:
            image = self.reads.frame(number)
            found = None
            if self.on_disk is not None and number in self.on_disk:
                found = self._read(number)
            elif self.on_disk is not None and number not in self.outputs:
                found = None  # a neighbour named without its first pass: not blended
            elif image is not None:
                try:
                    found = first_pass(image, self.denoiser, self.options,
                                       self.reads.neighbours(number))
                except McdenoiseError:  # the frame's own turn says why, if it is one
                    found = None
            if found is not None and number not in self.outputs:
                found = [dataclasses.replace(p, frame=None, links=[]) for p in found]
            self.passes[number] = found
        return self.passes[number]

    def around(self, number: int) -> dict[int, list[LayerPass] | None]:
        radius = self.options.temporal_radius
        return {offset: self.get(number + offset) for offset in range(-radius, radius + 1)
                if offset and number + offset in self.reads.sequence}

    def done(self, number: int) -> None:
        """Frame ``number`` is written: forget what no later frame needs."""
        self.outputs.discard(number)
        for kept in [n for n in self.passes if n <= number - self.options.temporal_radius]:
            del self.passes[kept]
        if self.passes.get(number):
            self.passes[number] = [dataclasses.replace(p, frame=None, links=[])
                                   for p in self.passes[number]]


def denoise_jobs(jobs: list[Job], denoiser: Denoiser, options: DenoiseOptions,
                 progress: bool = True, scores: list[tuple[Job, float, float]] | None = None,
                 report=None, sequence: dict[int, Path] | None = None,
                 denoised: dict[int, Path] | None = None) -> RunSummary:
    """Denoise a sequence (EXRs, or LDR images with an LDR model), reading the next file
    while this one is denoised. A failing frame is reported (on stderr, when there are
    several) and skipped. ``report(line)`` hears one line per file written or skipped.
    With ``options.add_noise``, each strip's (job, noisy PSNR, denoised PSNR) is appended
    to ``scores``. With ``options.temporal``, each EXR frame of a sequence is denoised with
    its neighbours (``sequence``: every frame number's input, this shard's or not; by
    default the jobs' own). ``denoised``: first passes already written (frame number -> what
    a run without the blend wrote for it): the blend reads them instead of running the
    network, and leaves out the neighbours not named there."""
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
    radius = options.temporal_radius if temporal else 0
    blending = temporal and options.blend
    with ThreadPoolExecutor(max_workers=1) as reader:
        reach = 2 * radius if blending and denoised is None else radius
        reads = _Reads(reader, sequence, radius, reach)
        first = _FirstPasses(reads, denoiser, options, {job.frame for job in todo
                                                        if job.frame is not None}, denoised)
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
                    if blending and job.frame in sequence:
                        passes = first.get(job.frame)
                        if passes is None:  # unreadable: the frame's own read says why
                            passes = first_pass(image, denoiser, options,
                                                reads.neighbours(job.frame))
                        _denoise_into(image, job.target, denoiser, options, passes=passes,
                                      blend_with=first.around(job.frame))
                        first.done(job.frame)
                    else:
                        _denoise_into(image, job.target, denoiser, options,
                                      reads.neighbours(job.frame))
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
