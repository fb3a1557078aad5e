"""The denoising networks, any H x W: the U-Net of Noise2Noise (Lehtinen et al. 2018,
Table 2), RED30 (Mao et al. 2016, the paper's network for its first experiments) and
SRResNet (Ledig et al. 2017, without the upsampling); all with the same BatchNorm and
activation options, and all predicting either the color or per-pixel filter kernels."""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from torch import nn

from mcdenoise.config import Config, ConfigError, InputConfig, ModelConfig
from mcdenoise.features import FEATURE_CHANNELS, input_channels


def inverse_transform(value: torch.Tensor, transform: str) -> torch.Tensor:
    """``features.transform_color`` undone inside the network: transformed color back to
    exposure-scaled linear (what the kernels filter, and what a direct output adds to)."""
    if transform == "tonemap":
        v = value.clamp(0.0, 1.0) ** 2.2
        return v / (1.0 - v).clamp(min=1e-6)
    if transform == "log":
        return torch.expm1(value)
    return value


# (feature maps, layers) when model.width / model.layers are 0: RED30 has 15 conv and 15
# mirrored deconv layers of 128 maps; SRResNet 16 residual blocks of 64 maps
_ARCH_DEFAULTS = {"red30": (128, 30), "srresnet": (64, 16)}
DEMODULATE_EPS = 0.01  # added to the albedo before dividing by it (black surfaces)
GROWN_BLEND_BIAS = -5.0  # load_grown: a new coarse scale starts at 0.7 % of its weight
# load_adding_albedo_kernel: the new albedo kernel's centre logit; the other taps start at 0,
# so the albedo is first filtered with 94 % of the weight on the pixel itself
ALBEDO_KERNEL_CENTRE = 6.0


def _activation(config: ModelConfig) -> nn.Module:
    if config.activation == "elu":
        return nn.ELU(inplace=True)
    return nn.LeakyReLU(config.leaky_slope, inplace=True)


def conv_block(in_ch: int, out_ch: int, config: ModelConfig, size: int = 3,
               activate: bool = True) -> nn.Sequential:
    """A size x size conv, then BatchNorm and the activation in the configured order
    (``activate=False``: the conv and its BatchNorm only)."""
    use_norm = config.norm != "none"
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, size, padding=size // 2,
                                         bias=not use_norm)]
    if not activate:
        layers += [nn.BatchNorm2d(out_ch)] if use_norm else []
    elif config.norm == "before":
        layers += [nn.BatchNorm2d(out_ch), _activation(config)]
    elif config.norm == "after":
        layers += [_activation(config), nn.BatchNorm2d(out_ch)]
    else:
        layers.append(_activation(config))
    return nn.Sequential(*layers)


class Network(nn.Module):
    """What every architecture shares: padding to ``alignment`` and the output.

    With ``config.output == "kernel"`` the last conv predicts kernel_size^2 logits per pixel
    instead of a color; their softmax weights the kernel_size^2 neighbourhood of the noisy
    color (channels 0-2 of the input, turned back into linear with ``transform``). The
    output is then a convex combination of input pixels: it cannot overshoot or change
    the image's scale, which makes training far steadier on small budgets. With
    ``kernel_scales`` > 1, kernels (their logits box-averaged) also filter 2x, 4x, ...
    box-downsampled copies of the color, and each coarser result replaces the low
    frequencies of the finer one by a predicted per-pixel weight (Vogels et al. 2018),
    which reaches noise a small kernel cannot average away; ``kernel_upsample`` brings the
    coarse low band back up in 2x2 blocks (nearest) or smoothly (bilinear).

    Subclasses build their layers, set ``body_alignment`` and ``residual`` (direct output:
    add the noisy linear color to what the last conv predicts) and define ``body`` and
    ``body_field``."""

    body_alignment = 1
    residual = False

    def __init__(self, config: ModelConfig, transform: str) -> None:
        super().__init__()
        self.kernel_size = config.kernel_size if config.output == "kernel" else 0
        self.scales = config.kernel_scales if self.kernel_size else 0
        self.upsample = config.kernel_upsample
        self.transform = transform
        # the input channels filtered (kernel output) or added to (direct, residual): the
        # color, or with model.task=aux the albedo and normal (linear: transform none)
        self.filtered = 6 if config.task == "aux" else 3
        self.albedo_channel: int | None = None  # set by build_model for model.demodulate
        # model.demodulate: one more output channel, the per-pixel weight of the demodulated
        # result against the plain one
        self.mix = bool(config.demodulate) and self.kernel_size > 0
        # model.albedo_kernel: kernel_size^2 more logits, a kernel that filters the albedo
        # multiplied back into the demodulated result
        self.albedo_kernel = self.mix and bool(config.albedo_kernel)
        # model.kernel_residual: 3 more channels, last, a per-pixel factor exp(r) on the
        # kernels' result (a hybrid of kernel and direct output)
        self.kernel_residual = self.kernel_size > 0 and bool(config.kernel_residual)
        # model.prefilter_width: a model.task=aux network run first on the feature channels
        # (the input after the color), whose filtered albedo and normal replace the noisy
        # ones; set by build_model, frozen in training (see train)
        self.prefilter: Network | None = None
        # model.prefilter_keep: the noisy albedo and normal appended after the input
        self.keep_noisy = False

    def out_channels(self, colors: int = 3) -> int:
        """Channels of the last conv: a color, or the kernels' logits and blend weights."""
        if self.kernel_size:
            return (self.scales * self.kernel_size**2 + self.scales - 1
                    + self.kernel_size**2 * int(self.albedo_kernel) + int(self.mix)
                    + 3 * int(self.kernel_residual))
        return colors

    @property
    def alignment(self) -> int:
        """H and W are padded to a multiple of this (pools, and the coarsest kernel's blocks)."""
        return max(self.body_alignment, 2 ** (self.scales - 1) if self.scales else 1)

    def body(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def body_field(self) -> int:
        raise NotImplementedError

    @property
    def receptive_field(self) -> int:
        """Width in pixels of the input window that one output pixel depends on."""
        own = self._own_field()
        if self.prefilter is None:
            return own
        return own + self.prefilter.receptive_field - 1  # it reads what the prefilter wrote

    def train(self, mode: bool = True) -> Network:
        """As nn.Module.train, but a prefilter stays in eval mode: it is frozen, and its
        BatchNorm statistics must not drift towards the color network's batches."""
        super().train(mode)
        if self.prefilter is not None:
            self.prefilter.eval()
        return self

    def _own_field(self) -> int:
        field = self.body_field()
        if not self.kernel_size:
            return field
        if self.scales == 1:  # a kernel reads its own window of the input
            return max(field, self.kernel_size)
        # coarse kernels pool logits over blocks and read a window of blocks (a bound that
        # holds wherever the pixel sits in its block)
        block = 2 ** (self.scales - 1)
        # bilinear upsampling also reads the next coarse pixel at every scale: 2^s - 1 per
        # side at most, summed over the scales
        extra = 4 * (block - 1) if self.upsample == "bilinear" else 0
        return max(field, self.kernel_size * block) + 2 * block + extra

    def load_grown(self, source: Network) -> None:
        """Take the weights of ``source``, the same network with fewer kernel scales: the
        body as it is; in the last conv each old scale's logits, blend weights and mix keep
        their filters, each new coarser scale starts from the old coarsest one's logits,
        and the new blend weights start near 0 (sigmoid(GROWN_BLEND_BIAS)), so the output
        is almost the source's until training learns to use the wider reach."""
        old, new, k2 = source.scales, self.scales, self.kernel_size**2
        if not (self.kernel_size and source.kernel_size == self.kernel_size
                and type(source) is type(self) and 0 < old < new and source.mix == self.mix
                and not source.albedo_kernel and not self.albedo_kernel):
            raise ValueError("not the same kernel network with fewer scales")
        state = source.state_dict()
        weight, bias = state.pop("out.weight"), state.pop("out.bias")
        grown_weight = torch.zeros_like(self.out.weight)
        grown_bias = torch.zeros_like(self.out.bias)
        rows = [min(scale, old - 1) * k2 + tap for scale in range(new) for tap in range(k2)]
        rows += [old * k2 + j for j in range(old - 1)]  # the old blends, then new ones
        targets = list(range(new * k2 + old - 1))
        if self.mix:
            rows.append(weight.shape[0] - 1)
            targets.append(grown_weight.shape[0] - 1)
        grown_weight[targets], grown_bias[targets] = weight[rows], bias[rows]
        grown_bias[new * k2 + old - 1:new * k2 + new - 1] = GROWN_BLEND_BIAS
        self.load_state_dict({**state, "out.weight": grown_weight, "out.bias": grown_bias})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C_in, H, W), any H, W -> (B, 3, H, W) (model.task=aux: (B, 6, H, W))."""
        if self.prefilter is not None:  # before padding: it pads to its own alignment
            x = self.prefiltered(x)
        height, width = x.shape[-2:]
        pad_h, pad_w = -height % self.alignment, -width % self.alignment
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
        out = self.body(x)
        if self.kernel_size:  # on the padded size: coarse scales need whole 2^s blocks
            albedo = None
            if self.albedo_channel is not None:
                albedo = x[:, self.albedo_channel:self.albedo_channel + 3]
            correction = None
            if self.kernel_residual:
                out, correction = out[:, :-3], out[:, -3:]
            out = self.apply_kernels(out, x[:, :self.filtered], albedo)
            if correction is not None:  # v * exp(r): relative, so black stays black (an
                # additive term, (1 + v) * exp(r) - 1, lifted the boxes' black backgrounds:
                # -5 dB on the field's Cornell box, docs/benchmarks.md "Session 31");
                # |r| <= 8, a factor of 3000 either way: never an overflow to inf
                out = out * torch.exp(correction.float().clamp(-8.0, 8.0))
        elif self.residual:
            out = out + inverse_transform(x[:, :self.filtered], self.transform).to(out.dtype)
        return out[..., :height, :width]

    def prefiltered(self, x: torch.Tensor) -> torch.Tensor:
        """The input with its albedo and normal (channels 3-8) replaced by the prefilter's,
        clipped to their ranges as features.build_input clips rendered ones."""
        aux = self.prefilter(x[:, 3:]).to(x.dtype)
        parts = [x[:, :3], aux[:, :3].clamp(0.0, 1.0), aux[:, 3:6].clamp(-1.0, 1.0), x[:, 9:]]
        if self.keep_noisy:  # model.prefilter_keep: the rendered ones too, last
            parts.append(x[:, 3:9])
        return torch.cat(parts, dim=1)

    def load_keeping_noisy(self, source: Network) -> None:
        """Take the weights of ``source``, the same network without model.prefilter_keep
        (with its prefilter, or without one: then the prefilter stays as it is): the convs
        that read the input get zero weights for the six appended noisy channels, so the
        output is the source's (with this prefilter) until training learns to use them."""
        if not self.keep_noisy or source.keep_noisy or type(source) is not type(self):
            raise ValueError("not the same network without model.prefilter_keep")
        state = {name: value for name, value in source.state_dict().items()
                 if not name.startswith("prefilter.")}
        own = self.state_dict()
        for name, value in state.items():
            wanted = own.get(name)
            if (wanted is not None and value.dim() == 4 and wanted.shape[1] == value.shape[1] + 6
                    and wanted.shape[0] == value.shape[0]):
                padded = torch.zeros_like(wanted)
                padded[:, :value.shape[1]] = value
                state[name] = padded
        if source.prefilter is not None:
            state.update({f"prefilter.{k}": v for k, v in source.prefilter.state_dict().items()})
        missing, unexpected = self.load_state_dict(state, strict=False)
        if unexpected or any(not name.startswith("prefilter.") for name in missing):
            raise ValueError("not the same network without model.prefilter_keep")

    def load_adding_residual(self, source: Network) -> None:
        """Take the weights of ``source``, the same kernel network without
        model.kernel_residual: everything as it is, and the correction's three channels
        (last) start at zero weights and bias, so the output is the source's until training
        learns where the kernels fall short."""
        if not (self.kernel_residual and not source.kernel_residual and source.kernel_size
                and type(source) is type(self)):
            raise ValueError("not the same kernel network without model.kernel_residual")
        state = source.state_dict()
        weight, bias = state.pop("out.weight"), state.pop("out.bias")
        grown_weight = torch.zeros_like(self.out.weight)
        grown_bias = torch.zeros_like(self.out.bias)
        grown_weight[:-3], grown_bias[:-3] = weight, bias
        self.load_state_dict({**state, "out.weight": grown_weight, "out.bias": grown_bias})

    def load_adding_albedo_kernel(self, source: Network) -> None:
        """Take the weights of ``source``, the same demodulating network without
        model.albedo_kernel: everything as it is, and the new albedo kernel's logits start
        as a near-identity (zero weights, ALBEDO_KERNEL_CENTRE on the centre tap), so the
        output is almost the source's until training learns where to smooth the albedo."""
        if not (self.albedo_kernel and not source.albedo_kernel and source.mix
                and type(source) is type(self) and source.kernel_size == self.kernel_size
                and source.scales == self.scales):
            raise ValueError("not the same demodulating kernel network without albedo kernel")
        state = source.state_dict()
        weight, bias = state.pop("out.weight"), state.pop("out.bias")
        grown_weight = torch.zeros_like(self.out.weight)
        grown_bias = torch.zeros_like(self.out.bias)
        k2 = self.kernel_size**2
        start = weight.shape[0] - 1  # the albedo logits go before the mix channel
        grown_weight[:start], grown_bias[:start] = weight[:-1], bias[:-1]
        grown_weight[-1], grown_bias[-1] = weight[-1], bias[-1]
        grown_bias[start + k2 // 2] = ALBEDO_KERNEL_CENTRE
        self.load_state_dict({**state, "out.weight": grown_weight, "out.bias": grown_bias})

    def _filter(self, logits: torch.Tensor, linear: torch.Tensor) -> torch.Tensor:
        """Per-pixel softmax kernels (B, k*k, H, W) applied to linear images (B, C, H, W)."""
        k = self.kernel_size
        height, width = linear.shape[-2:]
        padded = F.pad(linear, (k // 2,) * 4, mode="replicate")
        # the softmax, normalised after filtering: the C filtered channels are divided by
        # the weights' sum instead of the k*k weights (the same result; ONNX Runtime's
        # Softmax over channels took 44 % of the prefilter's time and 34 % of the color
        # network's)
        weights = torch.exp(logits - logits.amax(dim=1, keepdim=True))
        # one multiply-add per tap on shifted views: 4-7x faster on the CPU than unfolding
        # the k*k neighbourhoods into a (B, C, k*k, H, W) tensor, and no such tensor in memory
        result = torch.zeros_like(linear)
        for tap in range(k * k):
            dy, dx = divmod(tap, k)
            result.addcmul_(padded[..., dy:dy + height, dx:dx + width], weights[:, tap:tap + 1])
        return result / weights.sum(dim=1, keepdim=True)

    def apply_kernels(self, out: torch.Tensor, color_in: torch.Tensor,
                      albedo: torch.Tensor | None = None) -> torch.Tensor:
        """Network output (B, out_channels(), H, W) and the transformed color
        (B, 3, H, W) -> the filtered linear color. H, W must be multiples of 2^(scales-1).
        With ``albedo`` (B, 3, H, W) (model.demodulate) the kernels also filter color / albedo
        and multiply the albedo back (filtered by its own kernel with model.albedo_kernel);
        the last output channel blends that result with the plain one per pixel (where the
        albedo is noisy or dark, plain filtering is safer)."""
        out = out.float()
        linear = inverse_transform(color_in.float(), self.transform)
        if albedo is None:
            return self._filter_scales(out, linear)
        albedo = albedo.float().clamp(0.0, 1.0) + DEMODULATE_EPS
        # one pass over both: the same kernels filter color and color / albedo (B, 6, H, W)
        both = self._filter_scales(out, torch.cat([linear, linear / albedo], dim=1))
        if self.albedo_kernel:  # its logits sit just before the mix channel
            k2 = self.kernel_size**2
            albedo = self._filter(out[:, -1 - k2:-1], albedo)
        plain, demodulated = both[:, :3], both[:, 3:] * albedo
        mix = torch.sigmoid(out[:, -1:])
        return mix * demodulated + (1 - mix) * plain

    def _upsample(self, x: torch.Tensor) -> torch.Tensor:
        if self.upsample == "bilinear":
            return F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
        return F.interpolate(x, scale_factor=2.0, mode="nearest")

    def _filter_scales(self, out: torch.Tensor, linear: torch.Tensor) -> torch.Tensor:
        """The kernels of every scale applied to ``linear`` (B, C, H, W), blended coarse
        into fine."""
        k2 = self.kernel_size**2
        result = None
        for scale in reversed(range(self.scales)):  # coarsest first
            logits = out[:, scale * k2:(scale + 1) * k2]
            color = linear
            if scale:
                factor = 2**scale
                logits, color = F.avg_pool2d(logits, factor), F.avg_pool2d(linear, factor)
            filtered = self._filter(logits, color)
            if result is not None:  # swap the fine result's low frequencies for the coarse
                alpha = torch.sigmoid(out[:, self.scales * k2 + scale:self.scales * k2 + scale + 1])
                if scale:
                    alpha = F.avg_pool2d(alpha, 2**scale)
                # the same upsampling for both, so the swap exchanges the low band only
                filtered = filtered + alpha * self._upsample(result - F.avg_pool2d(filtered, 2))
            result = filtered
        return result


class UNet(Network):
    """Encoder: conv, then ``depth`` x (conv + 2x max-pool), then a bottleneck conv.
    Decoder: ``depth`` x (nearest 2x upsample, concat skip, two convs); the last level
    concatenates the input itself, then 2 x tail_width -> tail_width
    -> out (linear)."""

    def __init__(self, in_channels: int, out_channels: int = 3,
                 config: ModelConfig | None = None, transform: str = "tonemap") -> None:
        config = config or ModelConfig()
        super().__init__(config, transform)
        enc, dec, depth = config.enc_width, config.dec_width, config.depth
        self.depth = depth
        self.body_alignment = 2**depth
        self.bytes_per_pixel = int(2600 * max(dec / 96, 0.25))  # measured, with a margin
        self.head = conv_block(in_channels, enc, config)
        self.down = nn.ModuleList(conv_block(enc, enc, config) for _ in range(depth))
        self.bottleneck = conv_block(enc, enc, config)
        up = []
        for level in range(depth - 1):  # deepest first; each concatenates a pooled skip
            first_in = (enc if level == 0 else dec) + enc
            up.append(nn.Sequential(conv_block(first_in, dec, config),
                                    conv_block(dec, dec, config)))
        self.up = nn.ModuleList(up)
        last_in = (dec if depth > 1 else enc) + in_channels
        tail = config.tail_width
        self.tail = nn.Sequential(conv_block(last_in, 2 * tail, config),
                                  conv_block(2 * tail, tail, config))
        self.out = nn.Conv2d(tail, self.out_channels(out_channels), 3, padding=1)

    def body_field(self) -> int:
        field, step = 1, 1
        field += 2 * step  # head
        for _ in range(self.depth):
            field += 2 * step + step  # conv, then 2x2 max-pool
            step *= 2
        field += 2 * step  # bottleneck
        for _ in range(self.depth - 1):
            step //= 2
            field += 4 * step  # two convs after each upsampling
        step //= 2
        return field + 6 * step  # the last two convs and the output conv

    def body(self, x: torch.Tensor) -> torch.Tensor:
        skips = [x]
        h = self.head(x)
        for level, block in enumerate(self.down):
            h = F.max_pool2d(block(h), 2)  # (B, enc, H / 2^(level+1), W / 2^(level+1))
            if level < self.depth - 1:
                skips.append(h)
        h = self.bottleneck(h)
        for block in self.up:
            h = F.interpolate(h, scale_factor=2.0, mode="nearest")
            h = block(torch.cat([h, skips.pop()], dim=1))
        h = F.interpolate(h, scale_factor=2.0, mode="nearest")
        h = self.tail(torch.cat([h, skips.pop()], dim=1))  # (B, 32, H, W)
        return self.out(h)


class RED30(Network):
    """Residual encoder-decoder (Mao et al. 2016): ``layers / 2`` convs, then as many
    mirrored layers, all 3x3 at full resolution (stride-1 deconvolutions are convolutions);
    every second encoder output is added to its mirror in the decoder, and the last layer
    predicts the correction to the noisy color (direct output) or the kernels."""

    residual = True

    def __init__(self, in_channels: int, out_channels: int = 3,
                 config: ModelConfig | None = None, transform: str = "tonemap") -> None:
        config = config or ModelConfig(arch="red30")
        super().__init__(config, transform)
        width = config.width or _ARCH_DEFAULTS["red30"][0]
        layers = config.layers or _ARCH_DEFAULTS["red30"][1]
        half = layers // 2
        self.layers = 2 * half
        # the skips held at once (every second of ``half``) plus two working maps, float32
        self.bytes_per_pixel = int((half // 2 + 3) * width * 4 * 1.5)
        self.encoder = nn.ModuleList(
            conv_block(in_channels if i == 0 else width, width, config) for i in range(half))
        self.decoder = nn.ModuleList(conv_block(width, width, config) for _ in range(half - 1))
        self.out = nn.Conv2d(width, self.out_channels(out_channels), 3, padding=1)

    def body_field(self) -> int:
        return 1 + 2 * self.layers

    def body(self, x: torch.Tensor) -> torch.Tensor:
        half = len(self.encoder)
        skips = {}
        h = x
        for index, layer in enumerate(self.encoder):
            h = layer(h)
            if index % 2 == 1 and index < half - 1:  # every second output; not the last
                skips[index] = h
        for index, layer in enumerate(self.decoder):
            h = layer(h)
            mirror = half - 2 - index  # the encoder output of the same depth
            if mirror in skips:
                h = h + skips.pop(mirror)
        return self.out(h)


class SRResNet(Network):
    """SRResNet (Ledig et al. 2017) without its upsampling: a 9x9 conv, ``layers`` residual
    blocks (conv, BatchNorm, activation, conv, BatchNorm, plus the block's input), a conv
    with BatchNorm plus the head's output, and a 9x9 conv predicting the correction to the
    noisy color (direct output) or the kernels."""

    residual = True

    def __init__(self, in_channels: int, out_channels: int = 3,
                 config: ModelConfig | None = None, transform: str = "tonemap") -> None:
        config = config or ModelConfig(arch="srresnet")
        super().__init__(config, transform)
        width = config.width or _ARCH_DEFAULTS["srresnet"][0]
        self.blocks = config.layers or _ARCH_DEFAULTS["srresnet"][1]
        self.bytes_per_pixel = int(5 * width * 4 * 1.5)
        self.head = nn.Sequential(nn.Conv2d(in_channels, width, 9, padding=4),
                                  _activation(config))
        self.trunk = nn.ModuleList(
            nn.Sequential(conv_block(width, width, config),
                          conv_block(width, width, config, activate=False))
            for _ in range(self.blocks))
        self.merge = conv_block(width, width, config, activate=False)
        self.out = nn.Conv2d(width, self.out_channels(out_channels), 9, padding=4)

    def body_field(self) -> int:
        return 1 + 8 + 4 * self.blocks + 2 + 8

    def body(self, x: torch.Tensor) -> torch.Tensor:
        start = self.head(x)
        h = start
        for block in self.trunk:
            h = h + block(h)
        return self.out(self.merge(h) + start)


@torch.no_grad()
def fuse_batchnorm(model: Network) -> Network:
    """Fold every BatchNorm that directly follows a convolution into that convolution (for
    inference: the running statistics become the conv's scale and bias). In place; the
    model must be in eval mode. BatchNorm placed after the activation is left as it is."""
    if model.training:
        raise ValueError("fuse_batchnorm needs a model in eval mode")
    for block in model.modules():
        if not isinstance(block, nn.Sequential):
            continue
        layers = list(block)
        for index in range(len(layers) - 1):
            conv, norm = layers[index], layers[index + 1]
            if not (isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d)):
                continue
            scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
            bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.running_mean)
            fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size,
                              conv.stride, conv.padding, bias=True).to(conv.weight.device)
            fused.weight.copy_(conv.weight * scale.view(-1, 1, 1, 1))
            fused.bias.copy_((bias - norm.running_mean) * scale + norm.bias)
            block[index], block[index + 1] = fused, nn.Identity()
    return model


def build_model(config: Config) -> Network:
    """The network for a config: input channels follow the enabled features."""
    networks = {"unet": UNet, "red30": RED30, "srresnet": SRResNet}
    if config.model.arch not in networks:
        raise ValueError(f"unknown architecture {config.model.arch!r}")
    features = config.input.features
    aux = config.model.task == "aux"
    if aux and features[:2] != ["albedo", "normal"]:
        raise ConfigError("model.task=aux needs input.features to start with albedo, normal")
    if aux and (config.model.demodulate or config.model.albedo_kernel):
        raise ConfigError("model.demodulate and model.albedo_kernel filter a color: not "
                          "with model.task=aux")
    demodulate = False if aux else config.model.demodulate
    if demodulate is None:  # automatic: whenever it can
        demodulate = config.model.output == "kernel" and "albedo" in features
    elif demodulate and (config.model.output != "kernel" or "albedo" not in features):
        raise ConfigError("model.demodulate needs model.output=kernel and the albedo feature")
    if config.model.albedo_kernel and not demodulate:
        raise ConfigError("model.albedo_kernel needs model.demodulate (kernel output and "
                          "the albedo feature)")
    if config.model.kernel_residual and (aux or config.model.output != "kernel"):
        raise ConfigError("model.kernel_residual corrects the kernels' color: it needs "
                          "model.output=kernel and model.task=color")
    if config.model.prefilter_width and (aux or features[:2] != ["albedo", "normal"]):
        raise ConfigError("model.prefilter_width needs a color model (model.task=color) "
                          "whose input.features start with albedo, normal")
    if config.model.prefilter_keep and not config.model.prefilter_width:
        raise ConfigError("model.prefilter_keep needs model.prefilter_width (a prefilter)")
    model_config = dataclasses.replace(config.model, demodulate=demodulate)
    keep = 6 if config.model.prefilter_keep else 0  # the noisy albedo and normal, appended
    network = networks[config.model.arch](
        input_channels(config.input, config.model.task) + keep, 6 if aux else 3, model_config,
        "none" if aux else config.input.transform)
    network.keep_noisy = bool(keep)
    if demodulate:
        before = features[:features.index("albedo")]
        network.albedo_channel = 3 + sum(FEATURE_CHANNELS[name] for name in before)
    if config.model.prefilter_width:
        network.prefilter = build_model(prefilter_config(config))
        network.prefilter.requires_grad_(False)
        network.prefilter.eval()
    return network


def prefilter_config(config: Config) -> Config:
    """The config of a color model's prefilter (model.prefilter_width): a model.task=aux
    U-Net reading the same features, its other model keys at their defaults."""
    model = ModelConfig(task="aux", enc_width=config.model.prefilter_width,
                        dec_width=2 * config.model.prefilter_width,
                        depth=config.model.prefilter_depth,
                        tail_width=config.model.prefilter_tail, output="kernel")
    features = InputConfig(features=list(config.input.features), transform="none",
                           exposure=False)
    return dataclasses.replace(Config(), model=model, input=features)


def check_prefilter(config: Config, source_config: Config, label: str) -> None:
    """That a trained aux model (``source_config``) is the prefilter ``config`` wants."""
    wanted = prefilter_config(config)
    differ = [f"{section}.{key}" for section in ("model", "input")
              for key, value in dataclasses.asdict(getattr(wanted, section)).items()
              if getattr(getattr(source_config, section), key) != value]
    if differ:
        raise ConfigError(f"{label}: not a prefilter of the shape this model wants "
                          f"({', '.join(differ)} differ)")
