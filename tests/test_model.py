"""The U-Net: shapes for any size, Table 2 structure, normalisation options."""

from __future__ import annotations

import math

import pytest
import torch

from mcdenoise.config import Config, ConfigError, ModelConfig
from mcdenoise.features import input_channels
from mcdenoise.model import UNet, build_model


@pytest.mark.parametrize("size", [(37, 53), (16, 16), (1, 1), (64, 70)])
def test_any_height_and_width(size):
    model = UNet(4, 3, ModelConfig(enc_width=8, dec_width=8, depth=3)).eval()
    out = model(torch.rand(2, 4, *size))
    assert out.shape == (2, 3, *size)


def test_alignment_is_two_to_the_depth():
    assert UNet(3, config=ModelConfig(output="direct")).alignment == 32
    assert UNet(3, config=ModelConfig(depth=3)).alignment == 8


def test_the_paper_widths_follow_table_2():
    model = UNet(10, config=ModelConfig(output="direct", enc_width=48, dec_width=96))
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    # enc_conv0..6 (7), dec 5a..2b (8), dec 1a, 1b, 1c (3) = 18 convolutions
    assert len(convs) == 18
    assert [c.out_channels for c in convs[:7]] == [48] * 7
    assert convs[7].in_channels == 96 and convs[9].in_channels == 144
    assert convs[15].in_channels == 96 + 10 and convs[15].out_channels == 64
    assert convs[16].out_channels == 32 and convs[17].out_channels == 3
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) == 17
    assert convs[17].bias is not None  # the last layer is linear, no norm, no activation


@pytest.mark.parametrize("norm", ["before", "after", "none"])
@pytest.mark.parametrize("activation", ["leaky_relu", "elu"])
def test_norm_order_and_activation_options(norm, activation):
    config = ModelConfig(enc_width=8, dec_width=8, depth=2, norm=norm, activation=activation)
    model = UNet(3, 3, config)
    block = list(model.head)
    kinds = [type(m).__name__ for m in block]
    act = "ELU" if activation == "elu" else "LeakyReLU"
    expected = {"before": ["Conv2d", "BatchNorm2d", act], "after": ["Conv2d", act, "BatchNorm2d"],
                "none": ["Conv2d", act]}[norm]
    assert kinds == expected
    out = model(torch.rand(2, 3, 20, 20))
    assert out.shape == (2, 3, 20, 20) and torch.isfinite(out).all()


@pytest.mark.parametrize("features,channels", [([], 3), (["albedo"], 6),
                                               (["albedo", "normal"], 9),
                                               (["albedo", "normal", "depth"], 10)])
def test_input_channels_follow_features(features, channels):
    config = Config()
    config.input.features = features
    assert input_channels(config.input) == channels
    assert build_model(config).head[0].in_channels == channels


def _kernel_model(kernel_size=5, transform="tonemap"):
    config = ModelConfig(enc_width=8, dec_width=8, depth=2, output="kernel",
                         kernel_size=kernel_size, kernel_scales=1)
    return UNet(10, 3, config, transform).eval()


@pytest.mark.parametrize("transform", ["tonemap", "log", "none"])
def test_kernel_output_keeps_a_flat_image(transform):
    """Softmax weights sum to 1: a constant linear color comes out unchanged, any weights."""
    from mcdenoise.features import transform_color

    model = _kernel_model(transform=transform)
    linear = torch.full((1, 3, 24, 20), 3.5)
    x = torch.rand(1, 10, 24, 20)
    x[:, :3] = torch.from_numpy(transform_color(linear.numpy(), transform))
    with torch.no_grad():
        out = model(x)
    assert torch.allclose(out, linear, rtol=1e-4)


def test_kernel_output_stays_within_its_neighbourhood():
    model = _kernel_model(kernel_size=3)
    x = torch.rand(2, 10, 16, 16)
    x[:, :3] *= 0.9  # tonemapped values below 1
    linear = (x[:, :3] ** 2.2) / (1 - x[:, :3] ** 2.2)
    with torch.no_grad():
        out = model(x)
    padded = torch.nn.functional.pad(linear, (1, 1, 1, 1), mode="replicate")
    low = -torch.nn.functional.max_pool2d(-padded, 3, stride=1)
    high = torch.nn.functional.max_pool2d(padded, 3, stride=1)
    assert (out >= low - 1e-4).all() and (out <= high + 1e-4).all()


@pytest.mark.parametrize("tap", [0, 7, 12, 24])
def test_kernel_taps_run_row_major_over_the_neighbourhood(tap):
    # trained weights depend on this order: tap t weighs the pixel at offset
    # (t // k - k // 2, t % k - k // 2), as torch's unfold orders a neighbourhood
    model = _kernel_model(kernel_size=5)
    linear = torch.rand(2, 6, 12, 12)
    logits = torch.full((2, 25, 12, 12), -80.0)
    logits[:, tap] = 80.0
    out = model._filter(logits, linear)
    dy, dx = tap // 5 - 2, tap % 5 - 2
    padded = torch.nn.functional.pad(linear, (2, 2, 2, 2), mode="replicate")
    expected = padded[..., 2 + dy:14 + dy, 2 + dx:14 + dx]
    torch.testing.assert_close(out, expected)
    unfolded = torch.nn.functional.unfold(padded, 5).view(2, 6, 25, 12, 12)[:, :, tap]
    torch.testing.assert_close(out, unfolded)


@pytest.mark.parametrize("output", ["direct", "kernel"])
def test_receptive_field_bounds_what_an_output_pixel_sees(output):
    config = ModelConfig(enc_width=4, dec_width=4, depth=2, output=output, kernel_size=5,
                         kernel_scales=1)
    model = UNet(3, 3, config).eval()
    size = model.receptive_field + 16
    x = torch.rand(1, 3, size, size) * 0.8
    with torch.no_grad():
        base = model(x)
        x[:, :, size // 2, size // 2] += 0.1
        changed = (model(x) - base).abs().sum(1)[0] > 0
    rows = torch.nonzero(changed.any(1)).flatten()
    assert rows.max() - rows.min() + 1 == model.receptive_field


def _tiny_with_prefilter(kernel_scales: int) -> Config:
    """A tiny color model's config with a tiny prefilter."""
    config = Config()
    config.model = ModelConfig(enc_width=4, dec_width=4, depth=2, kernel_scales=kernel_scales,
                               prefilter_width=4, prefilter_depth=2)
    torch.manual_seed(0)
    return config


def test_a_prefilter_cleans_the_features_the_color_network_reads():
    config = _tiny_with_prefilter(kernel_scales=1)
    model = build_model(config).eval()
    prefilter = model.prefilter
    assert prefilter.filtered == 6 and not any(p.requires_grad for p in prefilter.parameters())
    assert all(p.requires_grad for p in model.out.parameters())
    x = torch.rand(1, 10, 37, 29)
    x[:, 3:6], x[:, 6:9] = torch.rand(1, 3, 37, 29), torch.rand(1, 3, 37, 29) * 2 - 1
    with torch.no_grad():
        out, cleaned = model(x), model.prefiltered(x)
        model.prefilter = None
        plain = model(cleaned)  # the color network on the prefiltered features
        own_field = model.receptive_field
        model.prefilter = prefilter
    torch.testing.assert_close(out, plain)
    assert torch.equal(cleaned[:, :3], x[:, :3]) and torch.equal(cleaned[:, 9:], x[:, 9:])
    assert (cleaned[:, 3:9] - x[:, 3:9]).abs().mean() > 0.01  # filtered: not the input
    assert cleaned[:, 3:6].min() >= 0 and cleaned[:, 3:6].max() <= 1
    assert model.receptive_field == own_field + prefilter.receptive_field - 1
    # what one input pixel reaches: more than the color network alone, within the bound
    size = model.receptive_field + 16
    x = torch.rand(1, 10, size, size) * 0.8
    with torch.no_grad():
        base = model(x)
        x[:, 3:, size // 2, size // 2] += 0.1  # a feature pixel only
        changed = (model(x) - base).abs().sum(1)[0] > 0
    rows = torch.nonzero(changed.any(1)).flatten()
    assert own_field < rows.max() - rows.min() + 1 <= model.receptive_field
    model.train()  # a frozen prefilter keeps its BatchNorm statistics
    assert model.training and not prefilter.training


def test_prefilter_keep_appends_the_noisy_features_and_starts_as_its_source():
    from mcdenoise.config import ConfigError, check_config

    config = _tiny_with_prefilter(kernel_scales=2)
    source = build_model(config).eval()
    for module in source.modules():  # BatchNorm statistics that are not the identity
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    config.model.prefilter_keep = True
    keep = build_model(config).eval()
    assert keep.keep_noisy and keep.head[0].in_channels == source.head[0].in_channels + 6
    assert keep.tail[0][0].in_channels == source.tail[0][0].in_channels + 6
    keep.load_keeping_noisy(source)
    x = torch.rand(2, 10, 40, 36)
    x[:, 6:9] = x[:, 6:9] * 2 - 1
    with torch.no_grad():
        cleaned = keep.prefiltered(x)
        assert cleaned.shape[1] == 16 and torch.equal(cleaned[:, 10:], x[:, 3:9])
        torch.testing.assert_close(cleaned[:, :10], source.prefiltered(x))
        torch.testing.assert_close(keep(x), source(x))  # the new channels start unused
        keep.head[0].weight[:, 10:] += 0.5  # once they are used, the noisy features count
        changed = x.clone()
        changed[:, 3:6] = changed[:, 3:6].flip(-1)
        assert (keep(changed) - source(changed)).abs().max() > 1e-3
    # from a model without a prefilter: the prefilter stays as built
    config.model.prefilter_width, config.model.prefilter_keep = 0, False
    plain = build_model(config)
    config.model.prefilter_width, config.model.prefilter_keep = 4, True
    again = build_model(config)
    before = {k: v.clone() for k, v in again.prefilter.state_dict().items()}
    again.load_keeping_noisy(plain)
    assert all(torch.equal(v, again.prefilter.state_dict()[k]) for k, v in before.items())
    assert torch.equal(again.out.weight, plain.out.weight)
    with pytest.raises(ValueError, match="prefilter_keep"):
        again.load_keeping_noisy(keep)  # already keeps them
    config.model.prefilter_width = 0  # nothing to keep beside
    with pytest.raises(ConfigError, match="prefilter_keep needs"):
        check_config(config)
    with pytest.raises(ConfigError, match="prefilter_keep needs"):
        build_model(config)


def test_tail_width_sets_the_full_resolution_convs_and_old_models_keep_n2n_widths():
    config = Config()
    config.model.tail_width = 8
    slim = build_model(config)
    assert [block[0].out_channels for block in slim.tail] == [16, 8]
    assert slim.out.in_channels == 8
    saved = Config().to_dict()
    del saved["model"]["tail_width"]  # a model saved before the key
    assert Config.from_saved(saved).model.tail_width == 32
    default = build_model(Config())
    assert [block[0].out_channels for block in default.tail] == [64, 32]
    assert sum(p.numel() for p in slim.parameters()) < sum(p.numel()
                                                           for p in default.parameters())
    from mcdenoise.config import ConfigError, check_config

    config.model.tail_width = 0
    with pytest.raises(ConfigError, match="tail_width"):
        check_config(config)


def test_a_prefilter_needs_a_color_model_reading_albedo_and_normal_first():
    from mcdenoise.config import ConfigError

    config = Config()
    config.model.prefilter_width = 4
    config.input.features = ["normal", "albedo"]
    with pytest.raises(ConfigError, match="start with albedo, normal"):
        build_model(config)


def test_kernel_size_must_be_odd():
    from mcdenoise.config import ConfigError, set_value

    config = Config()
    with pytest.raises(ConfigError, match="odd"):
        set_value(config, "model.kernel_size=4")
    set_value(config, "model.output=kernel")
    # 3 scales, 2 blend weights, and the demodulation weight (on by default with albedo)
    assert build_model(config).out.out_channels == 3 * 25 + 2 + 1


@pytest.mark.parametrize("norm", ["before", "after", "none"])
@pytest.mark.parametrize("output", ["direct", "kernel"])
def test_fused_batchnorm_gives_the_same_output(norm, output):
    from mcdenoise.model import fuse_batchnorm

    torch.manual_seed(0)
    model = UNet(10, 3, ModelConfig(enc_width=8, dec_width=16, depth=3, norm=norm,
                                    output=output))
    for module in model.modules():  # statistics as after training, not the init values
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.2, 0.2)
    model.eval()
    before = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    x = torch.rand(2, 10, 40, 56)
    with torch.no_grad():
        expected = model(x)
        fused = fuse_batchnorm(model)(x)
    remaining = sum(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    assert remaining == (before if norm == "after" else 0)
    assert torch.allclose(fused, expected, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="eval mode"):
        fuse_batchnorm(model.train())


@pytest.mark.parametrize("upsample", ["nearest", "bilinear"])
@pytest.mark.parametrize("scales", [2, 3])
def test_multiscale_kernels(scales, upsample):
    from mcdenoise.features import transform_color

    config = ModelConfig(enc_width=8, dec_width=8, depth=2, output="kernel", kernel_size=3,
                         kernel_scales=scales, kernel_upsample=upsample)
    model = UNet(10, 3, config).eval()
    assert model.out.out_channels == scales * 9 + scales - 1
    assert model.alignment == max(4, 2 ** (scales - 1))
    flat = torch.full((1, 3, 21, 19), 0.7)
    x = torch.rand(1, 10, 21, 19)
    x[:, :3] = torch.from_numpy(transform_color(flat.numpy(), "tonemap"))
    with torch.no_grad():
        assert torch.allclose(model(x), flat, rtol=1e-4)  # any weights keep a flat image
        size = model.receptive_field + 24
        x = torch.rand(1, 10, size, size) * 0.8
        base = model(x)
        for offset in range(4):  # every position within a coarse block
            probe = x.clone()
            probe[:, :, size // 2 + offset, size // 2 + offset] += 0.1
            changed = (model(probe) - base).abs().sum(1)[0] > 0
            rows = torch.nonzero(changed.any(1)).flatten()
            assert rows.max() - rows.min() + 1 <= model.receptive_field


@pytest.mark.parametrize("demodulate", [False, True])
def test_load_grown_adds_a_coarser_scale_that_starts_almost_unused(demodulate):
    def kernel_unet(scales):
        config = ModelConfig(enc_width=8, dec_width=8, depth=2, output="kernel",
                             kernel_size=3, kernel_scales=scales, demodulate=demodulate)
        return UNet(10, 3, config)

    torch.manual_seed(0)
    source, grown = kernel_unet(2).eval(), kernel_unet(3).eval()
    with torch.no_grad():  # blend weights well inside (0, 1), so a wrong row shows
        source.out.bias.normal_(0.0, 1.0)
    grown.load_grown(source)
    x = torch.rand(2, 10, 24, 20)
    if demodulate:
        x[:, 3:6] = 0.2 + 0.6 * torch.rand(2, 3, 24, 20)
        grown.albedo_channel = source.albedo_channel = 3
    with torch.no_grad():
        before, after = source(x), grown(x)
    weight, old = grown.out.weight, source.out.weight
    assert torch.equal(weight[:18], old[:18])  # the two scales' logits
    assert torch.equal(weight[18:27], old[9:18])  # the new scale starts as the coarsest
    assert torch.equal(weight[27], old[18])  # the old blend weight
    assert not weight[28].any() and grown.out.bias[28] == -5.0  # the new one
    if demodulate:
        assert torch.equal(weight[-1], old[-1])  # the per-pixel mix
    assert (after - before).abs().max() < 0.02 * before.abs().max()
    assert (after - before).abs().max() > 0  # the new scale is there, barely used
    with pytest.raises(ValueError, match="fewer scales"):
        source.load_grown(grown)


# --- RED30 and SRResNet -------------------------------------------------------------------------

def _arch_config(arch: str, **options) -> ModelConfig:
    return ModelConfig(arch=arch, width=8, layers=6 if arch == "red30" else 2, **options)


@pytest.mark.parametrize("arch", ["red30", "srresnet"])
@pytest.mark.parametrize("output", ["direct", "kernel"])
def test_other_archs_denoise_any_size_and_report_their_receptive_field(arch, output):
    from mcdenoise.model import RED30, SRResNet

    network = {"red30": RED30, "srresnet": SRResNet}[arch]
    model = network(3, 3, _arch_config(arch, output=output, kernel_size=3,
                                       kernel_scales=1), "none").eval()
    size = model.receptive_field + 10
    x = torch.rand(1, 3, size, size - 3) * 0.8
    with torch.no_grad():
        base = model(x)
        assert base.shape == (1, 3, size, size - 3)
        x[:, :, size // 2, size // 2] += 0.1
        changed = (model(x) - base).abs().sum(1)[0] > 0
    rows = torch.nonzero(changed.any(1)).flatten()
    assert rows.max() - rows.min() + 1 == model.receptive_field


def test_arch_defaults_follow_the_papers():
    from mcdenoise.model import RED30, SRResNet

    red = RED30(3, 3, ModelConfig(arch="red30", output="direct"))
    convs = [m for m in red.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 30 and {c.out_channels for c in convs[:-1]} == {128}
    assert red.receptive_field == 61
    sr = SRResNet(3, 3, ModelConfig(arch="srresnet", output="direct"))
    assert len(sr.trunk) == 16 and sr.head[0].out_channels == 64
    assert sr.head[0].kernel_size == (9, 9) and sr.out.kernel_size == (9, 9)


@pytest.mark.parametrize("arch", ["red30", "srresnet"])
def test_direct_output_of_other_archs_is_a_correction_to_the_input(arch):
    config = Config()
    config.model = _arch_config(arch, output="direct")
    config.input.features, config.input.transform = [], "none"
    model = build_model(config).eval()
    for parameter in model.out.parameters():  # a last layer predicting nothing
        torch.nn.init.zeros_(parameter)
    x = torch.rand(1, 3, 20, 24)
    with torch.no_grad():
        assert torch.equal(model(x), x)


@pytest.mark.parametrize("arch", ["red30", "srresnet"])
@pytest.mark.parametrize("norm", ["before", "after", "none"])
def test_other_archs_take_the_norm_options_and_fold_batchnorm(arch, norm):
    from mcdenoise.model import fuse_batchnorm

    torch.manual_seed(0)
    config = Config()
    config.model = _arch_config(arch, norm=norm, output="direct")
    model = build_model(config)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bool(norms) == (norm != "none")
    if norm == "after":  # the activation sits between a conv and its BatchNorm
        block = model.encoder[0] if arch == "red30" else model.trunk[0][0]
        assert isinstance(block[1], torch.nn.LeakyReLU) and isinstance(block[2],
                                                                       torch.nn.BatchNorm2d)
    for module in norms:
        module.running_mean.uniform_(-0.5, 0.5)
        module.running_var.uniform_(0.5, 2.0)
    model.eval()
    x = torch.rand(2, 10, 24, 20)
    with torch.no_grad():
        expected = model(x)
        assert torch.allclose(fuse_batchnorm(model)(x), expected, atol=1e-4, rtol=1e-4)


def test_arch_is_checked():
    from mcdenoise.config import ConfigError, set_value

    config = Config()
    set_value(config, "model.arch=srresnet")
    with pytest.raises(ConfigError, match="model.arch must be one of unet, red30, srresnet"):
        set_value(config, "model.arch=resnet50")
    with pytest.raises(ConfigError, match="model.width must be >= 0"):
        set_value(config, "model.width=-1")


def _checker_input(albedo_first: bool):
    """A scene of constant irradiance on a checkerboard albedo: color = irradiance x albedo."""
    import numpy as np

    from mcdenoise.features import transform_color
    from mcdenoise.model import DEMODULATE_EPS

    yy, xx = np.mgrid[:32, :32]
    squares = (((yy // 4) + (xx // 4)) % 2)[..., None] == 0
    albedo = np.where(squares, [0.8, 0.2, 0.1], [0.05, 0.5, 0.9]).astype(np.float32)
    color = (albedo + DEMODULATE_EPS) * 1.7
    normal = np.zeros((32, 32, 3), np.float32)
    planes = [transform_color(color, "tonemap")]
    planes += [albedo, normal] if albedo_first else [normal, albedo]
    x = np.concatenate(planes, axis=-1).transpose(2, 0, 1)[None]
    return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(color).permute(2, 0, 1)


@pytest.mark.parametrize("albedo_first", [True, False])
def test_demodulated_kernels_keep_texture_that_plain_kernels_blur(albedo_first):
    features = ["albedo", "normal"] if albedo_first else ["normal", "albedo"]
    x, color = _checker_input(albedo_first)
    outputs = {}
    for demodulate, mix_logit in ((False, 0.0), (True, 30.0), (True, -30.0), (True, 0.0)):
        config = Config()
        config.input.features = features
        config.model = ModelConfig(enc_width=8, dec_width=8, depth=2, kernel_size=5,
                                   kernel_scales=3, demodulate=demodulate)
        model = build_model(config).eval()
        torch.nn.init.zeros_(model.out.weight)  # uniform 5x5 kernels at every scale
        torch.nn.init.zeros_(model.out.bias)
        if demodulate:  # the last channel weighs the demodulated result against the plain
            torch.nn.init.constant_(model.out.bias[-1:], mix_logit)
        with torch.no_grad():
            outputs[demodulate, mix_logit] = model(x)[0]
    plain = outputs[False, 0.0]
    assert (outputs[True, 30.0] - color).abs().max() < 1e-4  # flat irradiance: nothing lost
    assert (plain - color).abs().max() > 0.3  # averaging the color smears the checkerboard
    assert torch.allclose(outputs[True, -30.0], plain, atol=1e-5)
    assert torch.allclose(outputs[True, 0.0], (color + plain) / 2, atol=1e-4)


@pytest.mark.parametrize("features, output, demodulate, expected", [
    (["albedo", "normal", "depth"], "kernel", None, True),  # the default: automatic, on
    (["normal", "albedo"], "kernel", None, True),
    ([], "kernel", None, False),  # color only: nothing to demodulate by
    (["normal", "depth"], "kernel", None, False),
    (["albedo"], "direct", None, False),  # the paper's network predicts the color
    (["albedo", "normal", "depth"], "kernel", False, False),
])
def test_demodulation_is_on_by_default_where_it_can_be(features, output, demodulate, expected):
    config = Config()
    config.input.features, config.model.output = features, output
    config.model.enc_width, config.model.dec_width, config.model.depth = 8, 8, 2
    config.model.demodulate = demodulate
    model = build_model(config)
    plain = model.scales * model.kernel_size**2 + model.scales - 1 if output == "kernel" else 3
    assert model.out.out_channels == plain + int(expected)
    assert (model.albedo_channel is not None) == expected
    if expected:
        assert model.albedo_channel == 3 + 3 * features.index("albedo")
    assert config.model.demodulate is demodulate  # resolved for the network, config untouched


def test_demodulate_needs_albedo_and_kernels():
    from mcdenoise.config import ConfigError

    config = Config()
    config.input.features = ["normal", "depth"]
    config.model.demodulate = True
    with pytest.raises(ConfigError, match="albedo"):
        build_model(config)
    config.input.features = ["albedo"]
    config.model.output = "direct"
    with pytest.raises(ConfigError, match="kernel"):
        build_model(config)


def _albedo_kernel_model(albedo_kernel: bool, mix_logit: float = 30.0):
    """A demodulating model whose kernels are all uniform (zero logits) and whose mix takes
    the demodulated result only."""
    config = Config()
    config.input.features = ["albedo", "normal"]
    config.model = ModelConfig(enc_width=8, dec_width=8, depth=2, kernel_size=5,
                               kernel_scales=1, albedo_kernel=albedo_kernel)
    model = build_model(config).eval()
    torch.nn.init.zeros_(model.out.weight)
    torch.nn.init.zeros_(model.out.bias)
    torch.nn.init.constant_(model.out.bias[-1:], mix_logit)
    return model


def test_albedo_kernel_keeps_albedo_noise_out_of_the_result():
    import numpy as np

    from mcdenoise.features import transform_color

    rng = np.random.default_rng(0)
    # a flat grey wall under uniform light, seen at few samples: the albedo pass is noisy
    # and the color carries the same noise (same samples), so color / albedo is flat
    albedo = np.clip(0.5 + rng.normal(0, 0.1, (32, 32, 3)), 0.05, 1).astype(np.float32)
    color = (albedo * 0.8).astype(np.float32)
    normal = np.zeros((32, 32, 3), np.float32)
    x = np.concatenate([transform_color(color, "tonemap"), albedo, normal], -1)
    x = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)[None]))
    with torch.no_grad():
        remodulated = _albedo_kernel_model(False)(x)[0]
        smoothed = _albedo_kernel_model(True)(x)[0]
    truth = 0.5 * 0.8
    inner = (slice(None), slice(4, -4), slice(4, -4))
    raw_error = (remodulated[inner] - truth).abs().mean()
    # without the albedo kernel the albedo's noise comes straight back
    assert raw_error > 0.9 * np.abs(color - truth)[4:-4, 4:-4].mean()
    # a uniform 5x5 albedo kernel cuts it about five times
    assert (smoothed[inner] - truth).abs().mean() < 0.3 * raw_error


def test_load_adding_albedo_kernel_starts_near_the_source():
    torch.manual_seed(0)
    source, grown = _albedo_kernel_model(False), _albedo_kernel_model(True)
    with torch.no_grad():
        source.out.weight.normal_(0.0, 0.1)
        source.out.bias.normal_(0.0, 1.0)
    grown.load_adding_albedo_kernel(source)
    k2 = 25
    assert grown.out.out_channels == source.out.out_channels + k2
    assert torch.equal(grown.out.weight[:k2], source.out.weight[:k2])
    assert torch.equal(grown.out.weight[-1], source.out.weight[-1])  # the mix, still last
    assert not grown.out.weight[k2:-1].any()
    assert grown.out.bias[k2 + k2 // 2] > 0 and grown.out.bias[k2:-1].sum() == grown.out.bias[
        k2 + k2 // 2]
    x = torch.rand(2, 9, 24, 20)
    x[:, 3:6] = 0.4 + 0.01 * torch.rand(2, 3, 24, 20)  # a smooth albedo: filtering keeps it
    with torch.no_grad():
        before, after = source(x), grown(x)
    assert (after - before).abs().max() < 0.01 * before.abs().max()
    with pytest.raises(ValueError, match="without albedo kernel"):
        source.load_adding_albedo_kernel(grown)


def test_albedo_kernel_needs_demodulation():
    from mcdenoise.config import ConfigError

    config = Config()
    config.input.features = ["normal", "depth"]
    config.model.albedo_kernel = True
    with pytest.raises(ConfigError, match="albedo_kernel needs model.demodulate"):
        build_model(config)


def _residual_model(kernel_residual: bool):
    config = Config()
    config.input.features = ["albedo", "normal"]
    config.model = ModelConfig(enc_width=8, dec_width=8, depth=2, kernel_size=3,
                               kernel_scales=2, kernel_residual=kernel_residual)
    return build_model(config)


def test_load_adding_residual_starts_as_the_source():
    torch.manual_seed(0)
    source, hybrid = _residual_model(False).eval(), _residual_model(True).eval()
    with torch.no_grad():
        source.out.weight.normal_(0.0, 0.1)
        source.out.bias.normal_(0.0, 1.0)
    hybrid.load_adding_residual(source)
    assert hybrid.out.out_channels == source.out.out_channels + 3
    assert not hybrid.out.weight[-3:].any() and not hybrid.out.bias[-3:].any()
    x = torch.rand(2, 9, 24, 20)
    with torch.no_grad():
        before, after = source(x), hybrid(x)
    assert torch.allclose(after, before, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="without model.kernel_residual"):
        source.load_adding_residual(hybrid)


def test_kernel_residual_reaches_what_no_kernel_can():
    """A kernel's result is a convex combination of its neighbours: on a flat input it can
    only give that value back. The correction scales it by exp(r): here a constant bias of
    log(2) on the red channel, with the kernels uniform; black stays black."""
    model = _residual_model(True).eval()
    with torch.no_grad():
        model.out.weight.zero_()
        model.out.bias.zero_()
        model.out.bias[-3] = math.log(2.0)
    from mcdenoise.model import inverse_transform

    x = torch.zeros(1, 9, 16, 16)
    x[:, :3] = 0.6  # the tonemapped color: flat
    linear = inverse_transform(torch.tensor(0.6), "tonemap").item()
    with torch.no_grad():
        out = model(x)[0]
    assert torch.allclose(out[0], torch.full_like(out[0], 2 * linear), rtol=1e-4)
    assert torch.allclose(out[1:], torch.full_like(out[1:], linear), rtol=1e-4)
    x[:, :3] = 0.0  # a black frame: no correction lifts it
    with torch.no_grad():
        assert not model(x).any()


def test_kernel_residual_needs_kernels_of_a_color():
    config = Config()
    config.model.output, config.model.kernel_residual = "direct", True
    with pytest.raises(ConfigError, match="kernel_residual"):
        build_model(config)
