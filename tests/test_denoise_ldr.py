"""`mcdenoise denoise` on PNG / JPEG / TIFF: models by kind, folders, resume, --add-noise strips."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import photo, write_mc_render

from mcdenoise.checkpoint import default_model_path
from mcdenoise.cli import main
from mcdenoise.ldr import psnr_ldr, read_ldr, read_provenance


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def _save(path, image):
    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, np.round(np.clip(image, 0, 1) * 255).astype(np.uint8))
    return path


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_an_image_is_denoised_into_the_same_type(tmp_path, ldr_model_path, suffix):
    source = _save(tmp_path / f"in{suffix}", photo())
    result = _cli("denoise", source, "-o", tmp_path / f"out{suffix}", "--model", ldr_model_path)
    assert result.exit_code == 0, result.output
    out = read_ldr(tmp_path / f"out{suffix}")
    assert out.size == (96, 72) and out.bits == 8
    made = read_provenance(tmp_path / f"out{suffix}")
    assert made["mcdenoise.model"] == "ldr-model" and len(made["mcdenoise.model_sha256"]) == 16


def test_folder_grey_alpha_and_resume(tmp_path, ldr_model_path):
    folder = tmp_path / "photos"
    _save(folder / "a.png", photo())
    grey = (photo(seed=1)[..., 0] * 255).astype(np.uint8)
    iio.imwrite(folder / "b.png", grey)
    rgba = np.concatenate([photo(40, 30, seed=2), np.linspace(0, 1, 30)[None, :, None]
                           .repeat(40, 0)], -1)
    iio.imwrite(folder / "c.png", (rgba * 255).astype(np.uint8))
    result = _cli("denoise", folder, "-o", f"{tmp_path / 'out'}/", "--model", ldr_model_path)
    assert result.exit_code == 0, result.output
    assert iio.imread(tmp_path / "out" / "b.png").ndim == 2
    alpha = iio.imread(tmp_path / "out" / "c.png")[..., 3]
    assert np.array_equal(alpha, (rgba[..., 3] * 255).astype(np.uint8))
    stamp = (tmp_path / "out" / "a.png").stat().st_mtime_ns
    again = _cli("denoise", folder, "-o", f"{tmp_path / 'out'}/", "--model", ldr_model_path,
                 "--dry-run")
    assert again.output.count("skip") == 3
    _cli("denoise", folder, "-o", f"{tmp_path / 'out'}/", "--model", ldr_model_path)
    assert (tmp_path / "out" / "a.png").stat().st_mtime_ns == stamp
    _save(tmp_path / "out2" / "a.png", photo())  # somebody else's file
    refused = _cli("denoise", folder / "a.png", "-o", tmp_path / "out2" / "a.png", "--model",
                   ldr_model_path)
    assert refused.exit_code == 1 and "was not written by mcdenoise" in refused.output
    assert _cli("denoise", folder / "a.png", "-o", tmp_path / "out2" / "a.png", "--model",
                ldr_model_path, "--overwrite").exit_code == 0


def test_models_and_inputs_of_the_wrong_kind_are_refused(tmp_path, ldr_model_path,
                                                          model_path):
    png = _save(tmp_path / "a.png", photo())
    exr = tmp_path / "r.exr"
    write_mc_render(exr, np.ones((32, 32, 3), np.float32))
    cases = [
        (("denoise", png, "-o", tmp_path / "o.png", "--model", model_path), "HDR renders"),
        (("denoise", exr, "-o", tmp_path / "o.exr", "--model", ldr_model_path),
         "trained on LDR images"),
        (("denoise", png, exr, "-o", f"{tmp_path / 'out'}/"), "mix EXR renders and PNG"),
        (("denoise", exr, "-o", tmp_path / "o.exr", "--add-noise", "gaussian,25"),
         "bring their own noise"),
        (("denoise", png, "-o", tmp_path / "o.exr"), "is written as a PNG, JPEG or TIFF"),
        (("denoise", png, "-o", tmp_path / "o.png", "--add-noise", "speckle,3"),
         "unknown noise kind"),
    ]
    for args, message in cases:
        result = _cli(*args)
        assert result.exit_code != 0 and message in result.output, (args, result.output)
        assert "Traceback" not in result.output
    assert not list(tmp_path.glob("o.*"))


def test_a_folder_of_exrs_ignores_its_pngs(tmp_path, model_path):
    write_mc_render(tmp_path / "shot" / "r.0001.exr", np.ones((32, 32, 3), np.float32),
                    np.ones((32, 32, 3), np.float32), np.ones((32, 32, 3), np.float32),
                    np.ones((32, 32), np.float32))
    _save(tmp_path / "shot" / "preview.png", photo())
    result = _cli("denoise", tmp_path / "shot", "-o", f"{tmp_path / 'out'}/", "--model", model_path,
                  "--dry-run")
    assert result.exit_code == 0, result.output
    assert "r.0001.exr" in result.output and "preview" not in result.output


def test_add_noise_writes_a_strip_with_psnr(tmp_path, ldr_model_path):
    source = _save(tmp_path / "clean.png", photo())
    out = tmp_path / "strip.png"
    result = _cli("denoise", source, "-o", out, "--model", ldr_model_path,
                  "--add-noise", "gaussian,25")
    assert result.exit_code == 0, result.output
    assert "noisy 20." in result.output and "dB" in result.output
    strip = read_ldr(out).color
    band = strip.shape[0] - 72
    assert strip.shape[1] == 3 * 96 + 8 and band >= 14
    clean = read_ldr(source).color
    assert np.array_equal(strip[band:, :96], clean)
    noisy = strip[band:, 100:196]
    assert 19.0 < psnr_ldr(noisy, clean) < 21.5  # sigma 25 / 255 (clipped for display)
    made = read_provenance(out)
    assert made["mcdenoise.add_noise"] == "gaussian,25" and made["mcdenoise.noise_seed"] == 0
    again = _cli("denoise", source, "-o", out, "--model", ldr_model_path, "--add-noise",
                 "gaussian,25", "--noise-seed", "1", "--dry-run")
    assert again.output.startswith("redo")  # another seed: a new strip


def test_bundled_gaussian_model_denoises_photographs(tmp_path):
    clean = np.concatenate([photo(128, 128, seed=s) for s in range(2)], axis=1)
    source = _save(tmp_path / "clean.png", clean)
    result = _cli("denoise", source, "-o", tmp_path / "strip.png", "--add-noise",
                  "gaussian,25")
    assert result.exit_code == 0, result.output
    strip = read_ldr(tmp_path / "strip.png").color
    band, width = strip.shape[0] - 128, 256
    clean = read_ldr(source).color
    noisy, denoised = strip[band:, width + 4:2 * width + 4], strip[band:, 2 * width + 8:]
    assert psnr_ldr(denoised, clean) > psnr_ldr(noisy, clean) + 6.0
    assert default_model_path("gaussian").stat().st_size < 4 << 20  # small


@pytest.mark.parametrize("arch", ["red30", "srresnet"])
def test_train_with_arch_then_denoise_a_photo(tmp_path, arch):
    folder = tmp_path / "photos"
    for index in range(2):
        _save(folder / f"{index}.png", photo(64, 64, seed=index))
    result = _cli("train", "--config", "noise-gaussian", "--arch", arch, "--data", folder,
                  "--val-data", folder, "--crop", 32, "--batch-size", 2, "--steps", 3,
                  "--device", "cpu", "--out", tmp_path / "runs", "--workers", 0,
                  "--set", "model.width=8", "--set", "model.layers=4")
    assert result.exit_code == 0, result.output
    run = next((tmp_path / "runs").glob("0*"))
    assert f"arch: {arch}" in (run / "config.yaml").read_text()
    denoised = _cli("denoise", folder / "0.png", "-o", tmp_path / "out.png", "--model",
                    run / "checkpoints" / "best.pt")
    assert denoised.exit_code == 0, denoised.output
    assert read_ldr(tmp_path / "out.png").size == (64, 64)
