"""Synthetic noise for LDR training images, after Noise2Noise (Lehtinen et al. 2018, §3.2)."""

from __future__ import annotations

import functools
import math
import string
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from mcdenoise import McdenoiseError

KINDS = ("clean", "gaussian", "poisson", "bernoulli", "text", "impulse")

# What the strength of each kind means, and its upper bound (None: unbounded).
_STRENGTHS: dict[str, tuple[str, float | None]] = {
    "gaussian": ("sigma (0-255 scale)", None),
    "poisson": ("lambda", None),
    "bernoulli": ("drop probability", 1.0),
    "text": ("occupancy in percent", 100.0),
    "impulse": ("occupancy in percent", 100.0),
}

# A drawn lambda of exactly 0 (possible with "poisson,0,50", the paper's training range)
# would divide by zero; this floor stands for "as noisy as it gets".
_MIN_LAMBDA = 1e-3

# Text overlay: strings stop once the covered fraction is within this of the target.
_TEXT_TOLERANCE = 0.01
_TEXT_MAX_TRIES = 400  # bounds the loop on tiny images where no string fits the tolerance
_TEXT_MAX_CHARS = 16
_TEXT_CHARS = string.ascii_letters + string.digits + string.punctuation
# Font sizes in pixels, the same whatever the image size: a network trained on small crops
# then meets text of the same scale on whole images (sizes relative to the image made the
# validation text 4x larger than the training text of 64 px crops)
_TEXT_FONT_SIZES = (10, 28)


class NoiseError(McdenoiseError):
    """A noise spec that cannot be used; the message says what is wrong and what is accepted."""


def _format_number(value: float) -> str:
    # repr keeps every digit, so str(spec) parses back to the same floats.
    return str(int(value)) if value.is_integer() else repr(value)


@dataclass(frozen=True)
class NoiseSpec:
    """A noise kind and the range its strength is drawn from, uniformly, once per image.

    Units: gaussian sigma on the 0-255 scale; poisson lambda; bernoulli drop probability
    in [0, 1]; text and impulse occupancy in percent. ``clean`` has no strength.
    """

    kind: str
    low: float = 0.0
    high: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "high", float(self.high))
        if self.kind not in KINDS:
            raise NoiseError(f"unknown noise kind {self.kind!r}; expected one of: "
                             f"{', '.join(KINDS)}")
        if self.kind == "clean":
            if self.low != 0 or self.high != 0:
                raise NoiseError("noise kind 'clean' takes no strength; write just 'clean'")
            return
        what, upper = _STRENGTHS[self.kind]
        where = f"noise spec '{self}'"
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise NoiseError(f"{where}: {what} must be a finite number")
        if self.low < 0:
            raise NoiseError(f"{where}: {what} must be >= 0, got {self.low:g}")
        if self.low > self.high:
            raise NoiseError(f"{where}: min {self.low:g} is greater than max {self.high:g}; "
                             f"write {self.kind},MIN,MAX with MIN <= MAX")
        if upper is not None and self.high > upper:
            raise NoiseError(f"{where}: {what} must be in [0, {upper:g}], got {self.high:g}")
        if self.kind == "poisson" and self.high == 0:
            raise NoiseError(f"{where}: lambda must be > 0 (smaller lambda is noisier)")

    @classmethod
    def parse(cls, text: str) -> NoiseSpec:
        """Read ``kind,min,max``, ``kind,value`` or ``clean`` (spaces and case ignored)."""
        fields = [field.strip() for field in text.split(",")]
        kind = fields[0].lower()
        if not text.strip():
            raise NoiseError(f"empty noise spec; expected KIND,MIN,MAX, KIND,VALUE or clean, "
                             f"KIND one of: {', '.join(KINDS)}")
        if kind not in KINDS:
            raise NoiseError(f"unknown noise kind {fields[0]!r} in {text!r}; expected one of: "
                             f"{', '.join(KINDS)}")
        if kind == "clean":
            if len(fields) != 1:
                raise NoiseError(f"noise spec {text!r}: clean takes no values; write just 'clean'")
            return cls("clean")
        if len(fields) not in (2, 3):
            raise NoiseError(f"noise spec {text!r} has {len(fields) - 1} values; "
                             f"expected {kind},MIN,MAX or {kind},VALUE")
        values = []
        for field in fields[1:]:
            try:
                values.append(float(field))
            except ValueError:
                raise NoiseError(f"noise spec {text!r}: {field!r} is not a number; "
                                 f"expected {kind},MIN,MAX or {kind},VALUE") from None
        return cls(kind, values[0], values[-1])

    def __str__(self) -> str:
        if self.kind == "clean":
            return "clean"
        if self.low == self.high:
            return f"{self.kind},{_format_number(self.low)}"
        return f"{self.kind},{_format_number(self.low)},{_format_number(self.high)}"

    def fixed(self, value: float | None = None) -> NoiseSpec:
        """The same kind at one strength (default: the midpoint), e.g. for validation images.

        ``clean`` is returned unchanged.
        """
        if self.kind == "clean":
            return self
        value = (self.low + self.high) / 2 if value is None else float(value)
        return NoiseSpec(self.kind, value, value)


def apply_noise(image: np.ndarray, spec: NoiseSpec,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
    """Corrupt one image with a strength drawn uniformly from ``[spec.low, spec.high]``.

    ``image`` is (H, W, 3) float in [0, 1] (any H, W). Returns ``(noisy, mask)``: noisy is a
    new (H, W, 3) float32 array, not clipped (clipping would bias zero-mean noise); mask is
    (H, W, 1) float32, 1 where the pixel was kept and 0 where dropped, for bernoulli only,
    else None. The result depends only on the image, the spec and the state of ``rng``.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"apply_noise expects an (H, W, 3) image, got shape {image.shape}")
    if spec.kind == "clean":
        return image.copy(), None
    strength = float(rng.uniform(spec.low, spec.high))
    return _NOISERS[spec.kind](image, strength, rng)


def _add_gaussian(image: np.ndarray, sigma: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, None]:
    noise = rng.standard_normal(image.shape, dtype=np.float32)
    return image + noise * np.float32(sigma / 255), None


def _add_poisson(image: np.ndarray, lam: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, None]:
    # N2N §3.2: photon counts with mean lam * x, scaled back so the mean is x, variance x / lam.
    lam = max(lam, _MIN_LAMBDA)
    counts = rng.poisson(lam * np.maximum(image, 0).astype(np.float64))
    return (counts / lam).astype(np.float32), None


def _add_bernoulli(image: np.ndarray, drop_probability: float,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    height, width = image.shape[:2]
    kept = rng.random((height, width, 1), dtype=np.float32) >= drop_probability
    mask = kept.astype(np.float32)  # (H, W, 1), broadcast over the colour channels
    return image * mask, mask


def _add_impulse(image: np.ndarray, occupancy: float,
                 rng: np.random.Generator) -> tuple[np.ndarray, None]:
    height, width = image.shape[:2]
    replaced = rng.random((height, width, 1), dtype=np.float32) < occupancy / 100
    values = rng.random(image.shape, dtype=np.float32)
    return np.where(replaced, values, image), None


@functools.lru_cache(maxsize=64)
def load_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError, ImportError):  # Pillow < 10.1, or built without FreeType
        return ImageFont.load_default()


def _render_string(rng: np.random.Generator, font_sizes: tuple[int, int],
                   max_chars: int) -> np.ndarray:
    """A random string as a (h, w) bool mask of its glyph pixels, cropped to its bounding box."""
    size = int(rng.integers(font_sizes[0], font_sizes[1] + 1))
    length = int(rng.integers(1, max_chars + 1))
    text = "".join(_TEXT_CHARS[i] for i in rng.integers(0, len(_TEXT_CHARS), length))
    font = load_font(size)
    left, top, right, bottom = font.getbbox(text)
    if right <= left or bottom <= top:
        return np.zeros((0, 0), dtype=bool)
    # Mode "1" draws without anti-aliasing, so every text pixel fully replaces the image.
    canvas = Image.new("1", (int(right - left), int(bottom - top)))
    ImageDraw.Draw(canvas).text((-left, -top), text, font=font, fill=1)
    return np.asarray(canvas, dtype=bool)


def _add_text(image: np.ndarray, occupancy: float,
              rng: np.random.Generator) -> tuple[np.ndarray, None]:
    """Random strings in random sizes, colours and places until ``occupancy`` % is covered."""
    height, width = image.shape[:2]
    noisy = image.copy()
    covered = np.zeros((height, width), dtype=bool)
    target = occupancy / 100 * covered.size
    tolerance = max(1.0, _TEXT_TOLERANCE * covered.size)  # in pixels
    largest = max(6, min(_TEXT_FONT_SIZES[1], min(height, width)))
    font_sizes = (min(_TEXT_FONT_SIZES[0], largest), largest)
    count, max_chars = 0, _TEXT_MAX_CHARS
    for _ in range(_TEXT_MAX_TRIES):
        if count >= target:
            break
        glyphs = _render_string(rng, font_sizes, max_chars)
        colour = rng.random(3, dtype=np.float32)
        glyph_h, glyph_w = glyphs.shape
        # Strings may hang over any edge, so border pixels are covered as often as others.
        y = int(rng.integers(1 - glyph_h, height)) if glyph_h else 0
        x = int(rng.integers(1 - glyph_w, width)) if glyph_w else 0
        y0, y1, x0, x1 = max(y, 0), min(y + glyph_h, height), max(x, 0), min(x + glyph_w, width)
        if y1 <= y0 or x1 <= x0:
            continue
        region = glyphs[y0 - y:y1 - y, x0 - x:x1 - x]
        added = int(np.count_nonzero(region & ~covered[y0:y1, x0:x1]))
        if count + added > target + tolerance:
            if count >= target - tolerance:
                break
            max_chars = max(1, max_chars // 2)  # near the target, try shorter strings
            continue
        covered[y0:y1, x0:x1] |= region
        noisy[y0:y1, x0:x1][region] = colour
        count += added
    return noisy, None


_NOISERS: dict[str, Callable[[np.ndarray, float, np.random.Generator],
                             tuple[np.ndarray, np.ndarray | None]]] = {
    "gaussian": _add_gaussian,
    "poisson": _add_poisson,
    "bernoulli": _add_bernoulli,
    "text": _add_text,
    "impulse": _add_impulse,
}
