"""mcdenoise: a Monte Carlo render denoiser trained from noisy renders only (Noise2Noise)."""

__version__ = "0.1.0"


class McdenoiseError(Exception):
    """An expected failure (bad input, missing file, ...) reported to users as one line."""


def load_model(path=None, device: str = "auto", precision: str = "auto", backend: str = "auto"):
    """A ready denoiser (the bundled model by default): ``load_model().denoise(color,
    albedo, normal, depth)`` on numpy arrays (H, W, 3) of linear HDR; ``backend`` torch,
    onnxruntime or auto; ``precision`` auto (bf16 on CPUs with AVX-512 BF16 or AMX, else
    fp32), fp32, bf16 or fp16 (GPU). See denoiser.load_model."""
    from mcdenoise.denoiser import load_model as _load

    return _load(path, device=device, precision=precision, backend=backend)
