"""Checkpoints: round trips, and loading never runs code from the file."""

from __future__ import annotations

import os
import pickle

import pytest
import torch

from mcdenoise.checkpoint import CheckpointError, load_checkpoint, load_network, save_checkpoint
from mcdenoise.config import Config


def _tiny():
    config = Config()
    config.model.enc_width, config.model.dec_width, config.model.depth = 8, 8, 2
    config.input.features = ["albedo"]
    return config


def test_round_trip_rebuilds_the_model_from_the_checkpoint_alone(tmp_path):
    from mcdenoise.model import build_model

    config = _tiny()
    model = build_model(config).eval()
    save_checkpoint(tmp_path / "m.pt", model, config, step=7)
    loaded, loaded_config = load_network(tmp_path / "m.pt")
    assert loaded_config == config and load_checkpoint(tmp_path / "m.pt")["step"] == 7
    x = torch.rand(1, 6, 12, 12)
    torch.testing.assert_close(loaded(x), model(x))


class _Payload:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['MCDENOISE_PWNED']}",))


def test_a_planted_malicious_pickle_does_not_run(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("MCDENOISE_PWNED", str(marker))
    path = tmp_path / "evil.pt"
    torch.save({"format": "mcdenoise-checkpoint-1", "model": _Payload()}, path)
    with pytest.raises(CheckpointError, match="refused to load"):
        load_checkpoint(path)
    assert not marker.exists()
    with open(tmp_path / "evil.pkl", "wb") as stream:
        pickle.dump(_Payload(), stream)
    with pytest.raises(CheckpointError):
        load_network(tmp_path / "evil.pkl")
    assert not marker.exists()


def test_other_files_are_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "missing.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="not a PyTorch file"):
        load_checkpoint(tmp_path / "junk.pt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an mcdenoise checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_a_model_with_non_finite_weights_is_refused_at_load(tmp_path):
    import torch

    from mcdenoise.checkpoint import CheckpointError, load_network, save_checkpoint
    from mcdenoise.config import load_config
    from mcdenoise.model import build_model

    config = load_config("tiny")
    model = build_model(config)
    with torch.no_grad():
        next(model.parameters()).view(-1)[0] = float("nan")
    save_checkpoint(tmp_path / "diverged.pt", model, config, step=7)
    with pytest.raises(CheckpointError, match="NaN or Inf"):
        load_network(tmp_path / "diverged.pt")


def test_a_killed_runs_checkpoint_temporary_is_cleared_on_the_next_save(tmp_path):
    from conftest import dead_pid

    from mcdenoise import atomic
    from mcdenoise.config import load_config
    from mcdenoise.model import build_model

    stray = tmp_path / f".last.pt.{atomic._HOST}.{dead_pid()}.abcd.tmp"
    stray.write_bytes(b"half a checkpoint")
    config = load_config("tiny")
    save_checkpoint(tmp_path / "last.pt", build_model(config), config, step=1)
    assert not stray.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]
