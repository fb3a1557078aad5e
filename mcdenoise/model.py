"""The U-Net of Noise2Noise (Lehtinen et al. 2018, Table 2) with BatchNorm, any H x W."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from mcdenoise.config import Config, ModelConfig
from mcdenoise.features import input_channels


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
    concatenates the input itself, then 64 -> 32 -> out (linear)."""

    def __init__(self, in_channels: int, out_channels: int = 3,
                 config: ModelConfig | None = None) -> None:
        super().__init__()
        config = config or ModelConfig()
        enc, dec, depth = config.enc_width, config.dec_width, config.depth
        self.depth = depth
        self.alignment = 2 ** depth  # H and W must be multiples of this inside the network
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
        return field + 6 * step  # the last two convs and the output conv

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
        return self.out(h)[..., :height, :width]


def build_model(config: Config) -> UNet:
    """The network for a config: input channels follow the enabled features."""
    if config.model.arch != "unet":
        raise ValueError(f"unknown architecture {config.model.arch!r}")
    return UNet(input_channels(config.input), 3, config.model)
