"""Beyond one process: torchrun training (gloo on the CPU) and sequences split into shards."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_mc_dataset, write_mc_render

from mcdenoise import McdenoiseError
from mcdenoise.checkpoint import load_checkpoint, save_checkpoint
from mcdenoise.cli import main
from mcdenoise.config import load_config
from mcdenoise.exr import read_exr
from mcdenoise.jobs import Job, parse_shard, shard_jobs
from mcdenoise.model import build_model


def _env():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    return env


def _run(*args, cwd=None):
    done = subprocess.run([sys.executable, *map(str, args)], env=_env(), cwd=cwd,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


def _torchrun(nproc, *args, cwd=None):
    return _run("-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
                "-m", "mcdenoise", *args, cwd=cwd)


@pytest.mark.parametrize("order", ["contiguous", "interleaved"])
@pytest.mark.parametrize("count", [1, 2, 4, 7, 9])
def test_shards_partition_the_frames(order, count):
    jobs = [Job(Path(f"in.{i}.exr"), Path(f"out.{i}.exr"), i) for i in range(7)]
    parts = [shard_jobs(jobs, index, count, order) for index in range(count)]
    together = [job for part in parts for job in part]
    assert sorted(j.frame for j in together) == list(range(7))  # each frame exactly once
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    if order == "contiguous":
        assert together == jobs


def test_parse_shard():
    assert parse_shard("1/4") == (0, 4) and parse_shard(" 4 / 4 ") == (3, 4)
    for bad in ("0/4", "5/4", "1of4", "-1/2", "1/0"):
        with pytest.raises(McdenoiseError, match="K/N"):
            parse_shard(bad)


@pytest.fixture
def sequence(tmp_path):
    rng = np.random.default_rng(7)
    for frame in range(1, 7):
        write_mc_render(tmp_path / "shot" / f"beauty.{frame:04d}.exr",
                        (rng.random((24, 40, 3)) * 3).astype(np.float32),
                        rng.random((24, 40, 3)).astype(np.float32),
                        rng.random((24, 40, 3)).astype(np.float32) * 2 - 1,
                        rng.random((24, 40)).astype(np.float32) * 5)
    config = load_config("tiny")
    model = tmp_path / "model.pt"
    save_checkpoint(model, build_model(config), config, step=0)
    return tmp_path / "shot" / "beauty.####.exr", model


def _pixels(folder: Path) -> dict[str, np.ndarray]:
    out = {}
    for path in sorted(folder.glob("*.exr")):
        image = read_exr(path)
        out[path.name] = np.concatenate([c.pixels.ravel() for p in image.parts
                                         for c in p.channels.values()])
    return out


@pytest.mark.slow
def test_shards_and_torchrun_ranks_write_the_frames_of_one_run(tmp_path, sequence):
    pattern, model = sequence
    common = ["--model", model, "--device", "cpu"]
    def denoise(out, *extra):
        return CliRunner().invoke(main, ["denoise", str(pattern), "-o", f"{out}/",
                                         *map(str, common), *extra])

    whole = denoise(tmp_path / "whole")
    assert whole.exit_code == 0, whole.output
    for k in (1, 2):
        part = denoise(tmp_path / "shards", "--shard", f"{k}/2", "--shard-order", "interleaved")
        assert part.exit_code == 0, part.output
    _torchrun(2, "denoise", pattern, "-o", f"{tmp_path / 'ranks'}/", *common)
    reference = _pixels(tmp_path / "whole")
    assert len(reference) == 6
    for folder in ("shards", "ranks"):
        got = _pixels(tmp_path / folder)
        assert sorted(got) == sorted(reference)
        for name, values in got.items():
            np.testing.assert_allclose(values, reference[name], atol=1e-5)
    both = denoise(tmp_path / "x", "--shard", "3/2")
    assert both.exit_code == 1 and "1 <= K <= N" in both.output


@pytest.mark.slow
def test_torchrun_training_writes_once_and_resumes_single_process(tmp_path):
    data = make_mc_dataset(tmp_path / "data", scenes=2, seeds=2, size=48)
    args = ["train", "--config", "tiny", "--data", data, "--val-data", data, "--steps", 6,
            "--device", "cpu", "--out", tmp_path / "runs", "--name", "ddp",
            "--set", "train.ckpt_every=3", "--set", "train.val_every=3"]
    _run("-m", "mcdenoise", *args, "--nproc", 2)  # the convenience flag starts torchrun
    runs = [p for p in (tmp_path / "runs").iterdir() if not p.name.startswith(".")]
    assert [r.name for r in runs] == ["00000-ddp"]  # only rank 0 made a run folder
    run = runs[0]
    assert len(list(run.glob("events.out.tfevents.*"))) == 1
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["best.pt", "last.pt", "step_0000003.pt", "step_0000006.pt"]
    checkpoint = load_checkpoint(run / "checkpoints" / "last.pt")
    assert checkpoint["step"] == 6
    assert not any(k.startswith("module.") for k in checkpoint["model"])  # plain format
    # the checkpoint denoises in a single process
    sample = tmp_path / "frame.exr"
    rng = np.random.default_rng(0)
    write_mc_render(sample, rng.random((20, 30, 3)).astype(np.float32),
                    rng.random((20, 30, 3)).astype(np.float32),
                    rng.random((20, 30, 3)).astype(np.float32), rng.random((20, 30)) * 3)
    result = CliRunner().invoke(main, ["denoise", str(sample), "-o", str(tmp_path / "o.exr"),
                                       "--model", str(run / "checkpoints" / "last.pt"),
                                       "--device", "cpu"])
    assert result.exit_code == 0, result.output
    # a run of 2 ranks resumes in one process: back to step 3, then on to 6
    shutil.copy(run / "checkpoints" / "step_0000003.pt", run / "checkpoints" / "last.pt")
    _run("-m", "mcdenoise", "train", "--resume", run)
    assert load_checkpoint(run / "checkpoints" / "last.pt")["step"] == 6


def test_sync_bn_needs_gpus(monkeypatch):
    from mcdenoise.config import Config
    from mcdenoise.train import _start_distributed

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    config = Config()
    config.train.device, config.train.sync_bn = "cpu", True
    with pytest.raises(McdenoiseError, match="sync_bn needs CUDA"):
        _start_distributed(config)


def test_nproc_under_torchrun_is_an_error(monkeypatch, tmp_path):
    monkeypatch.setenv("WORLD_SIZE", "2")
    result = CliRunner().invoke(main, ["train", "--config", "tiny", "--data", str(tmp_path),
                                       "--nproc", "2"])
    assert result.exit_code == 1 and "under torchrun" in result.output
