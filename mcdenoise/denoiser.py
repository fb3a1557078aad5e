"""A trained network in a backend and what it needs around it: whole-frame normalisation,
aligned overlapping tiles with smooth blending, loading models (torch, ONNX, bundled)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mcdenoise import McdenoiseError
from mcdenoise.config import Config
from mcdenoise.features import build_input, frame_stats, output_to_linear

if TYPE_CHECKING:
    pass

log = logging.getLogger(__name__)

# Inference memory per pixel of a tile: each network's ``bytes_per_pixel`` (for the default
# U-Net measured 1500-1700 B/px, peak RSS growth for 512^2 and 1024^2 inputs; with a margin).
DEFAULT_MAX_MEMORY = 1 << 30  # bytes for activations; the tile size follows from it


@dataclass(frozen=True)
class Tile:
    y0: int
    y1: int
    x0: int
    x1: int


def _band_weights(length: int, before: int, after: int, blend: int) -> np.ndarray:
    """Weights of one window along an axis. In a band of width L shared with a neighbour,
    the (L - blend) / 2 pixels nearest this window's edge get 0 (their context was cut by the
    tile border), then the weight rises linearly over ``blend`` pixels to 1; neighbouring
    windows' ramps are complementary, so they sum to 1."""
    weights = np.ones(length, np.float32)
    for band, flip in ((before, False), (after, True)):
        if band <= 0:
            continue
        ramp_width = min(blend, band)
        dead = (band - ramp_width) // 2
        side = np.zeros(band, np.float32)
        side[dead:dead + ramp_width] = (np.arange(ramp_width, dtype=np.float32) + 0.5) / ramp_width
        side[dead + ramp_width:] = 1.0
        if flip:
            weights[length - band:] = np.minimum(weights[length - band:], side[::-1])
        else:
            weights[:band] = np.minimum(weights[:band], side)
    return weights


def tile_origins(size: int, tile: int, overlap: int, alignment: int) -> list[int]:
    """Window starts along one axis: aligned, each overlapping the previous by >= overlap."""
    if size <= tile:
        return [0]
    origins, step = [0], max(alignment, (tile - overlap) // alignment * alignment)
    while origins[-1] + tile < size:
        origins.append(min(origins[-1] + step, (size - tile + alignment - 1)
                           // alignment * alignment))
    return origins


def _axis_length(size: int, tiles: int, overlap: int, alignment: int) -> int:
    """The aligned window length that spreads ``tiles`` windows evenly over ``size`` px with
    ``overlap`` px shared between neighbours (the whole axis for one window)."""
    if tiles == 1:
        return size
    return math.ceil((size + (tiles - 1) * overlap) / tiles / alignment) * alignment


def plan_tiles(height: int, width: int, tile: int, overlap: int,
               alignment: int) -> tuple[int, list[int], int, list[int]]:
    """Window height and starts, window width and starts covering a frame with the least
    network work: windows hold at most ``tile``^2 pixels (the memory bound), each axis is
    cut into equal aligned windows, and every count of rows and columns is tried (at 1080p
    the default tiles run 1.69x the frame's pixels instead of 2.28x with square tiles)."""
    def options(size: int) -> list[tuple[int, list[int], int]]:
        found = []
        for count in range(1, size // alignment + 2):
            length = _axis_length(size, count, overlap, alignment)
            if count > 1 and length < overlap + alignment:
                break
            origins = tile_origins(size, length, overlap, alignment)
            work = sum(min(o + length, size) - o for o in origins)
            found.append((length, origins, work))
        return found

    area = tile * tile
    best = None
    for length_y, ys, work_y in options(height):
        for length_x, xs, work_x in options(width):
            padded = (math.ceil(min(length_y, height) / alignment)
                      * math.ceil(min(length_x, width) / alignment) * alignment ** 2)
            if padded > area and (len(ys) > 1 or len(xs) > 1 or height * width > area):
                continue
            key = (work_y * work_x, len(ys) * len(xs))
            if best is None or key < best[0]:
                best = key, (length_y, ys, length_x, xs)
    if best is None:  # not even a smallest window fits: the smallest windows
        length = overlap + alignment
        return (length, tile_origins(height, length, overlap, alignment),
                length, tile_origins(width, length, overlap, alignment))
    return best[1]


class Denoiser:
    """A trained network in a backend (torch or ONNX Runtime) plus what it needs around it:
    ``denoise`` takes and returns numpy arrays; only the backend knows its framework."""

    def __init__(self, backend, config: Config, name: str = "model", digest: str = "",
                 threads: int | None = None) -> None:
        self.backend, self.config = backend, config
        self.name, self.digest, self.threads = name, digest, threads
        self.fallback_path: Path | None = None  # a color-only model for files without features
        self._fallback: Denoiser | None = None
        # model.prefilter_width (torch backend): the prefilter as a stage of its own, run over
        # the whole frame in tiles of its own reach before the color network's tiles (in one
        # network, every color tile would redo it over the sum of both reaches)
        self.prefilter: Denoiser | None = None

    @property
    def device(self):
        return getattr(self.backend, "device", "cpu")

    @property
    def precision(self) -> str:
        return self.backend.precision

    @property
    def model(self):
        """The torch network (torch backend only)."""
        return self.backend.model

    def for_frame(self, frame, path: Path) -> Denoiser:
        """This denoiser, or, when the frame lacks features it needs, the color-only fallback
        (said in a warning); with no fallback, an error naming the Blender passes."""
        missing = [name for name in self.features if getattr(frame, name) is None]
        if not missing:
            return self
        if self.fallback_path is None:
            raise McdenoiseError(
                f"{path}: the model needs the {', '.join(missing)} buffer(s); in Blender enable "
                "View Layer Properties > Passes > Data > Denoising Data")
        if self._fallback is None:
            self._fallback = load_model(self.fallback_path, str(self.device), self.precision,
                                        backend=self.backend.name, threads=self.threads)
        log.warning("%s: no %s buffer: denoised with the bundled color-only model (enable "
                    "Denoising Data in Blender for better results)", path, ", ".join(missing))
        return self._fallback

    @property
    def features(self) -> list[str]:
        return list(self.config.input.features)

    @property
    def ldr(self) -> bool:
        """Trained on LDR images with synthetic noise (PNG / JPEG / TIFF in, values in
        [0, 1]), not on HDR renders."""
        return self.config.data.kind == "images"

    @property
    def blend(self) -> int:
        """Width of the linear cross-fade between neighbouring tiles."""
        return self.backend.geometry.alignment

    @property
    def default_overlap(self) -> int:
        """Shared band between tiles: the receptive field, cross-fade included. A pixel in the
        cross-fade keeps (overlap - blend) / 2 px of context on each side, a little under
        half the receptive field, whose outermost taps weigh next to nothing: for the bundled
        model the tiled output is within 1.2e-7 of the untiled one (tonemapped, field
        scenes at 4 and 64 spp; docs/benchmarks.md, "Tiles and the kernels' softmax")."""
        geometry = self.backend.geometry
        align = geometry.alignment
        return max(2 * align, math.ceil((geometry.receptive_field - self.blend) / align) * align)

    def tile_for_memory(self, max_memory: int) -> int:
        side = math.sqrt(max_memory / self.backend.geometry.bytes_per_pixel)
        align = self.backend.geometry.alignment
        return max(int(side) // align * align, self.default_overlap * 2 + align)

    def _run(self, window: np.ndarray) -> np.ndarray:
        return self.backend.run(window)

    def denoise(self, color: np.ndarray, albedo: np.ndarray | None = None,
                normal: np.ndarray | None = None, depth: np.ndarray | None = None,
                tile: int | None = None, overlap: int | None = None,
                max_memory: int = DEFAULT_MAX_MEMORY) -> np.ndarray:
        """color (H, W, 3) linear HDR; albedo, normal (H, W, 3), depth (H, W) when the model
        uses them. Returns the denoised (H, W, 3) float32 linear HDR, >= 0."""
        stats = frame_stats(color, depth)  # whole frame: every tile sees the same scaling
        network_input = build_input(color, self.config.input, stats, albedo, normal, depth)
        pred = self.run_tiled(network_input, tile, overlap, max_memory)
        out = output_to_linear(pred, stats, self.config.input)
        return np.ascontiguousarray(out.transpose(1, 2, 0), np.float32)

    def run_tiled(self, network_input: np.ndarray, tile: int | None = None,
                  overlap: int | None = None, max_memory: int = DEFAULT_MAX_MEMORY) -> np.ndarray:
        """(C, H, W) network input -> (3, H, W) output, in aligned tiles when it is large."""
        if self.prefilter is not None:
            network_input = self._prefiltered(network_input, max_memory)
        _, height, width = network_input.shape
        align = self.backend.geometry.alignment
        overlap = self.default_overlap if overlap is None else overlap
        tile = tile or self.tile_for_memory(max_memory)
        tile = max(math.ceil(tile / align) * align, overlap + align)
        tile_y, ys, tile_x, xs = plan_tiles(height, width, tile, overlap, align)
        log.debug("network input %dx%d, %dx%d tiles of %dx%d, overlap %d", width, height,
                  len(xs), len(ys), min(tile_x, width), min(tile_y, height), overlap)
        if len(ys) == 1 and len(xs) == 1:
            return self._run(network_input)
        out = None
        total = np.zeros((height, width), np.float32)
        for index_y, y in enumerate(ys):
            for index_x, x in enumerate(xs):
                window = Tile(y, min(y + tile_y, height), x, min(x + tile_x, width))
                pred = self._run(np.ascontiguousarray(
                    network_input[:, window.y0:window.y1, window.x0:window.x1]))
                weight = np.outer(self._axis_weights(ys, index_y, tile_y, height),
                                  self._axis_weights(xs, index_x, tile_x, width))
                if out is None:  # a color, or a prefilter's albedo and normal
                    out = np.zeros((pred.shape[0], height, width), np.float32)
                out[:, window.y0:window.y1, window.x0:window.x1] += pred * weight
                total[window.y0:window.y1, window.x0:window.x1] += weight
        return out / total

    def _prefiltered(self, network_input: np.ndarray, max_memory: int) -> np.ndarray:
        """The input with its albedo and normal (channels 3-8) replaced by the prefilter's,
        clipped as Network.prefiltered clips them (model.prefilter_keep: the rendered ones
        appended last). Where the color network's backend keeps its tiles' memory (ONNX
        Runtime's arena) the prefilter gets half of the activations' budget: 1080p peak 2.4
        GB instead of 3.0, 2 % slower. Torch frees it between the two."""
        share = 2 if self.backend.keeps_memory else 1
        aux = self.prefilter.run_tiled(np.ascontiguousarray(network_input[3:]),
                                       max_memory=max_memory // share)
        cleaned = network_input.copy()
        cleaned[3:6], cleaned[6:9] = np.clip(aux[:3], 0.0, 1.0), np.clip(aux[3:6], -1.0, 1.0)
        if self.config.model.prefilter_keep:
            cleaned = np.concatenate([cleaned, network_input[3:9]])
        return cleaned

    def _axis_weights(self, origins: list[int], index: int, tile: int, size: int) -> np.ndarray:
        start, end = origins[index], min(origins[index] + tile, size)
        before = min(origins[index - 1] + tile, size) - start if index > 0 else 0
        after = end - origins[index + 1] if index + 1 < len(origins) else 0
        return _band_weights(end - start, before, after, self.blend)


def load_model(path: str | Path | None = None, device: str = "auto", precision: str = "auto",
               backend: str = "auto", threads: int | None = None) -> Denoiser:
    """A ready denoiser: ``path`` (a .safetensors model, a training checkpoint or an .onnx
    export), or the bundled default model. ``backend``: ``torch``, ``onnxruntime`` or
    ``auto`` (see choose_backend); ``device`` (torch) auto picks CUDA, then MPS, then the
    CPU; ``precision`` (torch) auto is bf16 on CPUs with native bf16, else fp32
    (device.resolve_precision); ``threads``: CPU threads of either backend."""
    from mcdenoise.backends import BACKENDS, file_digest

    if backend not in BACKENDS:
        raise McdenoiseError(f"unknown backend '{backend}' (one of {', '.join(BACKENDS)})")
    path = Path(path) if path is not None else None
    chosen = choose_backend(backend, device, path)
    if path is None:
        path = default_model_file("default", chosen)
    if not path.is_file():
        raise McdenoiseError(f"{path}: no such model")
    digest = file_digest(path)[:16]
    if path.suffix.lower() == ".onnx":
        if chosen == "torch":
            raise McdenoiseError(f"{path}: an ONNX model runs in the onnxruntime backend")
        denoiser = _onnx_denoiser(path, digest, threads)
    else:
        denoiser = _torch_or_converted(path, chosen, device, precision, digest, threads)
    if denoiser.config.model.task == "aux":
        raise McdenoiseError(f"{path}: this model denoises albedo and normal passes "
                             "(model.task=aux), not a render's color")
    if path.stem == "default" and path.parent == default_model_file("default", chosen).parent:
        color_only = default_model_file("color", chosen)
        if color_only.is_file():
            denoiser.fallback_path = color_only
    return denoiser


def choose_backend(backend: str, device: str, path: Path | None) -> str:
    """``auto``: an ONNX file runs in ONNX Runtime; otherwise torch whenever it is installed
    (on a GPU; on the CPU torch needs 40 % less memory and no conversion of a .safetensors
    model; ONNX Runtime is 1.2-1.3x faster than torch in fp32, torch in bf16, the default on
    CPUs with native bf16, 1.1x faster than ONNX Runtime: docs/benchmarks.md), else ONNX
    Runtime."""
    from mcdenoise.device import torch_available

    if backend != "auto":
        return backend
    if path is not None and path.suffix.lower() == ".onnx":
        return "onnxruntime"
    return "torch" if torch_available() else "onnxruntime"


def default_model_file(name: str, backend: str) -> Path:
    """A bundled model in the form the backend reads: ``.onnx`` beside the ``.safetensors``
    for ONNX Runtime (when shipped), else the ``.safetensors``."""
    import importlib.resources

    folder = Path(str(importlib.resources.files("mcdenoise.weights")))
    onnx = folder / f"{name}.onnx"
    if backend == "onnxruntime" and onnx.is_file():
        return onnx
    return folder / f"{name}.safetensors"


def _onnx_denoiser(path: Path, digest: str, threads: int | None, name: str = "") -> Denoiser:
    from mcdenoise.backends import OnnxBackend, read_onnx_metadata
    from mcdenoise.config import ConfigError

    meta = read_onnx_metadata(path)
    try:
        config = Config.from_saved(meta["config"], source=str(path))
    except ConfigError as exc:
        raise McdenoiseError(f"{path}: its config does not fit this mcdenoise ({exc})") from None
    backend = OnnxBackend(path, meta["geometry"], threads, label=str(path))
    denoiser = Denoiser(backend, config, name or path.stem, digest, threads)
    if meta["prefilter"] is not None:  # model.prefilter_width: its second graph
        prefilter = meta["prefilter"]
        denoiser.prefilter = Denoiser(
            OnnxBackend(prefilter["graph"], prefilter["geometry"], threads,
                        label=f"{path} prefilter", arena=False),
            Config.from_saved(prefilter["config"], source=str(path)),
            f"{denoiser.name} prefilter", digest, threads)
    return denoiser


def _torch_or_converted(path: Path, chosen: str, device: str, precision: str, digest: str,
                        threads: int | None) -> Denoiser:
    """A torch model in the torch backend, or converted to ONNX in memory (needs torch and
    onnx) for ONNX Runtime."""
    from mcdenoise.device import pick_device, torch_available

    if not torch_available():
        raise McdenoiseError(f"{path}: without torch, ONNX Runtime runs .onnx models only "
                             f"(convert it where torch is: mcdenoise export {path.name} "
                             f"-o {path.stem}.onnx)")
    from mcdenoise.checkpoint import load_network

    if chosen == "onnxruntime":
        import tempfile

        from mcdenoise.backends import export_onnx

        if precision not in ("fp32", "auto"):
            raise McdenoiseError("the onnxruntime backend runs fp32 only")
        model, config = load_network(path, "cpu")
        with tempfile.TemporaryDirectory() as folder:
            onnx = export_onnx(model, config.to_dict(), Path(folder) / "model.onnx")
            return _onnx_denoiser(onnx, digest, threads, name=path.stem)
    from mcdenoise.backends import TorchBackend

    torch_device = pick_device(device)
    if threads:
        import torch

        torch.set_num_threads(threads)
    model, config = load_network(path, torch_device)
    prefilter, model.prefilter = model.prefilter, None
    denoiser = Denoiser(TorchBackend(model, torch_device, precision), config, path.stem,
                        digest, threads)
    if prefilter is not None:
        from mcdenoise.model import prefilter_config

        denoiser.prefilter = Denoiser(TorchBackend(prefilter, torch_device, precision),
                                      prefilter_config(config), f"{path.stem} prefilter",
                                      digest, threads)
    return denoiser

