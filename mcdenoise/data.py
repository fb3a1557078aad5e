"""Training data: discovery and pairing of renders, a float16 decode cache, crops, augmentation.

Monte Carlo sets follow ``DATASET/<scene>/<scene>_<spp:04d>spp_s<seed:03d>.exr`` with an
optional ``<scene>_ref.exr``. Two renders of one scene with equal spp and different seeds
are a Noise2Noise pair (``data.target_spp``: the target at another spp, e.g. 64 spp
targets for 4 and 16 spp inputs; still another seed, never a reference). Every EXR is
decoded once into a memory-mapped float16 array, so training reads crops, never EXRs.
Randomness is a pure function of (seed, sample index): a resumed run draws exactly the
crops an uninterrupted one would have.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from mcdenoise import McdenoiseError
from mcdenoise.atomic import write_atomic, write_text_atomic
from mcdenoise.config import Config
from mcdenoise.features import FrameStats, build_input, frame_stats, normalise_depth
from mcdenoise.ldr import LDR_SUFFIXES, read_ldr

log = logging.getLogger(__name__)

RENDER_NAME = re.compile(r"^(?P<scene>.+)_(?P<spp>\d+)spp_s(?P<seed>\d+)\.exr$", re.IGNORECASE)
CACHE_VERSION = 1
# Cached planes: color x exposure (3), albedo (3), normal (3), depth in [0, 1] (1).
PLANES = {"color": slice(0, 3), "albedo": slice(3, 6), "normal": slice(6, 9),
          "depth": slice(9, 10)}
IMAGE_SUFFIXES = LDR_SUFFIXES  # what trains is what denoises


class DataError(McdenoiseError):
    """A data set that cannot be trained on; the message names the files."""


@dataclass(frozen=True)
class Render:
    path: Path
    scene: str
    spp: int  # 0 for the reference
    seed: int  # -1 for the reference


def find_renders(root: str | Path, spp: Sequence[int] = ()) -> dict[str, list[Render]]:
    """scene -> its renders (noisy ones sorted by spp and seed, the reference last).
    ``root`` may name several folders separated by commas (data sets used together); a
    scene name may then appear in one of them only."""
    if "," in str(root):
        merged: dict[str, list[Render]] = {}
        for folder in (p.strip() for p in str(root).split(",") if p.strip()):
            for scene, renders in find_renders(folder, spp).items():
                if scene in merged:
                    raise DataError(f"scene '{scene}' is in {merged[scene][0].path.parent.parent}"
                                    f" and in {folder}: scene names must differ")
                merged[scene] = renders
        return merged
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such data folder")
    scenes: dict[str, list[Render]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        renders = []
        for path in sorted(folder.glob("*.exr")):
            match = RENDER_NAME.match(path.name)
            if match and match["scene"] == folder.name:
                if not spp or int(match["spp"]) in spp:
                    renders.append(Render(path, folder.name, int(match["spp"]),
                                          int(match["seed"])))
            elif path.name == f"{folder.name}_ref.exr":
                renders.append(Render(path, folder.name, 0, -1))
        renders.sort(key=lambda r: (r.seed < 0, r.spp, r.seed))
        if renders:
            scenes[folder.name] = renders
    if not scenes:
        raise DataError(f"{root}: no renders found (expected <scene>/<scene>_<spp>spp_s<seed>.exr)")
    return scenes


def make_pairs(scenes: dict[str, list[Render]], target: str, spp: Sequence[int] = (),
               target_spp: Sequence[int] = ()) -> list[tuple[Render, Render]]:
    """(input, target) pairs: the input is a noisy render at one of ``spp`` (all if empty); the
    target another seed at the same spp, or at one of ``target_spp`` when given (noisy), the
    reference (clean), or both. Targets always come from another seed: renders with one seed
    may share their first samples whatever their spp, so their noise need not be independent.
    A scene without a pair is left out with a warning (a set still rendering has some); with
    none anywhere, the first one's problem is the error."""
    pairs, lacking = [], []
    for scene, renders in scenes.items():
        noisy = [r for r in renders if r.seed >= 0]
        inputs = [r for r in noisy if not spp or r.spp in spp]
        reference = next((r for r in renders if r.seed < 0), None)
        found = []
        if target in ("noisy", "both"):
            found += [(a, b) for a in inputs for b in noisy if a.seed != b.seed
                      and (b.spp in target_spp if target_spp else b.spp == a.spp)]
        if target in ("clean", "both") and reference is not None:
            found += [(a, reference) for a in inputs]
        if not found:
            names = ", ".join(r.path.name for r in renders)
            counts = "/".join(str(n) for n in target_spp)
            two = (f"a render at {counts} spp with another seed than an input" if target_spp
                   else "two seeds at the same spp")
            need = (two if target == "noisy"
                    else "a reference <scene>_ref.exr" if target == "clean"
                    else f"{two} or a reference")
            lacking.append(f"scene '{scene}' has no training pair ({names}): it needs {need}")
        pairs += found
    if not pairs and lacking:
        raise DataError(lacking[0])
    if lacking:
        log.warning("%d of %d scenes left out (still rendering?): %s", len(lacking),
                    len(scenes), lacking[0] + (" ..." if len(lacking) > 1 else ""))
    return pairs


# --- the decode cache --------------------------------------------------------------------------

@dataclass(frozen=True)
class Cached:
    """One decoded render: (10, H, W) float16 planes and its whole-frame statistics."""

    array: Path
    exposure: float
    features: tuple[str, ...]
    height: int
    width: int


def _cache_key(path: Path) -> str:
    status = path.stat()
    text = f"{CACHE_VERSION}|{path.resolve()}|{status.st_size}|{status.st_mtime_ns}"
    return hashlib.sha1(text.encode()).hexdigest()[:20]


def cache_render(path: Path, cache_dir: Path) -> Cached:
    """Decode an EXR once into ``cache_dir`` (reused while the file is unchanged)."""
    from mcdenoise.frame import load_frame

    key = _cache_key(path)
    array, meta_path = cache_dir / f"{key}.npy", cache_dir / f"{key}.json"
    if array.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        return Cached(array, meta["exposure"], tuple(meta["features"]), meta["height"],
                      meta["width"])
    frame = load_frame(path)
    stats = frame_stats(frame.color, frame.depth)
    planes = np.zeros((10, frame.height, frame.width), np.float16)
    half_max = float(np.finfo(np.float16).max)
    planes[PLANES["color"]] = np.clip(frame.color * stats.exposure, 0, half_max).transpose(2, 0, 1)
    features = []
    for name in ("albedo", "normal"):
        value = getattr(frame, name)
        if value is not None:
            planes[PLANES[name]] = value.transpose(2, 0, 1)
            features.append(name)
    if frame.depth is not None:
        planes[9] = normalise_depth(frame.depth, stats.depth_scale)
        features.append("depth")
    cache_dir.mkdir(parents=True, exist_ok=True)
    meta = {"source": str(path), "exposure": stats.exposure, "features": features,
            "height": frame.height, "width": frame.width}
    _atomic_save(array, planes)
    # several processes (torchrun ranks, data-loader workers) may cache the same file at once
    write_text_atomic(meta_path, json.dumps(meta))
    return Cached(array, stats.exposure, tuple(features), frame.height, frame.width)


def _atomic_save(path: Path, array: np.ndarray) -> None:
    write_atomic(path, lambda stream: np.save(stream, array))


def augment(planes: np.ndarray, code: int, normal: slice | None) -> np.ndarray:
    """One of the 8 flips/rotations of (C, H, W) planes; normals turn with the image.

    Camera-space normals have x right, y up: a horizontal flip negates x, and turning the
    picture 90 degrees counter-clockwise maps (x, y) to (-y, x)."""
    out = planes[:, :, ::-1] if code >= 4 else planes
    if normal is not None and code >= 4:
        out = out.copy()
        out[normal.start] *= -1
    turns = code % 4
    out = np.rot90(out, turns, axes=(1, 2))
    if normal is not None and turns:
        out = out.copy()
        x, y = out[normal.start].copy(), out[normal.start + 1].copy()
        for _ in range(turns):
            x, y = -y, x
        out[normal.start], out[normal.start + 1] = x, y
    return np.ascontiguousarray(out)


# --- Monte Carlo data sets ---------------------------------------------------------------------

class _Planes:
    """Memory-mapped cache arrays, opened lazily in each DataLoader worker."""

    def __init__(self) -> None:
        self._open: dict[Path, np.ndarray] = {}

    def __call__(self, cached: Cached) -> np.ndarray:
        if cached.array not in self._open:
            self._open[cached.array] = np.load(cached.array, mmap_mode="r")
        return self._open[cached.array]

    def __getstate__(self) -> dict:  # workers reopen their own maps
        return {"_open": {}}


def _target_planes(config: Config) -> tuple[slice, slice | None]:
    """Which cached planes a target is (the color; model.task=aux: albedo and normal), and
    where the normal sits among them (it turns with the picture)."""
    if config.model.task == "aux":
        return slice(3, 9), slice(3, 6)
    return PLANES["color"], None


def _mc_sample(source: np.ndarray, target_color: np.ndarray, src: Cached, dst: Cached,
               config: Config) -> dict[str, torch.Tensor]:
    """Network input and exposure-scaled linear target from cached float32 planes
    (model.task=aux: the feature passes, and the target's albedo and normal as they are)."""
    def hwc(name: str) -> np.ndarray:
        return source[PLANES[name]].transpose(1, 2, 0)

    if config.model.task == "aux":
        network_input = build_input(None, config.input, FrameStats(), hwc("albedo"),
                                    hwc("normal"), source[9], depth_normalised=True)
        noisy, target = source[_target_planes(config)[0]].copy(), target_color.copy()
        for planes in (noisy, target):
            planes[:3] = np.clip(planes[:3], 0.0, 1.0)
            planes[3:] = np.clip(planes[3:], -1.0, 1.0)
        return {"input": torch.from_numpy(network_input), "target": torch.from_numpy(target),
                "noisy": torch.from_numpy(noisy), "scale": torch.tensor(1.0)}

    color = hwc("color") / src.exposure
    network_input = build_input(color, config.input, FrameStats(src.exposure), hwc("albedo"),
                                hwc("normal"), source[9], depth_normalised=True)
    scale = src.exposure if config.input.exposure else 1.0
    return {"input": torch.from_numpy(network_input),
            "target": torch.from_numpy(np.ascontiguousarray(target_color / dst.exposure * scale)),
            "noisy": torch.from_numpy(np.ascontiguousarray(source[:3] / src.exposure * scale)),
            "scale": torch.tensor(scale, dtype=torch.float32)}


class RenderPairs(Dataset):
    """Random crops of Noise2Noise (or clean-target) pairs; sample ``i`` is a pure function of
    (seed, i): pair, crop position and one of 8 flips/rotations, the same for both sides."""

    def __init__(self, pairs: list[tuple[Render, Render]], cached: dict[Path, Cached],
                 config: Config, length: int) -> None:
        self.pairs, self.cached, self.config, self.length = pairs, cached, config, length
        self.planes = _Planes()

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.config.train.seed, index])
        src_render, dst_render = self.pairs[rng.integers(len(self.pairs))]
        src, dst = self.cached[src_render.path], self.cached[dst_render.path]
        crop = self.config.data.crop
        y, x = rng.integers(0, src.height - crop + 1), rng.integers(0, src.width - crop + 1)
        code = int(rng.integers(8))
        window = (slice(None), slice(y, y + crop), slice(x, x + crop))
        source = augment(np.asarray(self.planes(src)[window], np.float32), code, PLANES["normal"])
        planes, normal = _target_planes(self.config)
        target = augment(np.asarray(self.planes(dst)[planes, y:y + crop, x:x + crop],
                                    np.float32), code, normal)
        return _mc_sample(source, target, src, dst, self.config)


class RenderFrames(Dataset):
    """Whole validation frames: input render and its reference (or another seed)."""

    def __init__(self, pairs: list[tuple[Render, Render]], cached: dict[Path, Cached],
                 config: Config) -> None:
        self.pairs, self.cached, self.config = pairs, cached, config
        self.planes = _Planes()

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        src, dst = (self.cached[r.path] for r in self.pairs[index])
        source = np.asarray(self.planes(src), np.float32)
        target = np.asarray(self.planes(dst)[_target_planes(self.config)[0]], np.float32)
        return _mc_sample(source, target, src, dst, self.config)


def _check_pairs(pairs: list[tuple[Render, Render]], cached: dict[Path, Cached],
                 config: Config) -> None:
    needed = set(config.input.features)
    for src, dst in pairs:
        a, b = cached[src.path], cached[dst.path]
        if (a.height, a.width) != (b.height, b.width):
            raise DataError(f"renders of scene '{src.scene}' differ in size: {src.path} is "
                            f"{a.width}x{a.height}, {dst.path} is {b.width}x{b.height}")
        checked = [(src, a), (dst, b)] if config.model.task == "aux" else [(src, a)]
        for render, planes in checked:  # an aux target is the other render's features
            missing = sorted(needed - set(planes.features))
            if missing:
                raise DataError(f"{render.path}: lacks the {', '.join(missing)} buffer(s) the "
                                "config asks for (input.features)")


def _cache_all(renders: list[Render], cache_dir: Path) -> dict[Path, Cached]:
    from tqdm import tqdm

    unique = sorted({r.path for r in renders})
    todo = [p for p in unique if not is_cached(p, cache_dir)]
    progress = tqdm(todo, desc="decoding EXRs", unit="file", disable=len(todo) < 8,
                    leave=False)
    for path in progress:  # a bar only while there is decoding to do
        cache_render(path, cache_dir)
    return {path: cache_render(path, cache_dir) for path in unique}


def is_cached(path: Path, cache_dir: Path) -> bool:
    key = _cache_key(path)
    return (cache_dir / f"{key}.npy").exists() and (cache_dir / f"{key}.json").exists()


def _validation_pairs(scenes: dict[str, list[Render]], limit: int) -> list[tuple[Render, Render]]:
    pairs = []
    for renders in scenes.values():
        noisy = [r for r in renders if r.seed >= 0]
        reference = next((r for r in renders if r.seed < 0), None)
        partner = reference or next((r for r in noisy[1:] if r.spp == noisy[0].spp), None)
        if noisy and partner is not None:
            pairs.append((noisy[0], partner))
    return pairs[:limit]


def build_mc_datasets(config: Config, length: int) -> tuple[Dataset, Dataset | None]:
    """Training crops and validation frames for rendered EXR data; all files are decoded
    (and checked) before training starts."""
    data = config.data
    first_folder = data.path.split(",")[0].strip()
    cache_dir = Path(data.cache_dir or Path(first_folder) / ".mcdenoise-cache")
    if data.target_spp and data.target == "clean":
        raise DataError("data.target_spp picks noisy targets; it does nothing with --target clean")
    wanted = sorted(set(data.spp) | set(data.target_spp)) if data.spp else []
    scenes = find_renders(data.path, wanted)
    pairs = make_pairs(scenes, data.target, data.spp, data.target_spp)
    val_pairs = []
    if data.val_path:
        val_pairs = _validation_pairs(find_renders(data.val_path, data.spp), data.val_images)
        if not val_pairs:
            raise DataError(f"{data.val_path}: no validation pair (a reference or two seeds)")
    cached = _cache_all([r for pair in pairs + val_pairs for r in pair], cache_dir)
    _check_pairs(pairs + val_pairs, cached, config)
    smallest = min(min(c.height, c.width) for c in cached.values())
    if data.crop > smallest:
        raise DataError(f"crop {data.crop} is larger than the smallest render ({smallest} px)")
    val = RenderFrames(val_pairs, cached, config) if val_pairs else None
    return RenderPairs(pairs, cached, config, length), val


# --- LDR image folders with synthetic noise ------------------------------------------------------

def find_images(root: str | Path) -> list[Path]:
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such image folder")
    images = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
                    and ".mcdenoise-cache" not in p.parts)
    if not images:
        raise DataError(f"{root}: no images found ({', '.join(IMAGE_SUFFIXES)})")
    return images


def cache_image(path: Path, cache_dir: Path) -> Path:
    """Decode an image once to a (H, W, 3) uint8 array in ``cache_dir``, with the decoder
    that denoising uses (``ldr.read_ldr``)."""
    array_path = cache_dir / f"{_cache_key(path)}.npy"
    if array_path.exists():
        return array_path
    try:
        color = read_ldr(path).color
    except McdenoiseError as exc:
        raise DataError(str(exc)) from None
    pixels = np.clip(np.rint(color * 255.0), 0, 255).astype(np.uint8)
    cache_dir.mkdir(parents=True, exist_ok=True)
    _atomic_save(array_path, np.ascontiguousarray(pixels))
    return array_path


def _image_sample(clean: np.ndarray, noisy: np.ndarray, target: np.ndarray,
                  mask: np.ndarray | None, config: Config) -> dict[str, torch.Tensor]:
    network_input = build_input(noisy, config.input, FrameStats())
    mask = np.ones(clean.shape[:2] + (1,), np.float32) if mask is None else mask
    def chw(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1), dtype=np.float32))
    return {"input": torch.from_numpy(network_input), "target": chw(target),
            "noisy": chw(noisy), "mask": chw(mask), "scale": torch.tensor(1.0)}


class NoisyImages(Dataset):
    """Random crops of clean images with independent source and target noise (N2N §3.2)."""

    def __init__(self, arrays: list[Path], config: Config, length: int) -> None:
        from mcdenoise.noise import NoiseSpec

        self.arrays, self.config, self.length = arrays, config, length
        self.noise = NoiseSpec.parse(config.data.noise)
        self.target_noise = NoiseSpec.parse(config.data.target_noise)
        self.planes: dict[Path, np.ndarray] = {}

    def __len__(self) -> int:
        return self.length

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "planes": {}}

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        from mcdenoise.noise import apply_noise

        rng = np.random.default_rng([self.config.train.seed, index])
        path = self.arrays[rng.integers(len(self.arrays))]
        image = self.planes.setdefault(path, np.load(path, mmap_mode="r"))
        crop = self.config.data.crop
        y = rng.integers(0, image.shape[0] - crop + 1)
        x = rng.integers(0, image.shape[1] - crop + 1)
        window = np.asarray(image[y:y + crop, x:x + crop], np.float32).transpose(2, 0, 1) / 255.0
        clean = augment(window, int(rng.integers(8)), None).transpose(1, 2, 0)
        if self.config.data.color_augment:  # colours a small photo set lacks
            gains = rng.uniform(0.4, 1.0, 3).astype(np.float32)
            clean = np.ascontiguousarray(clean[..., rng.permutation(3)] * gains)
        noisy, _ = apply_noise(clean, self.noise, rng)
        target, mask = apply_noise(clean, self.target_noise, rng)
        return _image_sample(clean, noisy, target, mask, self.config)


class NoisyImageFrames(Dataset):
    """Validation: whole images (centre crop of at most ``data.val_crop`` px) with fixed
    noise per image (the same in every run), against the clean image."""

    def __init__(self, arrays: list[Path], config: Config) -> None:
        from mcdenoise.noise import NoiseSpec

        spec = NoiseSpec.parse(config.data.val_noise)
        self.spec = spec if spec.low == spec.high else spec.fixed()
        self.arrays, self.config = arrays, config

    def __len__(self) -> int:
        return len(self.arrays)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        from mcdenoise.noise import apply_noise

        image = np.load(self.arrays[index])
        height, width = (min(s, self.config.data.val_crop) for s in image.shape[:2])
        top, left = (image.shape[0] - height) // 2, (image.shape[1] - width) // 2
        clean = image[top:top + height, left:left + width].astype(np.float32) / 255.0
        noisy, _ = apply_noise(clean, self.spec, np.random.default_rng([2018, index]))
        return _image_sample(clean, noisy, clean, None, self.config)


def build_image_datasets(config: Config, length: int) -> tuple[Dataset, Dataset | None]:
    data = config.data
    cache_dir = Path(data.cache_dir or Path(data.path) / ".mcdenoise-cache")
    arrays = [cache_image(p, cache_dir) for p in find_images(data.path)]
    held_out: list[Path] = []
    if data.holdout and not data.val_path:
        if data.holdout >= len(arrays):
            raise DataError(f"{data.path}: {len(arrays)} image(s), so none is left to train on "
                            f"after holding out {data.holdout} for validation")
        arrays, held_out = arrays[:-data.holdout], arrays[-data.holdout:]
    usable = [a for a in arrays if min(np.load(a, mmap_mode="r").shape[:2]) >= data.crop]
    if not usable:
        raise DataError(f"{data.path}: no image is at least {data.crop} px on each side (crop)")
    if len(usable) < len(arrays):
        log.warning("%d image(s) smaller than the crop (%d px) are skipped",
                    len(arrays) - len(usable), data.crop)
    val = NoisyImageFrames(held_out[: data.val_images], config) if held_out else None
    if data.val_path:
        val_cache = Path(data.cache_dir or Path(data.val_path) / ".mcdenoise-cache")
        val_arrays = [cache_image(p, val_cache) for p in find_images(data.val_path)]
        val = NoisyImageFrames(val_arrays[: data.val_images], config)
    return NoisyImages(usable, config, length), val


def build_datasets(config: Config, length: int) -> tuple[Dataset, Dataset | None]:
    """(training set of ``length`` samples, validation set or None) for the config."""
    if config.data.kind == "images":
        return build_image_datasets(config, length)
    return build_mc_datasets(config, length)
