"""Still shots: flicker of denoised frames, frame by frame and as a sequence."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner
from conftest import make_mc_dataset

from mcdenoise.cli import main
from mcdenoise.shots import flicker, still_shots


def test_flicker_is_zero_for_a_stable_sequence_and_counts_changes():
    frame = np.full((4, 4, 3), 0.5, np.float32)
    assert flicker([frame, frame, frame]) == 0.0
    other = frame * 2
    step = np.abs(((1.0 / 2.0) ** (1 / 2.2)) - ((0.5 / 1.5) ** (1 / 2.2)))
    assert abs(flicker([frame, other, frame]) - step) < 1e-6


def test_evaluate_shots_scores_a_still_shot_and_the_sequence_flickers_less(tmp_path,
                                                                            model_path):
    data = make_mc_dataset(tmp_path / "shots", scenes=1, seeds=5, size=48)
    make_mc_dataset(tmp_path / "single", scenes=1, seeds=2, size=48)
    assert len(still_shots(data)) == 1 and still_shots(tmp_path / "single") == []
    result = CliRunner().invoke(main, ["evaluate", str(data), "--model", str(model_path),
                                       "--means-only", "--shots", "--report",
                                       str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    rows = {line.split("  ")[0].strip(): line for line in result.output.splitlines()
            if line.startswith("scene00")}
    lines = [line for line in result.output.splitlines() if line.startswith("scene00")]
    values = {" ".join(line.split()[2:-4]): float(line.split()[-3]) for line in lines}
    assert values["mcdenoise sequence"] < values["mcdenoise per frame"] < values["noisy"]
    assert rows and (tmp_path / "report" / "strips" / "scene00_0004spp.png").is_file()
    none = CliRunner().invoke(main, ["evaluate", str(tmp_path / "single"), "--model",
                                     str(model_path), "--means-only", "--shots"])
    assert none.exit_code == 1 and "no still shot" in none.output
