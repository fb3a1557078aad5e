"""Training end to end on tiny data made here: the loss falls, resume is exact, Ctrl-C saves."""

from __future__ import annotations

import copy
import math
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import imageio.v3 as iio
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import make_mc_dataset
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from mcdenoise import train as train_module
from mcdenoise.checkpoint import load_checkpoint, load_weights, save_checkpoint
from mcdenoise.cli import main
from mcdenoise.config import load_config
from mcdenoise.model import build_model
from mcdenoise.train import lr_factor, read_results, train


def _config(tmp_path, **train_options):
    config = load_config("tiny")
    config.data.path = str(make_mc_dataset(tmp_path / "train", scenes=2, seeds=2, size=40))
    config.data.val_path = str(make_mc_dataset(tmp_path / "val", scenes=1, seeds=1, size=40))
    config.train.out = str(tmp_path / "runs")
    config.train.device = "cpu"
    for key, value in train_options.items():
        setattr(config.train, key, value)
    return config


def _scalars(run_dir, tag):
    events = EventAccumulator(str(run_dir))
    events.Reload()
    return [e.value for e in events.Scalars(tag)]


@pytest.mark.parametrize("output", ["direct", "kernel"])
def test_a_few_cpu_steps_lower_the_loss_and_log_to_tensorboard(tmp_path, output):
    config = _config(tmp_path, steps=40, val_every=20, ckpt_every=20, image_every=20,
                     log_every=5)
    config.model.output = output
    run_dir = train(config, show_progress=False)
    losses = _scalars(run_dir, "train/loss")
    # a direct network starts from garbage; a kernel one from a filtered input
    assert len(losses) == 8 and losses[-1] < (0.5 if output == "direct" else 1.0) * losses[0]
    assert len(_scalars(run_dir, "val/psnr")) == 2 and _scalars(run_dir, "train/lr")
    events = EventAccumulator(str(run_dir), size_guidance={"images": 0})
    events.Reload()
    assert any(tag.startswith("val/noisy|output|target") for tag in events.Tags()["images"])
    names = {p.name for p in (run_dir / "checkpoints").iterdir()}
    assert {"last.pt", "best.pt", "step_0000020.pt", "step_0000040.pt"} <= names
    assert (run_dir / "config.yaml").is_file() and run_dir.name == "00000-mc-noisy-hdr"


@pytest.mark.parametrize("native", [True, False])
def test_cpu_training_runs_in_bf16_where_the_cpu_multiplies_it(tmp_path, monkeypatch, native):
    """train.amp on the CPU: bf16 autocast where the flags say AVX-512 BF16 or AMX (1.5-1.7x
    the steps a second), fp32 elsewhere or with train.amp=false; weights stay fp32."""
    from mcdenoise import device
    from mcdenoise.train import _autocast

    monkeypatch.setattr(device, "native_bf16", lambda: native)
    config = _config(tmp_path, steps=6, val_every=3, ckpt_every=3)
    cpu = torch.device("cpu")
    seen = []
    with _autocast(cpu, config):
        seen.append(torch.get_autocast_dtype("cpu") if torch.is_autocast_enabled("cpu")
                    else None)
    config.train.amp = False
    with _autocast(cpu, config):
        seen.append(torch.is_autocast_enabled("cpu"))
    assert seen == [torch.bfloat16 if native else None, False]
    config.train.amp = True
    run_dir = train(config, show_progress=False)
    weights = load_checkpoint(run_dir / "checkpoints" / "last.pt")["model"]
    assert all(v.dtype in (torch.float32, torch.int64) and torch.isfinite(v.float()).all()
               for v in weights.values())
    assert all(math.isfinite(v) for v in _scalars(run_dir, "val/psnr"))


def test_resume_continues_exactly(tmp_path, monkeypatch):
    straight = train(_config(tmp_path, steps=6, val_every=2), show_progress=False)
    expected = load_checkpoint(straight / "checkpoints" / "last.pt")

    original = train_module._train_step
    def interrupt_at_3(state, *args):
        if state.step == 3:
            raise KeyboardInterrupt
        return original(state, *args)

    monkeypatch.setattr(train_module, "_train_step", interrupt_at_3)
    with pytest.raises(KeyboardInterrupt):
        train(_config(tmp_path, steps=6, val_every=2), show_progress=False)
    run_dir = tmp_path / "runs" / "00001-mc-noisy-hdr"
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["step"] == 3
    monkeypatch.setattr(train_module, "_train_step", original)
    train(_config(tmp_path), resume_dir=run_dir, show_progress=False)
    history = read_results(run_dir)["history"]  # validations of both parts, in results.json
    assert [h["step"] for h in history] == [2, 4, 6] and history[-1]["seconds"] > 0
    assert read_results(run_dir)["last"] == history[-1]
    assert read_results(straight)["last"]["psnr"] == pytest.approx(history[-1]["psnr"])
    resumed = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert resumed["step"] == 6
    for name, tensor in expected["model"].items():
        torch.testing.assert_close(resumed["model"][name], tensor, rtol=0, atol=0, msg=name)
    exp_state, res_state = expected["optimizer"]["state"], resumed["optimizer"]["state"]
    for key in exp_state:
        torch.testing.assert_close(res_state[key]["exp_avg"], exp_state[key]["exp_avg"],
                                   rtol=0, atol=0)
    assert resumed["scheduler"]["last_epoch"] == expected["scheduler"]["last_epoch"]


def test_step_decay_and_rampdown():
    config = load_config("tiny")
    config.train.steps, config.train.lr_step, config.train.lr_gamma = 100, 30, 0.5
    assert [lr_factor(s, config) for s in (0, 29, 30, 60, 99)] == [1, 1, 0.5, 0.25, 0.125]
    config.train.lr_step, config.train.rampdown = 0, 0.5
    assert lr_factor(10, config) == 1.0 and lr_factor(75, config) == pytest.approx(0.5)
    assert lr_factor(100, config) == pytest.approx(0.0)


@pytest.mark.parametrize("name", ["noise-gaussian", "noise-poisson", "noise-bernoulli",
                                  "noise-text", "noise-impulse"])
def test_synthetic_noise_configs_train(tmp_path, name):
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for index in range(2):
        iio.imwrite(images / f"{index}.png", rng.integers(0, 255, (48, 40, 3), dtype=np.uint8))
    config = load_config(name)
    tiny = load_config("tiny")
    config.model, config.train = tiny.model, tiny.train
    config.data.crop, config.data.batch_size, config.data.workers = 32, 2, 0
    config.data.path = config.data.val_path = str(images)
    config.train.out, config.train.device = str(tmp_path / "runs"), "cpu"
    run_dir = train(config, show_progress=False)
    assert len(_scalars(run_dir, "val/psnr")) == 2
    assert run_dir.name.startswith("00000-images-")


def test_run_numbers_are_claimed_once(tmp_path):
    config = _config(tmp_path)
    first = train_module.new_run_dir(config)
    # another run started in the same instant claimed the next number but has not made its
    # folder yet: this one must not take the number too
    (tmp_path / "runs" / ".numbers" / "00001").touch()
    config.train.name = "other"
    second = train_module.new_run_dir(config)
    assert (first.name, second.name) == ("00000-mc-noisy-hdr", "00002-other")
    with ThreadPoolExecutor(4) as pool:  # at once, several names: every number distinct
        made = list(pool.map(lambda i: train_module.new_run_dir(_named(config, f"r{i}")),
                             range(8)))
    assert sorted(p.name[:5] for p in made) == [f"{n:05d}" for n in range(3, 11)]


def _named(config, name):
    config = copy.deepcopy(config)
    config.train.name = name
    return config


def test_init_from_fine_tunes_and_rejects_another_network(tmp_path):
    first = train(_config(tmp_path, steps=2), show_progress=False)
    config = _config(tmp_path, steps=2, init_from=str(first / "checkpoints" / "last.pt"))
    train(config, show_progress=False)
    config.model.kernel_scales += 1  # a wider reach grows from the smaller network
    grown = train(config, show_progress=False)
    assert (grown / "checkpoints" / "last.pt").exists()
    # model.kernel_residual: the correction starts at zero, so the first step starts from
    # the source's output, and it trains away from zero
    config.model.kernel_residual = True
    hybrid = train(config, show_progress=False)
    weights = load_checkpoint(hybrid / "checkpoints" / "last.pt")["model"]
    source = load_checkpoint(grown / "checkpoints" / "last.pt")["model"]["out.weight"]
    assert weights["out.weight"].shape[0] == source.shape[0] + 3
    assert weights["out.weight"][-3:].abs().sum() > 0
    config.input.features = []
    runs = sorted((tmp_path / "runs").iterdir())
    with pytest.raises(Exception, match="its network does not match this config"):
        train(config, show_progress=False)
    assert sorted((tmp_path / "runs").iterdir()) == runs  # no empty run folder left behind


def test_cli_bad_data_is_one_line_before_training(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["train", "--config", "tiny", "--data",
                                       str(tmp_path / "empty"), "--out", str(tmp_path / "r")])
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: {tmp_path / 'empty'}: no renders found " \
                                    "(expected <scene>/<scene>_<spp>spp_s<seed>.exr)"
    assert not (tmp_path / "r").exists()


def test_cli_resume_refuses_other_options(tmp_path):
    result = CliRunner().invoke(main, ["train", "--resume", str(tmp_path), "--lr", "1"])
    assert result.exit_code == 2 and "drop --lr" in result.output


def test_a_config_the_network_refuses_fails_before_any_run_folder(tmp_path):
    make_mc_dataset(tmp_path / "data", scenes=1, size=16)
    result = CliRunner().invoke(main, [
        "train", "--hdr", "--no-features", "--data", str(tmp_path / "data"), "--steps", "1",
        "--device", "cpu", "--workers", "0", "--out", str(tmp_path / "runs"),
        "--set", "model.demodulate=true"])
    assert result.exit_code == 1
    assert "model.demodulate needs" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_ctrl_c_stops_between_steps(tmp_path, monkeypatch):
    original = train_module._train_step
    finished = []

    def ctrl_c_during_step_3(state, *args):
        loss = original(state, *args)
        if state.step == 3:
            os.kill(os.getpid(), signal.SIGINT)  # lands in the middle of the loop's work
        finished.append(state.step)  # the step's own work is never cut short
        return loss

    monkeypatch.setattr(train_module, "_train_step", ctrl_c_during_step_3)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        train(_config(tmp_path, steps=8), show_progress=False)
    run_dir = tmp_path / "runs" / "00000-mc-noisy-hdr"
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["step"] == 3
    assert finished == [1, 2, 3]
    assert signal.getsignal(signal.SIGINT) is before


def test_ctrl_c_saves_and_exits_cleanly(tmp_path):
    config = _config(tmp_path)
    command = [sys.executable, "-m", "mcdenoise", "train", "--config", "tiny", "--data",
               config.data.path, "--out", str(tmp_path / "runs"), "--steps", "100000",
               "--device", "cpu"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    last = tmp_path / "runs" / "00000-mc-noisy-hdr" / "checkpoints" / "step_0000002.pt"
    deadline = time.time() + 120
    while not last.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "Traceback" not in stderr and "resume with --resume" in stderr
    step = load_checkpoint(last.parent / "last.pt")["step"]
    assert step >= 2


def test_noise_flag_trains_photographs_with_the_noise_config(tmp_path):
    from mcdenoise.cli_train import resolve_train_config

    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        iio.imwrite(folder / f"p{i}.png", (rng.random((40, 40, 3)) * 255).astype(np.uint8))
    config = resolve_train_config({"noise": "bernoulli,0,0.95", "target_noise":
                                   "bernoulli,0,0.95", "data": str(folder)})
    assert config.data.kind == "images" and config.input.features == []
    assert config.loss.name == load_config("noise-bernoulli").loss.name
    result = CliRunner().invoke(main, [
        "train", "--data", str(folder), "--noise", "gaussian,0,50", "--target-noise",
        "gaussian,0,50", "--crop", "32", "--batch-size", "2", "--steps", "2", "--workers", "1",
        "--device", "cpu", "--out", str(tmp_path / "runs"),
        "--set", "model.enc_width=8", "--set", "model.dec_width=8"])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output


def test_config_and_worker_errors_are_one_line_and_leave_no_run_folder(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    iio.imwrite(folder / "p.png", np.zeros((40, 40, 3), np.uint8))
    result = CliRunner().invoke(main, [
        "train", "--data", str(folder), "--noise", "gaussian,0,50", "--features",
        "--crop", "32", "--steps", "2", "--workers", "1", "--device", "cpu",
        "--out", str(tmp_path / "runs")])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "--no-features" in result.output and not (tmp_path / "runs").exists()


def test_worker_tracebacks_are_unwrapped():
    from mcdenoise import McdenoiseError
    from mcdenoise.train import _unwrapped

    class Loader:
        def __iter__(self):
            yield 1
            raise McdenoiseError("Caught DataError in DataLoader worker process 0.\n"
                                 "Original Traceback (most recent call last):\n  File x\n"
                                 "mcdenoise.data.DataError: scene 'a': bad file\n")

    items = _unwrapped(Loader())
    assert next(items) == 1
    with pytest.raises(McdenoiseError) as caught:
        next(items)
    assert str(caught.value) == "scene 'a': bad file"


def test_a_finished_run_can_be_extended_and_the_schedule_restarts_warm(tmp_path):
    config = _config(tmp_path, steps=4, ckpt_every=2, val_every=100, rampdown=0.5)
    run_dir = train(config, show_progress=False)
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["step"] == 4
    refused = CliRunner().invoke(main, ["train", "--resume", str(run_dir), "--steps", "3"])
    assert refused.exit_code == 2 and "only extend" in refused.output
    result = CliRunner().invoke(main, ["train", "--resume", str(run_dir), "--steps", "8"])
    assert result.exit_code == 0, result.output
    assert load_checkpoint(run_dir / "checkpoints" / "last.pt")["step"] == 8
    assert "steps: 8" in (run_dir / "config.yaml").read_text()
    extended = load_config("tiny")
    extended.train.steps, extended.train.rampdown = 8, 0.5
    assert lr_factor(4, extended) == pytest.approx(1.0)  # the ramp-down moved to 4..8
    assert lr_factor(7, extended) < 0.2


def test_resume_of_a_run_without_checkpoint_says_so(tmp_path):
    run = tmp_path / "00000-x"
    run.mkdir()
    config = load_config("tiny")
    from mcdenoise.config import save_config

    save_config(config, run / "config.yaml")
    result = CliRunner().invoke(main, ["train", "--resume", str(run)])
    assert result.exit_code == 1 and "before its first checkpoint" in result.output


def test_train_help_shows_the_defaults():
    text = CliRunner().invoke(main, ["train", "--help"]).output
    assert "[default: 100000]" in text and "[default: 128]" in text and "[default: 8]" in text


def _noisy_aux_dataset(root, scenes: int, seeds: int, size: int = 40):
    """Renders whose albedo and normal are noisy too (as at low spp through depth of field,
    motion blur or fine texture), independently per seed; a clean reference."""
    from conftest import write_mc_render

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    for index in range(scenes):
        scene, rng = f"aux{index:02d}", np.random.default_rng(index)
        albedo = np.stack([0.2 + 0.6 * ((xx * (2 + c + index)) % 1.0) for c in range(3)], -1)
        normal = np.stack([xx - 0.5, 0.5 - yy, np.full_like(xx, 0.7)], -1)
        normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
        depth, color = 2.0 + yy * 3.0, albedo * 2.0
        for seed in range(seeds):
            noisy_normal = normal + rng.normal(0, 0.3, normal.shape)
            noisy_normal /= np.linalg.norm(noisy_normal, axis=-1, keepdims=True)
            write_mc_render(root / scene / f"{scene}_0004spp_s{seed:03d}.exr", color,
                            np.clip(albedo + rng.normal(0, 0.15, albedo.shape), 0, 1),
                            noisy_normal, depth)
        write_mc_render(root / scene / f"{scene}_ref.exr", color, albedo, normal, depth)
    return root


def test_an_aux_model_learns_to_denoise_albedo_and_normal_and_is_no_color_denoiser(tmp_path):
    from mcdenoise import McdenoiseError
    from mcdenoise.denoiser import load_model

    config = _config(tmp_path, steps=60, val_every=60, ckpt_every=60, image_every=60)
    config.data.path = str(_noisy_aux_dataset(tmp_path / "aux-train", scenes=2, seeds=2))
    config.data.val_path = str(_noisy_aux_dataset(tmp_path / "aux-val", scenes=1, seeds=1))
    config.model.task, config.loss.name = "aux", "l2"
    run_dir = train(config, show_progress=False)
    last = read_results(run_dir)["last"]
    # scored against the reference's albedo and normal: the output is far cleaner than the
    # noisy passes (kernels average the noise away)
    assert last["psnr"] > last["psnr_input"] + 5.0 and run_dir.name.endswith("-aux-noisy-l2")
    model = run_dir / "checkpoints" / "last.pt"
    with pytest.raises(McdenoiseError, match="denoises albedo and normal passes"):
        load_model(model, device="cpu")
    source = tmp_path / "aux-val" / "aux00" / "aux00_0004spp_s000.exr"
    result = CliRunner().invoke(main, ["denoise", str(source), "-o", str(tmp_path / "o.exr"),
                                       "--model", str(model)])
    assert result.exit_code != 0 and "model.task=aux" in result.output
    assert not (tmp_path / "o.exr").exists()


def test_an_aux_model_needs_albedo_and_normal_first(tmp_path):
    make_mc_dataset(tmp_path / "data", scenes=1, size=16)
    result = CliRunner().invoke(main, [
        "train", "--config", "aux", "--features", "normal,albedo", "--data",
        str(tmp_path / "data"), "--steps", "1", "--device", "cpu", "--workers", "0",
        "--out", str(tmp_path / "runs")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "needs input.features to start with albedo, normal" in result.output
    assert not (tmp_path / "runs").exists()


def test_a_color_model_trains_behind_a_frozen_prefilter_that_ships_inside_it(tmp_path):
    from mcdenoise.denoiser import load_model

    aux = _config(tmp_path, steps=4, name="aux")
    aux.data.path = str(_noisy_aux_dataset(tmp_path / "aux-train", scenes=2, seeds=2))
    aux.data.val_path = str(_noisy_aux_dataset(tmp_path / "aux-val", scenes=1, seeds=1))
    aux.model = load_config("aux").model
    aux.model.enc_width, aux.model.dec_width, aux.model.depth = 4, 8, 2
    aux.model.tail_width = 3  # a slim full-resolution tail
    aux.input, aux.loss = load_config("aux").input, load_config("aux").loss
    prefilter = train(aux, show_progress=False) / "checkpoints" / "last.pt"

    config = _config(tmp_path, steps=4, prefilter_from=str(prefilter))
    config.data.path = aux.data.path
    config.model.prefilter_width, config.model.prefilter_depth = 4, 2
    config.model.prefilter_tail = 3
    first = train(config, show_progress=False)
    weights = load_checkpoint(first / "checkpoints" / "last.pt")["model"]
    trained = load_checkpoint(prefilter)["model"]
    start = load_checkpoint(first / "checkpoints" / "step_0000002.pt")["model"]
    for name, value in trained.items():  # frozen: weights and BatchNorm statistics
        assert torch.equal(weights[f"prefilter.{name}"], value), name
    assert not torch.equal(weights["out.weight"], start["out.weight"])  # the rest trains
    # a trained color model and a trained prefilter put together without training
    plain = load_config("tiny")
    save_checkpoint(tmp_path / "color.pt", build_model(plain), plain, step=7)
    attached = tmp_path / "attached.safetensors"
    result = CliRunner().invoke(main, ["export", str(tmp_path / "color.pt"), "-o",
                                       str(attached), "--prefilter", str(prefilter)])
    assert result.exit_code == 0, result.output
    joined, joined_config, _ = load_weights(attached)
    assert (joined_config["model"]["prefilter_width"], joined_config["model"]["prefilter_depth"],
            joined_config["model"]["prefilter_tail"]) == (4, 2, 3)
    assert torch.equal(joined["prefilter.out.weight"], trained["out.weight"])
    assert torch.equal(joined["out.weight"], load_checkpoint(tmp_path / "color.pt")["model"]
                       ["out.weight"])
    assert load_model(attached, device="cpu").prefilter is not None
    # train.prefilter_from also takes a color model that carries a prefilter (the bundled
    # default): a new color network trains from scratch behind that prefilter
    behind = _config(tmp_path, steps=2, name="behind", prefilter_from=str(attached))
    behind.data.path = aux.data.path
    behind.model.prefilter_width, behind.model.prefilter_depth = 4, 2
    behind.model.prefilter_tail = 3
    weights = load_checkpoint(train(behind, show_progress=False) / "checkpoints"
                              / "last.pt")["model"]
    for name, value in trained.items():
        assert torch.equal(weights[f"prefilter.{name}"], value), name
    twice = CliRunner().invoke(main, ["export", str(attached), "-o",
                                      str(tmp_path / "2.safetensors"), "--prefilter",
                                      str(prefilter)])
    assert twice.exit_code != 0 and "without a prefilter takes one" in twice.output
    assert "Traceback" not in twice.output and not (tmp_path / "2.safetensors").exists()
    # fine-tuning the whole model needs no prefilter_from: init_from holds the prefilter
    again = _config(tmp_path, steps=2, init_from=str(first / "checkpoints" / "last.pt"))
    again.model.prefilter_width, again.model.prefilter_depth = 4, 2
    again.model.prefilter_tail = 3
    again.data.path = aux.data.path
    second = train(again, show_progress=False)
    weights = load_checkpoint(second / "checkpoints" / "last.pt")["model"]
    assert torch.equal(weights["prefilter.out.weight"], trained["out.weight"])
    source = tmp_path / "aux-val" / "aux00" / "aux00_0004spp_s000.exr"
    out = tmp_path / "o.exr"
    result = CliRunner().invoke(main, ["denoise", str(source), "-o", str(out), "--model",
                                       str(second / "checkpoints" / "last.pt")])
    assert result.exit_code == 0 and out.is_file(), result.output
    # the torch backend runs the prefilter as a stage of its own, tiled by its own reach
    denoiser = load_model(second / "checkpoints" / "last.pt", device="cpu")
    assert denoiser.prefilter is not None and denoiser.model.prefilter is None
    # model.prefilter_keep: the noisy features beside the prefiltered ones, from the model
    # above; their weights start at zero and train
    keep = _config(tmp_path, steps=2, init_from=str(second / "checkpoints" / "last.pt"))
    keep.model.prefilter_width, keep.model.prefilter_depth = 4, 2
    keep.model.prefilter_tail, keep.model.prefilter_keep = 3, True
    keep.data.path = aux.data.path
    third = train(keep, show_progress=False)
    weights = load_checkpoint(third / "checkpoints" / "last.pt")["model"]
    source_head = load_checkpoint(second / "checkpoints" / "last.pt")["model"]["head.0.weight"]
    assert weights["head.0.weight"].shape[1] == source_head.shape[1] + 6
    assert weights["head.0.weight"][:, -6:].abs().sum() > 0  # trained away from zero
    assert torch.equal(weights["prefilter.out.weight"], trained["out.weight"])
    result = CliRunner().invoke(main, ["denoise", str(source), "-o", str(tmp_path / "k.exr"),
                                       "--model", str(third / "checkpoints" / "last.pt")])
    assert result.exit_code == 0 and (tmp_path / "k.exr").is_file(), result.output


def test_a_prefilter_of_another_shape_or_none_is_one_line_and_no_run(tmp_path):
    make_mc_dataset(tmp_path / "data", scenes=1, size=16)
    args = ["train", "--config", "tiny", "--data", str(tmp_path / "data"), "--steps", "1",
            "--device", "cpu", "--workers", "0", "--out", str(tmp_path / "runs"),
            "--set", "model.prefilter_width=4", "--set", "model.prefilter_depth=2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "needs train.prefilter_from" in result.output
    config = load_config("tiny")  # a color model is no prefilter
    save_checkpoint(tmp_path / "color.pt", build_model(config), config, step=1)
    result = CliRunner().invoke(main, args + ["--set", f"train.prefilter_from={tmp_path}/color.pt"])
    assert result.exit_code == 1 and "not a prefilter of the shape" in result.output
    assert "model.task" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "runs").exists()
