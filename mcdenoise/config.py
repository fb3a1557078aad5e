"""Experiment configuration: dataclasses, YAML load/save, `key=value` overrides, strict keys."""

from __future__ import annotations

import dataclasses
import importlib.resources
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mcdenoise import McdenoiseError


class ConfigError(McdenoiseError):
    """An unknown key, a value of the wrong type, or a config file that cannot be read."""


@dataclass
class ModelConfig:
    # color: the network denoises the render's color (what `mcdenoise denoise` runs);
    # aux: it denoises the albedo and normal passes themselves from the feature passes only
    # (a prefilter for a color model, like OIDN's auxiliary filters), trained on the feature
    # passes of two seeds (Noise2Noise): input.features must start with albedo, normal
    task: str = "color"
    arch: str = "unet"  # unet, red30 or srresnet (see model.py)
    # N2N Table 2 has a 48-channel encoder and a 96-channel decoder (the noise-* configs
    # use them); 32 / 64 is as good on renders and faster (docs/benchmarks.md, "Width")
    enc_width: int = 32
    dec_width: int = 64
    # unet: the full-resolution tail after the decoder, convs of 2 x tail_width and
    # tail_width features (N2N's 64 and 32). At full resolution it is most of the work: in
    # configs/aux.yaml's 16 / 32 prefilter, 32 leaves 85 % of the multiply-adds to the tail
    # (75 k a pixel; 16: 39 k), in the default color model 65 % (129 k)
    tail_width: int = 32
    depth: int = 5  # number of 2x max-pools; alignment is 2**depth
    norm: str = "before"  # BatchNorm before the activation, after it, or none
    activation: str = "leaky_relu"  # leaky_relu (slope below) or elu
    leaky_slope: float = 0.1
    # kernel: the last conv predicts per-pixel softmax kernels of kernel_size^2 weights
    # applied to the noisy linear color (Bako et al. 2017); direct: it predicts the color
    # (the Noise2Noise paper's network, what the noise-* configs use)
    output: str = "kernel"
    kernel_size: int = 5
    # kernel: also filter 2x, 4x, ... box-downsampled copies of the color with their own
    # kernels and blend each coarse result into the finer one (Vogels et al. 2018); 1 = none
    kernel_scales: int = 3
    # kernel, 2 scales or more: how a coarse result and the fine result's own low band are
    # brought back to the finer scale: bilinear, or nearest (2x2 blocks, Vogels et al.; the
    # models saved before the option): +0.5 dB on the field at an equal budget
    kernel_upsample: str = "bilinear"
    # kernel: also filter the color divided by the albedo (the irradiance, smooth across
    # texture edges) and multiply the albedo back (Bako et al. 2017's demodulation), blended
    # per pixel with the plain result by a predicted weight. true needs the albedo feature;
    # null (the default): on whenever the output is kernels and the albedo is an input
    demodulate: bool | None = None
    # demodulate: multiply back an albedo filtered by its own predicted kernel_size^2 kernel
    # (full resolution) instead of the albedo as rendered, whose noise (depth of field,
    # motion blur, hair, fog at low spp) would otherwise come back into the result
    albedo_kernel: bool = False
    # kernel: a hybrid output, the kernels' result corrected per pixel and channel by a
    # predicted factor exp(r) (3 more channels of the last conv): it can reach values no
    # convex combination of the 5x5 neighbours holds, as on a one-pixel geometry edge shared
    # by few of them, and it leaves black black. --init-from a model without it starts the
    # correction at zero, so it begins as that model does
    kernel_residual: bool = False
    # red30 and srresnet only: feature maps (0: red30 128, srresnet 64) and layers (red30:
    # conv + mirrored layers, 0: 30; srresnet: residual blocks, 0: 16)
    width: int = 0
    layers: int = 0
    # color: clean the albedo and normal with a prefilter before the network reads them
    # (like OIDN's auxiliary filters): a model.task=aux U-Net of this encoder width (the
    # decoder twice as wide; 0: no prefilter) and depth, its other keys at their defaults
    # (configs/aux.yaml's network). It is trained on its own first (--config aux);
    # train.prefilter_from loads it, and it stays frozen while the color network trains.
    # input.features must start with albedo, normal
    prefilter_width: int = 0
    prefilter_depth: int = 4
    prefilter_tail: int = 32  # its model.tail_width
    # the color network reads the noisy albedo and normal too, after the prefiltered ones (6
    # more input channels, appended last): where the prefilter smooths what the render
    # already resolves (texture at high spp, one-pixel emitters) it can take the rendered
    # ones. --init-from a model without them starts their weights at zero, so it begins as
    # that model does
    prefilter_keep: bool = False


@dataclass
class InputConfig:
    features: list[str] = field(default_factory=lambda: ["albedo", "normal", "depth"])
    transform: str = "tonemap"  # tonemap: (v/(1+v))^(1/2.2) (N2N §3.3), log: log(1+v), none
    exposure: bool = True  # scale color so the frame's log-average luminance is 0.18


@dataclass
class DataConfig:
    kind: str = "mc"  # mc: rendered EXR pairs; images: LDR image folders with synthetic noise
    path: str = "data/train"  # mc: several folders may be given, comma-separated
    val_path: str | None = None
    target: str = "noisy"  # mc: noisy (Noise2Noise), clean (the reference), or both
    spp: list[int] = field(default_factory=list)  # mc: only these spp (empty: all)
    # mc, noisy targets: the target is a render at one of these spp (another seed) instead
    # of one at the input's spp, e.g. 4 and 16 spp inputs with 64 spp targets
    target_spp: list[int] = field(default_factory=list)
    crop: int = 128
    batch_size: int = 8
    workers: int = 2
    cache_dir: str | None = None  # default: <path>/.mcdenoise-cache
    noise: str = "gaussian,0,50"  # images: input noise
    target_noise: str = "gaussian,0,50"  # images: target noise ('clean' = standard training)
    val_noise: str = "gaussian,25"  # images: fixed validation noise
    val_images: int = 8  # at most this many validation images
    val_crop: int = 512  # images: validation uses the centre crop of at most this size
    holdout: int = 0  # images: without val_path, the last N images of path validate instead
    # images: also shuffle each crop's color channels and scale each by a random gain in
    # [0.4, 1]: colours (and color noise on grey images) that a small photo set lacks
    color_augment: bool = False


@dataclass
class LossConfig:
    name: str = "hdr"  # hdr (relative L2, N2N §3.3), tonemapped, l2, l1, smape, l0 (N2N §3.4)
    eps: float = 0.01  # offset of hdr's and smape's denominators and of tonemapped's slope
    l0_gamma_start: float = 2.0
    l0_gamma_end: float = 0.0


@dataclass
class TrainConfig:
    steps: int = 100_000
    lr: float = 3e-4
    beta1: float = 0.9
    beta2: float = 0.99
    adam_eps: float = 1e-8
    lr_step: int = 0  # multiply the learning rate by lr_gamma every lr_step steps (0: never)
    lr_gamma: float = 0.5
    rampdown: float = 0.0  # fraction of the steps, at the end, with a cosine ramp-down to 0
    clip_grad: float = 1.0  # max gradient norm (0: off)
    amp: bool = True  # mixed precision: CUDA, and CPUs with native bf16 (AVX-512 BF16, AMX)
    seed: int = 0
    device: str = "auto"  # auto: cuda, then mps, then cpu
    out: str = "runs"
    name: str = ""
    log_every: int = 50
    val_every: int = 1000
    image_every: int = 5000
    ckpt_every: int = 5000
    init_from: str | None = None  # start from these weights (fine-tuning)
    # model.prefilter_width: the trained prefilter (a --config aux checkpoint or model, or a
    # color model that carries one, such as the bundled default)
    prefilter_from: str | None = None
    sync_bn: bool = False  # under torchrun on GPUs: BatchNorm statistics over all ranks


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    input: InputConfig = field(default_factory=InputConfig)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> Config:
        config = cls()
        merge(config, data, source)
        return config

    @classmethod
    def from_saved(cls, data: dict[str, Any], source: str = "config") -> Config:
        """A complete config as a run or model saved it. Those of mcdenoise 0.1 before the
        kernel-predicting output have no model.output: their network predicted the color;
        those before model.demodulate did not demodulate; those before
        model.kernel_upsample upsampled coarse kernel scales in blocks (nearest)."""
        model = data.get("model") or {}
        if "enc_width" in model and "output" not in model:
            model = {**model, "output": "direct", "kernel_scales": 1}
        if "enc_width" in model and "demodulate" not in model:  # before the option: off
            model = {**model, "demodulate": False}
        if "enc_width" in model and "kernel_upsample" not in model:  # before it: nearest
            model = {**model, "kernel_upsample": "nearest"}
        return cls.from_dict({**data, "model": model} if model else data, source)


CHOICES = {
    "model.task": ("color", "aux"),
    "model.arch": ("unet", "red30", "srresnet"),
    "model.norm": ("before", "after", "none"),
    "model.activation": ("leaky_relu", "elu"),
    "model.output": ("direct", "kernel"),
    "model.kernel_upsample": ("nearest", "bilinear"),
    "input.transform": ("tonemap", "log", "none"),
    "data.kind": ("mc", "images"),
    "data.target": ("noisy", "clean", "both"),
    "loss.name": ("hdr", "tonemapped", "l2", "l1", "smape", "l0"),
    "train.device": ("auto", "cpu", "cuda", "mps"),
}
FEATURES = ("albedo", "normal", "depth")


def _field_types(obj: Any) -> dict[str, Any]:
    hints = typing.get_type_hints(type(obj))
    return {f.name: hints[f.name] for f in dataclasses.fields(obj)}


def _coerce(value: Any, hint: Any, key: str, source: str) -> Any:
    """Check a value against a field's type; accept ints for floats, 'a,b' for lists."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        return None if value is None else _coerce(value, options[0], key, source)
    if origin is list:
        (item,) = typing.get_args(hint)
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            value = [value]  # --set data.spp=16
        if not isinstance(value, list):
            raise ConfigError(f"{source}: {key} must be a list, got {value!r}")
        return [_coerce(v, item, key, source) for v in value]
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float) and isinstance(value, str):
        try:  # YAML 1.1 reads 1e-3 (no dot) as a string
            return hint(value)
        except ValueError:
            raise ConfigError(f"{source}: {key} must be {hint.__name__}, got {value!r}") from None
    if hint is str and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        raise ConfigError(f"{source}: {key} must be {hint.__name__}, got {value!r}")
    return value


def _check_choice(key: str, value: Any, source: str) -> None:
    choices = CHOICES.get(key)
    if choices and value not in choices:
        raise ConfigError(f"{source}: {key} must be one of {', '.join(choices)}, got {value!r}")
    if key == "model.kernel_scales" and not 1 <= value <= 4:
        raise ConfigError(f"{source}: model.kernel_scales must be 1 to 4, got {value!r}")
    if key in ("model.width", "model.layers") and value < 0:
        raise ConfigError(f"{source}: {key} must be >= 0 (0: the architecture's own), "
                          f"got {value!r}")
    if key == "model.kernel_size" and (value < 1 or value % 2 == 0):
        raise ConfigError(f"{source}: model.kernel_size must be odd and >= 1, got {value!r}")
    if key in ("train.val_every", "train.ckpt_every") and value < 1:
        raise ConfigError(f"{source}: {key} must be a number of steps >= 1, got {value!r}")
    if key in ("data.spp", "data.target_spp") and any(v < 1 for v in value):
        raise ConfigError(f"{source}: {key} must list sample counts >= 1, got {value!r}")
    if key == "input.features":
        unknown = [v for v in value if v not in FEATURES]
        if unknown:
            raise ConfigError(f"{source}: unknown feature '{unknown[0]}' (use {', '.join(FEATURES)}"
                              " or none)")


def merge(config: Config, data: dict[str, Any] | None, source: str) -> Config:
    """Apply a nested dict of overrides in place; unknown sections or keys are errors."""
    for section, values in (data or {}).items():
        if section not in _field_types(config):
            raise ConfigError(f"{source}: unknown section '{section}'")
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: section '{section}' must be a mapping")
        target = getattr(config, section)
        hints = _field_types(target)
        for key, value in values.items():
            if key not in hints:
                raise ConfigError(f"{source}: unknown key '{section}.{key}'")
            value = _coerce(value, hints[key], f"{section}.{key}", source)
            if key == "features":
                value = [] if value == ["none"] else value
            _check_choice(f"{section}.{key}", value, source)
            setattr(target, key, value)
    return config


def set_value(config: Config, assignment: str) -> None:
    """Apply one ``section.key=value`` override (value parsed as YAML: 1e-3, true, [a, b])."""
    import yaml  # imported here: inference reads configs from model metadata, not YAML
    key, sep, text = assignment.partition("=")
    section, dot, name = key.strip().partition(".")
    if not sep or not dot:
        raise ConfigError(f"--set {assignment!r}: expected section.key=value (e.g. train.lr=1e-3)")
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError:
        value = text
    merge(config, {section: {name: value}}, f"--set {key.strip()}")


def find_config(name: str) -> Path:
    """A config file by path, or by name among the configs shipped with mcdenoise."""
    path = Path(name)
    if path.is_file():
        return path
    shipped = importlib.resources.files("mcdenoise.configs")
    for candidate in (name, f"{name}.yaml"):
        resource = shipped.joinpath(candidate)
        if resource.is_file():
            return Path(str(resource))
    names = sorted(p.name[:-5] for p in shipped.iterdir() if p.name.endswith(".yaml"))
    raise ConfigError(f"config '{name}' is neither a file nor a shipped config "
                      f"({', '.join(names)})")


def load_config(name: str, config: Config | None = None) -> Config:
    """Defaults (or ``config``) overridden by a YAML file."""
    import yaml
    path = find_config(name)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read config ({str(exc).splitlines()[0]})") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: a config is a mapping of sections")
    return merge(config or Config(), data, str(path))


def load_saved_config(path: str | Path) -> Config:
    """A run's own config.yaml (see Config.from_saved)."""
    import yaml
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read config ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a config is a mapping of sections")
    return Config.from_saved(data, str(path))


def save_config(config: Config, path: str | Path) -> None:
    import yaml
    Path(path).write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))


def apply_hdr_preset(config: Config, hdr: bool) -> None:
    """--hdr: relative L2 on linear HDR with a tonemapped input (N2N §3.3, Fig. 6);
    --no-hdr: L2 on the raw input, as for LDR images."""
    if hdr:
        config.loss.name, config.input.transform, config.input.exposure = "hdr", "tonemap", True
    else:
        config.loss.name, config.input.transform, config.input.exposure = "l2", "none", False


def check_config(config: Config) -> None:
    """Settings that do not fit together, found before any data is read or run folder made."""
    if config.data.kind == "images" and config.input.features:
        raise ConfigError(f"image folders have no {', '.join(config.input.features)} "
                          "buffers: train photographs with --no-features (the noise-* configs "
                          "do)")
    if config.model.tail_width < 1 or config.model.prefilter_tail < 1:
        raise ConfigError("model.tail_width and model.prefilter_tail must be at least 1")
    if config.model.prefilter_keep and not config.model.prefilter_width:
        raise ConfigError("model.prefilter_keep needs model.prefilter_width (a prefilter)")
    if config.train.prefilter_from and not config.model.prefilter_width:
        raise ConfigError("train.prefilter_from needs model.prefilter_width (the prefilter's "
                          "width)")
    if config.model.task == "aux" and config.data.kind != "mc":
        raise ConfigError("model.task=aux trains on rendered feature passes (data.kind=mc)")
