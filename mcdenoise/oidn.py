"""Intel Open Image Denoise (through `pyoidn`), the yardstick, set up as Blender's "Accurate"
prefilter: albedo and normal are denoised first, then the beauty with clean auxiliaries."""

from __future__ import annotations

import importlib.util
import threading

import numpy as np

from mcdenoise import McdenoiseError

_DEVICE = None
_LOCK = threading.Lock()


def oidn_available() -> bool:
    return importlib.util.find_spec("pyoidn") is not None


def _require() -> None:
    if not oidn_available():
        raise McdenoiseError("Open Image Denoise is not installed: pip install "
                             "'mcdenoise[compare]'")


def _device():
    global _DEVICE
    import pyoidn

    if _DEVICE is None:
        _DEVICE = pyoidn.Device(pyoidn.OIDN_DEVICE_TYPE_CPU)
        _DEVICE.commit()
    return _DEVICE


def _run(inputs: dict[str, np.ndarray], shape: tuple[int, ...], hdr: bool, clean_aux: bool,
         quality: str) -> np.ndarray:
    import pyoidn

    device = _device()
    height, width = shape[:2]
    output = np.zeros((height, width, 3), np.float32)
    with pyoidn.Filter(device, pyoidn.OIDN_FILTER_TYPE_RT) as flt:
        for name, image in inputs.items():
            flt.set_image(name, np.ascontiguousarray(image, np.float32),
                          pyoidn.OIDN_FORMAT_FLOAT3, width, height)
        flt.set_image(pyoidn.OIDN_IMAGE_OUTPUT, output, pyoidn.OIDN_FORMAT_FLOAT3, width, height)
        if "color" in inputs:
            flt.set_bool("hdr", hdr)
            flt.set_bool("cleanAux", clean_aux)
        flt.set_quality({"high": pyoidn.OIDN_QUALITY_HIGH, "balanced":
                         pyoidn.OIDN_QUALITY_BALANCED, "fast": pyoidn.OIDN_QUALITY_FAST}[quality])
        flt.commit()
        flt.execute()
    error = device.get_error()
    if error:
        raise McdenoiseError(f"Open Image Denoise failed: {error}")
    return output


def oidn_denoise(color: np.ndarray, albedo: np.ndarray | None = None,
                 normal: np.ndarray | None = None, quality: str = "high",
                 prefilter: bool = True) -> np.ndarray:
    """color (H, W, 3) linear HDR; albedo in [0, 1], normal in [-1, 1] or None.
    Returns OIDN's denoised (H, W, 3) float32."""
    _require()
    inputs = {"color": np.maximum(color, 0)}
    if albedo is not None:
        albedo, normal = oidn_filter_aux(albedo, normal, quality, prefilter)
        inputs["albedo"] = albedo
        if normal is not None:
            inputs["normal"] = normal
    with _LOCK:
        return _run(inputs, color.shape, True, prefilter and albedo is not None, quality)


def oidn_filter_aux(albedo: np.ndarray, normal: np.ndarray | None, quality: str = "high",
                    prefilter: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """The auxiliary passes as OIDN's "Accurate" prefilter cleans them (clipped to [0, 1]
    and [-1, 1], then denoised by OIDN's albedo and normal filters); clipped only when
    ``prefilter`` is false."""
    _require()
    albedo = np.clip(albedo, 0, 1)
    normal = None if normal is None else np.clip(normal, -1, 1)
    if prefilter:
        with _LOCK:
            albedo = _run({"albedo": albedo}, albedo.shape, False, False, quality)
            if normal is not None:
                normal = _run({"normal": normal}, normal.shape, False, False, quality)
    return albedo, normal
