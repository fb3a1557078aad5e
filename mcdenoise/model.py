"""The U-Net of Noise2Noise (Lehtinen et al. 2018, Table 2) with BatchNorm, any H x W."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mcdenoise.config import Config, ModelConfig
from mcdenoise.features import input_channels, inverse_transform


def _activation(config: ModelConfig) -> nn.Module:
    if config.activation == "elu":
        return nn.ELU(inplace=True)
    return nn.LeakyReLU(config.leaky_slope, inplace=True)


def conv_block(in_ch: int, out_ch: int, config: ModelConfig) -> nn.Sequential:
    """3x3 conv, then BatchNorm and the activation in the configured order."""
    use_norm = config.norm != "none"
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=not use_norm)]
    if config.norm == "before":
        layers += [nn.BatchNorm2d(out_ch), _activation(config)]
    elif config.norm == "after":
        layers += [_activation(config), nn.BatchNorm2d(out_ch)]
    else:
        layers.append(_activation(config))
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """Encoder: conv, then ``depth`` x (conv + 2x max-pool), then a bottleneck conv.
    Decoder: ``depth`` x (nearest 2x upsample, concat skip, two convs); the last level
    concatenates the input itself, then 64 -> 32 -> out (linear).

    With ``config.output == "kernel"`` the last conv predicts kernel_size^2 logits per pixel
    instead of a color; their softmax weights the kernel_size^2 neighbourhood of the noisy
    color (channels 0-2 of the input, turned back into linear with ``transform``). The
    output is then a convex combination of input pixels: it cannot overshoot or change
    the image's scale, which makes training far steadier on small budgets. With
    ``kernel_scales`` > 1, kernels (their logits box-averaged) also filter 2x, 4x, ...
    box-downsampled copies of the color, and each coarser result replaces the low
    frequencies of the finer one by a predicted per-pixel weight (Vogels et al. 2018),
    which reaches noise a small kernel cannot average away."""

    def __init__(self, in_channels: int, out_channels: int = 3,
                 config: ModelConfig | None = None, transform: str = "tonemap") -> None:
        super().__init__()
        config = config or ModelConfig()
        self.kernel_size = config.kernel_size if config.output == "kernel" else 0
        self.scales = config.kernel_scales if self.kernel_size else 0
        self.transform = transform
        if self.kernel_size:
            out_channels = self.scales * self.kernel_size**2 + self.scales - 1
        enc, dec, depth = config.enc_width, config.dec_width, config.depth
        self.depth = depth
        # H and W must be multiples of this inside the network (and of the coarsest kernel's
        # blocks)
        self.alignment = 2 ** max(depth, config.kernel_scales - 1 if config.output == "kernel"
                                  else 0)
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
        self.tail = nn.Sequential(conv_block(last_in, 64, config), conv_block(64, 32, config))
        self.out = nn.Conv2d(32, out_channels, 3, padding=1)

    @property
    def receptive_field(self) -> int:
        """Width in pixels of the input window that one output pixel depends on."""
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
        field += 6 * step  # the last two convs and the output conv
        if not self.kernel_size:
            return field
        if self.scales == 1:  # a kernel reads its own window of the input
            return max(field, self.kernel_size)
        # coarse kernels pool logits over blocks and read a window of blocks (a bound that
        # holds wherever the pixel sits in its block)
        block = 2 ** (self.scales - 1)
        return max(field, self.kernel_size * block) + 2 * block

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, C_in, H, W), any H, W -> (B, C_out, H, W)."""
        height, width = x.shape[-2:]
        pad_h, pad_w = -height % self.alignment, -width % self.alignment
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate")
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
        out = self.out(h)
        if self.kernel_size:  # on the padded size: coarse scales need whole 2^s blocks
            out = self.apply_kernels(out, x[:, :3])
        return out[..., :height, :width]

    def _filter(self, logits: torch.Tensor, linear: torch.Tensor) -> torch.Tensor:
        """Per-pixel softmax kernels (B, k*k, H, W) applied to linear color (B, 3, H, W)."""
        k = self.kernel_size
        batch, _, height, width = linear.shape
        padded = F.pad(linear, (k // 2,) * 4, mode="replicate")
        patches = F.unfold(padded, k).view(batch, 3, k * k, height, width)
        weights = torch.softmax(logits, dim=1).unsqueeze(1)  # (B, 1, k*k, H, W)
        return (patches * weights).sum(dim=2)

    def apply_kernels(self, out: torch.Tensor, color_in: torch.Tensor) -> torch.Tensor:
        """Network output (B, scales*k*k + scales-1, H, W) and the transformed color
        (B, 3, H, W) -> the filtered linear color. H, W must be multiples of 2^(scales-1)."""
        k2 = self.kernel_size**2
        out = out.float()
        linear = inverse_transform(color_in.float(), self.transform)
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
                low = F.interpolate(F.avg_pool2d(filtered, 2), scale_factor=2.0, mode="nearest")
                coarse = F.interpolate(result, scale_factor=2.0, mode="nearest")
                filtered = filtered + alpha * (coarse - low)
            result = filtered
        return result


@torch.no_grad()
def fuse_batchnorm(model: UNet) -> UNet:
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


def build_model(config: Config) -> UNet:
    """The network for a config: input channels follow the enabled features."""
    if config.model.arch != "unet":
        raise ValueError(f"unknown architecture {config.model.arch!r}")
    return UNet(input_channels(config.input), 3, config.model, config.input.transform)
