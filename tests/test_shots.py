"""Still and moving shots: flicker of denoised frames, frame by frame and as a sequence."""

from __future__ import annotations

import numpy as np
from click.testing import CliRunner
from conftest import make_mc_dataset, write_mc_render

from mcdenoise.cli import main
from mcdenoise.shots import flicker, moving_shots, still_shots


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
    values = {" ".join(line.split()[3:-5]): float(line.split()[-4]) for line in lines}
    assert values["mcdenoise sequence"] < values["mcdenoise per frame"] < values["noisy"]
    assert rows and (tmp_path / "report" / "strips" / "scene00_still_0004spp.png").is_file()
    none = CliRunner().invoke(main, ["evaluate", str(tmp_path / "single"), "--model",
                                     str(model_path), "--means-only", "--shots"])
    assert none.exit_code == 1 and "no shot" in none.output


def test_error_flicker_does_not_count_motion():
    rng = np.random.default_rng(0)
    references = [rng.random((6, 6, 3)).astype(np.float32) for _ in range(3)]
    assert flicker(references) > 0.05 and flicker(references, references) == 0.0
    noisy = [r + 0.1 * rng.random(r.shape).astype(np.float32) for r in references]
    assert 0 < flicker(noisy, references) < 0.2 * flicker(references)
    # coarse flicker: pixel noise averages out in 4x4 blocks, a blotch that comes and goes
    # does not
    grain = [np.full((8, 8, 3), 0.5, np.float32) + 0.2 * (rng.random((8, 8, 3)) > 0.5)
             for _ in range(4)]
    blotch = [np.full((8, 8, 3), 0.5 + 0.1 * (k % 2), np.float32) for k in range(4)]
    assert flicker(grain, block=4) < 0.5 * flicker(grain)
    assert abs(flicker(blotch, block=4) - flicker(blotch)) < 1e-6


def _moving_shot(folder, frames=5, size=48, spp=4):
    """A pattern sliding 1 px right per frame, with Cycles' Vector pass, a clean reference
    per frame and independent mean-1 noise per noisy frame."""
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    vectors = np.zeros((size, size, 4), np.float32)
    vectors[..., 0] = vectors[..., 2] = -1.0  # was 1 px left, will be 1 px right
    for frame in range(1, frames + 1):
        u = (xx - frame) / size
        albedo = np.stack([0.3 + 0.5 * ((u * (3 + c)) % 1.0) for c in range(3)], -1)
        clean = (albedo * (0.5 + 2.0 * np.exp(-((u - 0.4) ** 2 + (yy / size - 0.5) ** 2)
                                              * 6))[..., None]).astype(np.float32)
        normal = np.stack([u - 0.5, 0.5 - yy / size, np.full_like(u, 0.7)], -1)
        depth = 2.0 + yy / size
        write_mc_render(folder / f"m_ref.{frame:04d}.exr", clean, albedo, normal, depth,
                        vectors)
        noisy = clean * rng.gamma(2.0, 0.5, clean.shape).astype(np.float32)
        write_mc_render(folder / f"m_{spp:04d}spp.{frame:04d}.exr", noisy, albedo, normal,
                        depth, vectors)


def test_evaluate_scores_moving_shots_by_their_error_flicker(tmp_path, model_path):
    _moving_shot(tmp_path / "moving" / "m")
    (tmp_path / "moving" / "m" / "m_ref.0005.exr").unlink()  # frames need their reference
    (shot,) = moving_shots(tmp_path / "moving")
    assert shot.kind == "moving" and [p.name for p in shot.frames] == [
        f"m_0004spp.{k:04d}.exr" for k in range(1, 5)]
    result = CliRunner().invoke(main, ["evaluate", str(tmp_path / "moving"), "--model",
                                       str(model_path), "--shots", "--report",
                                       str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.output.splitlines() if line.startswith("m ")]
    flickers = {" ".join(f[3:-5]): float(f[-4]) for f in lines}
    coarse = {" ".join(f[3:-5]): float(f[-3]) for f in lines}
    psnrs = {" ".join(f[3:-5]): float(f[-2]) for f in lines}
    assert all(f[1] == "moving" and f[-5] == "4" for f in lines)
    assert coarse["mcdenoise sequence"] < coarse["noisy"] and coarse["noisy"] < flickers["noisy"]
    assert flickers["mcdenoise sequence"] < flickers["mcdenoise per frame"] < flickers["noisy"]
    assert psnrs["mcdenoise sequence"] > psnrs["mcdenoise per frame"]
    assert (tmp_path / "report" / "strips" / "m_moving_0004spp.png").is_file()
    import json

    rows = json.loads((tmp_path / "report" / "shots.json").read_text())
    assert {len(r["trace"]) for r in rows} == {4} and len(rows[0]["reference_trace"]) == 4
    assert len({tuple(r["pixel"]) for r in rows}) == 1  # one pixel followed in every method
