"""Network backends for inference: PyTorch, and ONNX Runtime (no torch needed).

A backend runs the network on one window: ``run((C, H, W) float32) -> (3, H, W) float32``,
for any H and W (it pads to the network's alignment and crops back), and says what tiling
needs: ``alignment``, ``receptive_field`` and ``bytes_per_pixel``; ``keeps_memory``: its
activations stay allocated between runs (ONNX Runtime's arena). Everything around it
(frame statistics, features, tiles, the output transform) is numpy, in ``denoise.py``.
torch is imported only by the torch backend; onnxruntime only by the ONNX one.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mcdenoise import McdenoiseError

BACKENDS = ("auto", "torch", "onnxruntime")
ONNX_FORMAT = "mcdenoise-onnx-1"


@dataclass(frozen=True)
class Geometry:
    """What tiling needs to know of a network."""

    alignment: int
    receptive_field: int
    bytes_per_pixel: int


def _pad_to(window: np.ndarray, alignment: int) -> tuple[np.ndarray, int, int]:
    _, height, width = window.shape
    pad_h, pad_w = -height % alignment, -width % alignment
    if pad_h or pad_w:  # edge replication, as the network's own padding does
        window = np.pad(window, ((0, 0), (0, pad_h), (0, pad_w)), mode="edge")
    return window, height, width


class TorchBackend:
    """A trained ``Network`` with BatchNorm folded, channels-last, fp32 / bf16 / fp16."""

    name = "torch"
    keeps_memory = False  # its caching allocator hands the memory to the next model

    def __init__(self, model: Any, device: Any, precision: str = "fp32") -> None:
        import torch

        from mcdenoise.device import resolve_precision
        from mcdenoise.model import fuse_batchnorm

        precision = resolve_precision(precision, device.type)
        if precision == "fp16" and device.type == "cpu":
            raise McdenoiseError("--precision fp16 needs a GPU; use bf16 on the CPU")
        # BatchNorm folded into the convolutions (the same output, fewer passes over memory)
        # and channels-last tensors, which oneDNN and cuDNN convolve faster (~15 % on CPU)
        self.model = fuse_batchnorm(model.to(device).eval()).to(
            memory_format=torch.channels_last)
        self.device, self.precision = device, precision
        self.geometry = Geometry(self.model.alignment, self.model.receptive_field,
                                 self.model.bytes_per_pixel)

    def _autocast(self):
        import torch

        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def run(self, window: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(window)[None].to(self.device).contiguous(
                memory_format=torch.channels_last)
            with self._autocast():
                pred = self.model(x)
            return pred[0].float().cpu().numpy()

    def describe(self) -> str:
        return f"torch on {self.device}, {self.precision}"


class OnnxBackend:
    """An ONNX model (exported by ``mcdenoise export``) in ONNX Runtime on the CPU."""

    name = "onnxruntime"

    def __init__(self, model: str | Path | bytes, geometry: Geometry,
                 threads: int | None = None, label: str = "model", arena: bool = True) -> None:
        ort = import_onnxruntime()
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # arena=False: memory goes back when a run ends instead of staying in the session's
        # arena (a prefilter's arena would sit beside the color network's for the whole job)
        options.enable_cpu_mem_arena = self.keeps_memory = arena
        if threads:
            options.intra_op_num_threads = threads
        source = model if isinstance(model, bytes) else str(model)
        try:
            self.session = ort.InferenceSession(source, options,
                                                providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for bad files
            raise McdenoiseError(f"{label}: ONNX Runtime cannot load it "
                                 f"({str(exc).splitlines()[0][:160]})") from None
        self.input_name = self.session.get_inputs()[0].name
        self.geometry = geometry
        self.precision = "fp32"

    def run(self, window: np.ndarray) -> np.ndarray:
        padded, height, width = _pad_to(np.ascontiguousarray(window, np.float32),
                                        self.geometry.alignment)
        out = self.session.run(None, {self.input_name: padded[None]})[0]
        return np.ascontiguousarray(out[0, :, :height, :width], np.float32)

    def describe(self) -> str:
        return "onnxruntime on cpu, fp32"


def import_onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise McdenoiseError("the onnxruntime backend needs ONNX Runtime: pip install "
                             "onnxruntime") from None
    return onnxruntime


def onnx_available() -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec("onnxruntime") is not None
    except (ImportError, ValueError):
        return False


# --- ONNX files: export (needs torch) and metadata (does not) --------------------------------


def export_onnx(model: Any, config_dict: dict, out: str | Path, info: dict | None = None,
                digest: str = "", opset: int = 17) -> Path:
    """Write a network as ONNX with dynamic height and width; its config, geometry, source
    hash and training note go into the model's metadata (``read_onnx_metadata``). Inputs
    must be padded to the alignment (the ONNX backend does it). A model with a prefilter
    (model.prefilter_width) is written as two graphs, so that ONNX Runtime runs them as two
    stages as the torch backend does: the color network is the file's graph, the
    prefilter a second ONNX model inside its metadata (``prefilter``, base64)."""
    from mcdenoise.atomic import write_atomic
    from mcdenoise.config import Config

    config = Config.from_saved(config_dict)
    metadata = {"format": ONNX_FORMAT, "config": json.dumps(config_dict),
                "info": json.dumps(info or {}), "source_sha256": digest}
    prefilter = getattr(model, "prefilter", None)
    if prefilter is not None:
        import base64

        from mcdenoise.model import prefilter_config

        aux = prefilter_config(config)
        graph, geometry = _onnx_graph(prefilter, aux, opset)
        metadata["prefilter"] = base64.b64encode(graph).decode("ascii")
        metadata["prefilter_geometry"] = json.dumps(geometry.__dict__)
        metadata["prefilter_config"] = json.dumps(aux.to_dict())
    model.prefilter = None  # the color network alone (restored below)
    try:
        graph, geometry = _onnx_graph(model, config, opset)
    finally:
        model.prefilter = prefilter
    metadata["geometry"] = json.dumps(geometry.__dict__)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, lambda stream: stream.write(graph + _metadata_props(metadata)))
    return out


def _onnx_graph(model: Any, config: Any, opset: int) -> tuple[bytes, Geometry]:
    """One network (BatchNorm folded) as serialized ONNX, and its tiling geometry."""
    import io

    import torch

    from mcdenoise.features import input_channels
    from mcdenoise.model import fuse_batchnorm

    model = fuse_batchnorm(model.to("cpu").eval())
    align = model.alignment
    channels = input_channels(config.input, config.model.task)
    if getattr(model, "keep_noisy", False):  # model.prefilter_keep: prefiltered, then noisy
        channels += 6
    example = torch.zeros(1, channels, 2 * align, 2 * align)
    buffer = io.BytesIO()
    with warnings_quiet():
        torch.onnx.export(model, (example,), buffer, input_names=["input"],
                          output_names=["output"], opset_version=opset, dynamo=False,
                          dynamic_axes={"input": {2: "height", 3: "width"},
                                        "output": {2: "height", 3: "width"}})
    return buffer.getvalue(), Geometry(align, model.receptive_field, model.bytes_per_pixel)


@contextlib.contextmanager
def warnings_quiet():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _length_delimited(field_number: int, payload: bytes) -> bytes:
    return _varint(field_number << 3 | 2) + _varint(len(payload)) + payload


def _metadata_props(metadata: dict[str, str]) -> bytes:
    """``metadata_props`` entries (ModelProto field 14, StringStringEntryProto key = 1,
    value = 2) to append to a serialized ONNX model: protobuf merges fields appended to a
    message, so no onnx package is needed."""
    return b"".join(
        _length_delimited(14, _length_delimited(1, key.encode()) +
                          _length_delimited(2, value.encode()))
        for key, value in metadata.items())


def read_onnx_metadata(path: str | Path) -> dict[str, Any]:
    """{'config': dict, 'geometry': Geometry, 'info': dict, 'source_sha256': str,
    'prefilter': None or {'graph': bytes, 'geometry': Geometry, 'config': dict}} of an ONNX
    file mcdenoise exported; needs onnxruntime only."""
    ort = import_onnxruntime()
    path = Path(path)
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise McdenoiseError(f"{path}: not a readable ONNX model "
                             f"({str(exc).splitlines()[0][:160]})") from None
    meta = session.get_modelmeta().custom_metadata_map
    if meta.get("format") != ONNX_FORMAT:
        raise McdenoiseError(f"{path}: not an mcdenoise ONNX model (no mcdenoise metadata)")
    out = {"config": json.loads(meta["config"]),
           "geometry": Geometry(**json.loads(meta["geometry"])),
           "info": json.loads(meta.get("info", "{}")),
           "source_sha256": meta.get("source_sha256", ""), "prefilter": None}
    if "prefilter" in meta:  # a second graph: the model's prefilter (export_onnx)
        import base64

        out["prefilter"] = {"graph": base64.b64decode(meta["prefilter"]),
                            "geometry": Geometry(**json.loads(meta["prefilter_geometry"])),
                            "config": json.loads(meta["prefilter_config"])}
    return out


def file_digest(path: Path) -> str:
    """SHA-256 of a file (a model's identity in outputs' headers and ONNX metadata)."""
    import hashlib

    hasher = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            hasher.update(block)
    return hasher.hexdigest()
