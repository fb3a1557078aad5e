"""mcdenoise: a Monte Carlo render denoiser trained from noisy renders only (Noise2Noise)."""

__version__ = "0.1.0"


class McdenoiseError(Exception):
    """An expected failure (bad input, missing file, ...) reported to users as one line."""
