"""Configs: defaults, YAML files, --set overrides, precedence, strict keys."""

from __future__ import annotations

import importlib.resources

import pytest
import yaml

from mcdenoise.cli_train import resolve_train_config
from mcdenoise.config import Config, ConfigError, load_config, merge, save_config, set_value


def _options(**given):
    return {"config": None, "hdr": None, "sets": (), **given}


def test_defaults_are_the_paper_setup_at_the_bundled_model_widths():
    config = Config()
    # the bundled model's network: 32 / 64 channels, demodulated where an albedo is given
    assert (config.model.enc_width, config.model.dec_width, config.model.depth) == (32, 64, 5)
    assert config.model.demodulate is None
    noise = load_config("noise-gaussian").model  # the paper's experiments: its Table 2
    assert (noise.enc_width, noise.dec_width, noise.output) == (48, 96, "direct")
    assert config.model.norm == "before" and config.model.leaky_slope == 0.1
    assert config.loss.name == "hdr" and config.input.transform == "tonemap"
    assert config.input.features == ["albedo", "normal", "depth"]
    assert (config.train.beta1, config.train.beta2, config.train.adam_eps) == (0.9, 0.99, 1e-8)


def test_every_shipped_config_loads():
    shipped = importlib.resources.files("mcdenoise.configs")
    names = sorted(p.name[:-5] for p in shipped.iterdir() if p.name.endswith(".yaml"))
    assert {"default", "aux", "mc-clean", "mc-nofeatures", "noise-gaussian", "noise-poisson",
            "noise-bernoulli", "noise-text", "noise-impulse", "tiny"} <= set(names)
    for name in names:
        load_config(name)
    assert load_config("noise-impulse").loss.name == "l0"
    assert load_config("mc-nofeatures").input.features == []
    assert load_config("aux").model.task == "aux"


def test_yaml_round_trip(tmp_path):
    config = Config()
    config.train.lr, config.input.features = 1e-3, ["normal"]
    save_config(config, tmp_path / "c.yaml")
    assert load_config(str(tmp_path / "c.yaml")) == config


@pytest.mark.parametrize("data,message", [
    ({"trian": {"lr": 1}}, "unknown section 'trian'"),
    ({"train": {"learning_rate": 1}}, "unknown key 'train.learning_rate'"),
    ({"train": {"steps": "many"}}, "train.steps must be int"),
    ({"train": {"steps": 1.5}}, "train.steps must be int"),
    ({"model": {"norm": "sideways"}}, "model.norm must be one of before, after, none"),
    ({"input": {"features": ["albedo", "uv"]}}, "unknown feature 'uv'"),
    ({"train": 3}, "section 'train' must be a mapping"),
    ({"data": {"target_spp": [64, 0]}}, r"data.target_spp must list sample counts >= 1"),
    ({"data": {"spp": "x"}}, "data.spp must be int"),
    ({"train": {"val_every": 0}}, r"train.val_every must be a number of steps >= 1"),
    ({"train": {"ckpt_every": -5}}, r"train.ckpt_every must be a number of steps >= 1"),
])
def test_bad_config_values_are_errors(data, message):
    with pytest.raises(ConfigError, match=message):
        merge(Config(), data, "test")


def test_set_parses_values_as_yaml():
    config = Config()
    set_value(config, "train.lr=1e-3")
    set_value(config, "train.amp=false")
    set_value(config, "data.spp=[4, 16]")
    set_value(config, "input.features=albedo,normal")
    set_value(config, "data.val_path=null")
    set_value(config, "data.target_spp=64")  # one number for a list
    assert config.train.lr == 1e-3 and config.train.amp is False
    assert config.data.target_spp == [64]
    assert config.data.spp == [4, 16] and config.input.features == ["albedo", "normal"]
    with pytest.raises(ConfigError, match="expected section.key=value"):
        set_value(config, "lr=1")


def test_precedence_defaults_config_preset_flags_set(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"loss": {"name": "l1"}, "train": {"lr": 0.5, "steps": 7}}))
    assert resolve_train_config(_options(config=str(path))).loss.name == "l1"
    config = resolve_train_config(_options(config=str(path), hdr=True))
    assert config.loss.name == "hdr" and config.train.lr == 0.5
    config = resolve_train_config(_options(config=str(path), hdr=True, loss="smape", lr=0.1))
    assert config.loss.name == "smape" and config.train.lr == 0.1 and config.train.steps == 7
    config = resolve_train_config(_options(config=str(path), lr=0.1,
                                           sets=("train.lr=0.2", "loss.name=l2")))
    assert config.train.lr == 0.2 and config.loss.name == "l2"
    # the tonemapped loss replaces the preset's relative L2 and keeps its tonemapped input
    config = resolve_train_config(_options(hdr=True, sets=("loss.name=tonemapped",)))
    assert config.loss.name == "tonemapped" and config.input.transform == "tonemap"


def test_no_hdr_preset_and_feature_flags():
    config = resolve_train_config(_options(hdr=False, features="none"))
    assert config.loss.name == "l2" and config.input.transform == "none"
    assert config.input.features == []
    assert resolve_train_config(_options(no_features=True)).input.features == []
    config = resolve_train_config(_options(features="albedo,normal"))
    assert config.input.features == ["albedo", "normal"]
    assert resolve_train_config(_options(noise="poisson,0,50")).data.kind == "images"


def test_unknown_config_name_lists_the_shipped_ones():
    with pytest.raises(ConfigError, match="neither a file nor a shipped config .*default"):
        load_config("nope")


def test_configs_saved_before_the_kernel_output_mean_direct(tmp_path):
    from mcdenoise.config import load_saved_config

    old = Config().to_dict()
    del old["model"]["output"], old["model"]["kernel_scales"]
    assert Config.from_saved(old).model.output == "direct"
    assert Config.from_dict(old).model.output == "kernel"  # a user's partial config: defaults
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(old))
    assert load_saved_config(tmp_path / "config.yaml").model.kernel_scales == 1
    assert Config.from_saved(Config().to_dict()).model.output == "kernel"


def test_models_saved_before_kernel_upsample_keep_nearest_and_new_ones_get_bilinear():
    from mcdenoise.checkpoint import default_model_path, load_weights

    old = Config().to_dict()
    del old["model"]["kernel_upsample"]
    assert Config.from_saved(old).model.kernel_upsample == "nearest"
    assert Config().model.kernel_upsample == "bilinear"  # what a new training run gets
    assert Config.from_dict(old).model.kernel_upsample == "bilinear"  # a user's partial config
    gaussian = Config.from_saved(load_weights(default_model_path("gaussian"))[1])
    assert gaussian.model.kernel_upsample == "nearest"  # saved before the option
    for name in ("default", "color"):
        saved = Config.from_saved(load_weights(default_model_path(name))[1])
        assert saved.model.kernel_upsample == "bilinear"
    with pytest.raises(ConfigError, match="model.kernel_upsample must be one of"):
        set_value(Config(), "model.kernel_upsample=bicubic")


def test_configs_saved_before_demodulation_do_not_demodulate():
    old = Config().to_dict()
    del old["model"]["demodulate"]
    assert Config.from_saved(old).model.demodulate is False
    assert Config.from_saved(Config().to_dict()).model.demodulate is None  # automatic
    saved = Config()
    saved.model.demodulate = True
    assert Config.from_saved(saved.to_dict()).model.demodulate is True
    config = Config()
    set_value(config, "model.demodulate=false")
    assert config.model.demodulate is False
    set_value(config, "model.demodulate=null")
    assert config.model.demodulate is None
    with pytest.raises(ConfigError, match="model.demodulate must be bool"):
        set_value(config, "model.demodulate=maybe")
