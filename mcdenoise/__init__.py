"""mcdenoise: a Monte Carlo render denoiser trained from noisy renders only (Noise2Noise)."""

__version__ = "0.1.0"


class McdenoiseError(Exception):
    """An expected failure (bad input, missing file, ...) reported to users as one line."""


def publish_mode(path) -> None:
    """Give a file written through mkstemp (0600) the permissions a plain open() would."""
    import os

    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def load_model(path=None, device: str = "auto", precision: str = "fp32"):
    """A ready denoiser (the bundled model by default): ``load_model().denoise(color,
    albedo, normal, depth)`` on numpy arrays (H, W, 3) of linear HDR. See denoise.load_model."""
    from mcdenoise.denoise import load_model as _load

    return _load(path, device=device, precision=precision)
