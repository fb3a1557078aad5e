"""`mcdenoise experiment`: the sample images, the run configs, the table end to end."""

from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import photo

from mcdenoise import McdenoiseError
from mcdenoise.cli import main
from mcdenoise.experiment import (
    NOISES,
    PAPER,
    TableSettings,
    format_table,
    run_config,
    run_table,
)

TINY = ("model.enc_width=8", "model.dec_width=8", "model.depth=2", "data.workers=0")


def _photos(folder, count=3, size=48):
    folder.mkdir(parents=True)
    for index in range(count):
        image = photo(size, size + 8, seed=index)
        iio.imwrite(folder / f"p{index}.png", (image * 255).astype(np.uint8))
    return folder


@pytest.mark.parametrize("noise", NOISES)
def test_clean_and_noisy_runs_differ_only_in_the_target(noise, tmp_path):
    settings = TableSettings(data=str(tmp_path), steps=80)
    clean, noisy = (run_config(settings, noise, target, 80) for target in ("clean", "noisy"))
    assert clean.data.target_noise == "clean" and noisy.data.target_noise == noisy.data.noise
    clean.data.target_noise = noisy.data.target_noise
    clean.train.name = noisy.train.name
    assert clean.to_dict() == noisy.to_dict()
    assert noisy.data.val_noise == {"gaussian": "gaussian,25", "poisson": "poisson,30",
                                    "bernoulli": "bernoulli,0.5", "text": "text,25",
                                    "impulse": "impulse,70"}[noise]  # the paper's
    assert noisy.loss.name == {"text": "l1", "impulse": "l0"}.get(noise, "l2")
    assert noisy.train.val_every == 10 and noisy.model.output == "direct"


def test_unknown_noise_is_refused_before_training(tmp_path):
    with pytest.raises(McdenoiseError, match="unknown noise 'speckle'"):
        run_config(TableSettings(data=str(tmp_path)), "speckle", "noisy", 10)
    data = _photos(tmp_path / "photos")
    result = CliRunner().invoke(main, ["experiment", "n2n-table", "--data", str(data),
                                       "--noises", "gaussian,speckle", "--steps", "2",
                                       "--out", str(tmp_path / "out")])
    assert result.exit_code == 1 and "unknown noise 'speckle'" in result.output
    assert not (tmp_path / "out").exists()


def test_table_end_to_end(tmp_path):
    data = _photos(tmp_path / "photos", count=4)
    settings = TableSettings(data=str(data), holdout=1, out=str(tmp_path / "out"),
                             noises=("gaussian", "bernoulli"), steps=6, crop=32,
                             batch_size=2, device="cpu", evaluations=3, sets=TINY)
    table = run_table(settings)
    assert table["steps"] == 6 and [row["noise"] for row in table["rows"]] == ["gaussian",
                                                                                "bernoulli"]
    for row in table["rows"]:
        assert row["paper"] == list(PAPER[row["noise"]])
        assert [step for step, _ in row["clean_history"]] == [2, 4, 6]
        results = json.loads((tmp_path / "out" / row["noisy_run"].split("/")[-1]
                              / "results.json").read_text())
        assert results["last"]["psnr"] == row["noisy"]
        assert results["last"]["psnr_input"] == row["input"]
    # the fixed validation noise: both targets are scored on the same noisy images
    assert table["rows"][0]["input"] == pytest.approx(20.3, abs=1.0)  # sigma 25
    saved = json.loads((tmp_path / "out" / "table.json").read_text())
    assert saved["rows"][1]["clean"] == table["rows"][1]["clean"]
    markdown = (tmp_path / "out" / "table.md").read_text()
    assert "| gaussian,25 | l2 |" in markdown and "31.63 / 31.61" in markdown
    assert format_table(table) in markdown
    assert iio.imread(tmp_path / "out" / "curves.png").shape[-1] in (3, 4)


def test_sample_images_are_copied(tmp_path):
    pytest.importorskip("skimage", reason="scikit-image (the dev extra) ships the photographs")
    result = CliRunner().invoke(main, ["experiment", "sample-images", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    train, val = (sorted((tmp_path / "s" / use).iterdir()) for use in ("train", "val"))
    assert len(train) == 9 and len(val) == 3
    assert min(iio.imread(p).shape[0] for p in train + val) >= 256


def test_minutes_become_one_step_count_for_every_run(tmp_path, monkeypatch):
    from mcdenoise import experiment

    data = _photos(tmp_path / "photos", count=3)
    settings = TableSettings(data=str(data), holdout=1, out=str(tmp_path / "out"),
                             noises=("poisson",), minutes=0.02, crop=32, batch_size=2,
                             device="cpu", evaluations=1, sets=TINY)
    steps = experiment.estimate_steps(settings, 0.02)
    assert isinstance(steps, int) and steps >= 1
    monkeypatch.setattr(experiment, "estimate_steps", lambda s, minutes: 3)
    table = run_table(settings)
    assert table["steps"] == 3
    assert [step for step, _ in table["rows"][0]["noisy_history"]] == [3]


def test_a_table_reuses_runs_it_finished(tmp_path, monkeypatch):
    from mcdenoise import experiment, train

    data = _photos(tmp_path / "photos", count=3)
    settings = TableSettings(data=str(data), holdout=1, out=str(tmp_path / "out"),
                             noises=("gaussian",), steps=2, crop=32, batch_size=2,
                             device="cpu", evaluations=1, sets=TINY)
    first = run_table(settings)
    monkeypatch.setattr(train, "train", lambda *a, **k: pytest.fail("trained again"))
    assert run_table(settings)["rows"] == first["rows"]
    settings.steps = 3  # another budget is another run
    monkeypatch.undo()
    assert run_table(settings)["rows"][0]["noisy_run"] != first["rows"][0]["noisy_run"]
    assert experiment.finished_run(run_config(settings, "gaussian", "clean", 3)) is not None
