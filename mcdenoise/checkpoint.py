"""Saving and safely loading models and training state (never unpickling arbitrary objects).

A checkpoint is a dict of tensors and plain values, loaded with ``weights_only=True``: the
model weights, the full resolved config (so inference needs nothing else), and for training
checkpoints the optimizer, scheduler, step and random states.
"""

from __future__ import annotations

import pickle
import random
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mcdenoise import McdenoiseError
from mcdenoise.atomic import remove_stale_temporaries, replacing
from mcdenoise.config import Config, ConfigError

FORMAT = "mcdenoise-checkpoint-1"


class CheckpointError(McdenoiseError):
    """A checkpoint that is missing, damaged, unsafe or not an mcdenoise checkpoint."""


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch random states as tensors and plain values."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {"python": random.getstate(),
             "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
             "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: str | Path, model: torch.nn.Module, config: Config,
                    **state: Any) -> None:
    """Write atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "config": config.to_dict(),
               "model": {k: v.detach().cpu() for k, v in model.state_dict().items()}, **state}
    remove_stale_temporaries(path)  # what a killed run left
    with replacing(path) as temporary:
        torch.save(payload, temporary)


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """The checkpoint's dict; raises CheckpointError for anything but a safe mcdenoise file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    if not zipfile.is_zipfile(path):  # torch.save writes zip archives
        raise CheckpointError(f"{path}: not an mcdenoise checkpoint (not a PyTorch file)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
        raise CheckpointError(f"{path}: refused to load (not a plain-weights checkpoint: "
                              f"{first})") from None
    except Exception as exc:  # torch raises many types for damaged files
        raise CheckpointError(f"{path}: cannot be read ({type(exc).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not an mcdenoise checkpoint")
    return payload


def load_network(path: str | Path, device: str | torch.device = "cpu"):
    """(network in eval mode, its config) from a checkpoint or a shipped model."""
    from mcdenoise.model import build_model

    weights, config_dict, _ = load_weights(path)
    broken = sorted(name for name, value in weights.items()
                    if value.is_floating_point() and not torch.isfinite(value).all())
    if broken:
        raise CheckpointError(f"{path}: {len(broken)} weight tensor(s) hold NaN or Inf values "
                              f"(first: {broken[0]}): a diverged training run or a damaged "
                              "file")
    try:
        config = Config.from_saved(config_dict, source=str(path))
    except ConfigError as exc:
        raise CheckpointError(f"{path}: its config does not fit this mcdenoise ({exc})") from None
    model = build_model(config)
    try:
        model.load_state_dict(weights)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the model "
                              f"({str(exc).splitlines()[0][:160]})") from None
    return model.to(device).eval(), config


# --- shipped models: one safetensors file, metadata inside ----------------------------------

SHIPPED_FORMAT = "mcdenoise-model-1"


def default_model_path(name: str = "default") -> Path:
    """A model that ships inside the package: ``default`` (color + albedo, normal, depth),
    ``color`` (color only, for files without those passes), or ``gaussian`` (LDR images
    with additive gaussian noise)."""
    import importlib.resources

    return Path(str(importlib.resources.files("mcdenoise.weights") / f"{name}.safetensors"))


def export_model(source: str | Path, out: str | Path, info: dict[str, Any] | None = None,
                 prefilter: str | Path | None = None) -> Path:
    """A run folder (its best, else last checkpoint) or a checkpoint -> a safetensors model
    whose metadata holds the config, the training step and ``info``. ``prefilter``: a
    trained model.task=aux model that the exported color model carries (model.prefilter_width)
    and runs on its albedo and normal first; the source may then be a .safetensors model
    too (its own note is kept unless ``info`` gives one)."""
    import json

    from safetensors.torch import save_file

    source = Path(source)
    if source.is_dir():
        candidates = [source / "checkpoints" / name for name in ("best.pt", "last.pt")]
        source = next((c for c in candidates if c.is_file()), candidates[-1])
    if source.suffix == ".safetensors":
        weights, config_dict, own_info = load_weights(source)
        payload, info = {"model": weights, "config": config_dict}, {**own_info, **(info or {})}
    else:
        payload = load_checkpoint(source)
    if prefilter is not None:
        payload = {**payload, **_with_prefilter(payload, Path(prefilter), source)}
    metadata = {"format": SHIPPED_FORMAT, "config": json.dumps(payload["config"]),
                "step": str(payload.get("step", "")), "source": source.name,
                "info": json.dumps(info or {})}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.contiguous() for k, v in payload["model"].items()}
    with replacing(out) as temporary:
        save_file(tensors, temporary, metadata=metadata)
    return out


def _with_prefilter(payload: dict[str, Any], path: Path, source: Path) -> dict[str, Any]:
    """A color model's weights and config with the aux model at ``path`` added as its
    prefilter (checked against the shape the config then wants)."""
    from mcdenoise.model import build_model, check_prefilter

    config = Config.from_saved(payload["config"], source=str(source))
    if config.model.task != "color" or config.model.prefilter_width:
        raise CheckpointError(f"{source}: only a color model without a prefilter takes one")
    aux, aux_config = load_network(path)  # what train.prefilter_from loads, checked alike
    if aux_config.model.task != "aux":
        raise CheckpointError(f"{path}: not a prefilter (train one with --config aux)")
    config.model.prefilter_width = aux_config.model.enc_width
    config.model.prefilter_depth = aux_config.model.depth
    config.model.prefilter_tail = aux_config.model.tail_width
    check_prefilter(config, aux_config, str(path))
    weights = {**payload["model"],
               **{f"prefilter.{k}": v for k, v in aux.state_dict().items()}}
    build_model(config).load_state_dict(weights)  # every tensor in its place
    return {"model": weights, "config": config.to_dict()}


def load_weights(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict]:
    """(state dict, config dict, info) from a shipped .safetensors model or a .pt checkpoint."""
    import json

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such model")
    if path.suffix != ".safetensors":
        payload = load_checkpoint(path)
        return payload["model"], payload["config"], {"step": payload.get("step")}
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a safetensors model ({str(exc)[:120]})") from None
    if metadata.get("format") != SHIPPED_FORMAT:
        raise CheckpointError(f"{path}: not an mcdenoise model (no mcdenoise metadata)")
    return tensors, json.loads(metadata["config"]), json.loads(metadata.get("info", "{}"))


def export_onnx_model(source: str | Path, out: str | Path, info: dict[str, Any] | None = None
                      ) -> Path:
    """A run folder (its best, else last checkpoint), a checkpoint or a .safetensors model ->
    an ONNX model for the onnxruntime backend; its metadata holds the config, the hash of
    the source file and the note (a shipped model's own note and commands when not given)."""
    from mcdenoise.backends import export_onnx, file_digest

    source = Path(source)
    if source.is_dir():
        candidates = [source / "checkpoints" / name for name in ("best.pt", "last.pt")]
        source = next((c for c in candidates if c.is_file()), candidates[-1])
    _, config_dict, own_info = load_weights(source)
    model, _ = load_network(source, "cpu")
    note = {**own_info, **(info or {}), "source": source.name}
    return export_onnx(model, config_dict, out, note, file_digest(source))
