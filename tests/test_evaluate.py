"""`mcdenoise evaluate` and `mcdenoise compare` end to end on small synthetic renders."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import make_mc_dataset, write_mc_render

from mcdenoise.cli import main
from mcdenoise.evaluate import _crop_window, colorize, means


def _run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_evaluate_with_oidn_writes_every_output(tmp_path, model_path):
    for module in ("pyoidn", "flip_evaluator"):
        pytest.importorskip(module, reason="compare extra: pip install 'mcdenoise[compare]'")
    data = make_mc_dataset(tmp_path / "val", scenes=2, seeds=2, size=48)
    report = tmp_path / "report"
    result = _run("evaluate", data, "--model", model_path, "--compare", "oidn", "--report",
                  report, "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "means over 4 image(s)" in result.output
    for method in ("noisy", "mcdenoise", "oidn"):
        assert f"  {method} " in result.output
    rows = list(csv.DictReader((report / "scores.csv").open()))
    assert len(rows) == 4 * 3 and {r["method"] for r in rows} == {"noisy", "mcdenoise", "oidn"}
    assert all(float(r["seconds"]) == 0 for r in rows if r["method"] == "noisy")
    document = json.loads((report / "scores.json").read_text())
    assert [r["method"] for r in document["means"]] == ["noisy", "mcdenoise", "oidn"]
    assert document["settings"]["flip"] is True and len(document["images"]) == 12
    # OIDN denoises these smooth synthetic renders far better than their noise
    oidn, noisy = (next(r for r in document["means"] if r["method"] == k)
                   for k in ("oidn", "noisy"))
    assert oidn["psnr"] > noisy["psnr"] + 3 and oidn["flip"] < noisy["flip"]
    page = (report / "report.html").read_text()
    assert page.count("<svg") == 5 and page.count("<img") == 4 * (4 + 3)
    assert (report / "images" / "000_reference.png").is_file()
    assert (report / "images" / "003_oidn_error.png").is_file()


def test_evaluate_without_pyoidn_says_so(tmp_path, model_path, monkeypatch):
    monkeypatch.setattr("mcdenoise.oidn.oidn_available", lambda: False)
    data = make_mc_dataset(tmp_path / "val", scenes=1, seeds=1, size=32)
    result = _run("evaluate", data, "--model", model_path, "--compare", "oidn", "--device",
                  "cpu", "--means-only")
    assert result.exit_code == 0, result.output
    assert "OIDN comparison skipped: pyoidn is not installed" in result.output
    assert "oidn " not in result.output.split("means over")[1]


def test_evaluate_without_flip_says_so(tmp_path, model_path, monkeypatch):
    monkeypatch.setattr("mcdenoise.metrics.flip_available", lambda: False)
    data = make_mc_dataset(tmp_path / "val", scenes=1, seeds=1, size=32)
    report = tmp_path / "r"
    result = _run("evaluate", data, "--model", model_path, "--device", "cpu", "--report", report)
    assert result.exit_code == 0, result.output
    assert "FLIP skipped" in result.output
    document = json.loads((report / "scores.json").read_text())
    assert all(math.isnan(row["flip"]) for row in document["images"])


def test_evaluate_scores_a_precision_and_records_it(tmp_path, model_path):
    data = make_mc_dataset(tmp_path / "val", scenes=1, seeds=1, size=32)
    scores = {}
    for precision in ("fp32", "bf16"):
        report = tmp_path / precision
        result = _run("evaluate", data, "--model", model_path, "--device", "cpu",
                      "--precision", precision, "--report", report, "--means-only")
        assert result.exit_code == 0, result.output
        document = json.loads((report / "scores.json").read_text())
        assert document["settings"]["precision"] == precision
        scores[precision] = [row["psnr"] for row in document["images"]
                             if row["method"] == "mcdenoise"]
    assert scores["fp32"] != scores["bf16"]  # bf16 really ran
    assert np.allclose(scores["fp32"], scores["bf16"], atol=1.0)


def test_evaluate_needs_references(tmp_path, model_path):
    data = make_mc_dataset(tmp_path / "train", scenes=1, seeds=2, size=32, reference=False)
    result = _run("evaluate", data, "--model", model_path)
    assert result.exit_code == 1 and "no noisy render with a reference" in result.output
    assert "Traceback" not in result.output


def test_evaluate_filters_spp(tmp_path, model_path):
    data = make_mc_dataset(tmp_path / "val", scenes=1, seeds=1, size=32, spp=4)
    make_mc_dataset(tmp_path / "val", scenes=1, seeds=1, size=32, spp=16)
    result = _run("evaluate", data, "--model", model_path, "--device", "cpu", "--spp", "16")
    assert result.exit_code == 0, result.output
    assert "0016spp" in result.output and "0004spp" not in result.output


def test_compare_two_images_and_a_reference(tmp_path, rng):
    reference = (rng.random((24, 32, 3)) * 2).astype(np.float32)
    write_mc_render(tmp_path / "ref.exr", reference)
    write_mc_render(tmp_path / "a.exr", reference * 1.02)
    write_mc_render(tmp_path / "b.exr", reference * rng.gamma(2, 0.5, reference.shape)
                    .astype(np.float32))
    same = _run("compare", tmp_path / "ref.exr", tmp_path / "ref.exr")
    assert same.exit_code == 0 and "A vs B" in same.output and " inf " in same.output
    error_map = tmp_path / "maps.png"
    both = _run("compare", tmp_path / "a.exr", tmp_path / "b.exr", "--ref", tmp_path / "ref.exr",
                "--error-map", error_map)
    assert both.exit_code == 0, both.output
    lines = {line.split("  ")[0]: line.split() for line in both.output.splitlines()}
    psnr_a, psnr_b = float(lines["A vs R"][3]), float(lines["B vs R"][3])
    assert psnr_a > psnr_b + 10
    import imageio.v3 as iio

    assert iio.imread(error_map).shape == (24, 32 * 2 + 4, 3)


def test_compare_errors(tmp_path, rng):
    write_mc_render(tmp_path / "a.exr", rng.random((16, 16, 3)).astype(np.float32))
    write_mc_render(tmp_path / "b.exr", rng.random((16, 20, 3)).astype(np.float32))
    result = _run("compare", tmp_path / "a.exr", tmp_path / "b.exr")
    assert result.exit_code == 1 and "differ in size: A 16x16, B 20x16" in result.output
    result = _run("compare", tmp_path / "a.exr", tmp_path / "a.exr", "--error-map",
                  tmp_path / "x.jpg")
    assert result.exit_code == 2 and ".png" in result.output


def test_helpers():
    error = np.zeros((200, 300), np.float32)
    error[150:170, 250:270] = 1
    y, x = _crop_window(error, 128)
    assert y <= 150 and y + 128 >= 170 and x <= 250 and x + 128 >= 270
    assert _crop_window(np.ones((50, 60)), 128) == (0, 0)
    colors = colorize(np.array([[0.0, 1.0]]))
    assert colors.shape == (1, 2, 3) and colors[0, 0].sum() < 0.1 and colors[0, 1].sum() > 2
    from mcdenoise.evaluate import Score

    rows = means([Score("a", "s", 4, "noisy", 10, 1, 1, 0.5, math.nan, 0),
                  Score("b", "s", 4, "noisy", 20, 3, 1, 0.7, math.nan, 0)])
    assert rows[0]["psnr"] == 15 and rows[0]["relmse"] == 2 and math.isnan(rows[0]["flip"])


def test_oidn_filter_aux_cleans_noisy_auxiliaries(rng):
    pytest.importorskip("pyoidn", reason="compare extra: pip install 'mcdenoise[compare]'")
    from mcdenoise.oidn import oidn_filter_aux

    size = 64
    ramp = np.linspace(0.2, 0.8, size, dtype=np.float32)
    albedo = np.stack(np.broadcast_arrays(ramp[None, :], ramp[:, None], 0.5 + 0 * ramp[:, None]),
                      -1).astype(np.float32)
    normal = np.zeros((size, size, 3), np.float32)
    normal[..., 2] = 1
    noisy_albedo = albedo + rng.normal(0, 0.1, albedo.shape).astype(np.float32)
    noisy_normal = normal + rng.normal(0, 0.1, normal.shape).astype(np.float32)
    clean_albedo, clean_normal = oidn_filter_aux(noisy_albedo, noisy_normal)
    assert clean_albedo.shape == albedo.shape and clean_normal.shape == normal.shape
    assert np.abs(clean_albedo - albedo).mean() < 0.5 * np.abs(noisy_albedo - albedo).mean()
    assert np.abs(clean_normal - normal).mean() < 0.5 * np.abs(noisy_normal - normal).mean()
    clipped, no_normal = oidn_filter_aux(noisy_albedo * 2, None, prefilter=False)
    assert no_normal is None and np.array_equal(clipped, np.clip(noisy_albedo * 2, 0, 1))
