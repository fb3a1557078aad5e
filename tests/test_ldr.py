"""LDR image files: round trips in each type, alpha and grey, provenance, strips."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import photo

from mcdenoise import McdenoiseError
from mcdenoise.ldr import (
    LdrImage,
    make_strip,
    psnr_ldr,
    read_ldr,
    read_provenance,
    write_ldr,
)


@pytest.mark.parametrize("suffix", [".png", ".tif", ".tiff"])
def test_lossless_types_round_trip_8_bit_exactly(tmp_path, suffix):
    image = np.round(photo() * 255) / 255
    path = write_ldr(tmp_path / f"a{suffix}", image, provenance={"k": "v"})
    back = read_ldr(path)
    assert back.bits == 8 and not back.grey and back.alpha is None
    assert np.array_equal(back.color, image.astype(np.float32))
    assert read_provenance(path) == {"k": "v"}
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary left
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask  # as open() would, not mkstemp's


def test_jpeg_is_close_and_keeps_provenance(tmp_path):
    image = photo()
    path = write_ldr(tmp_path / "a.jpg", image, provenance={"model": "m"})
    assert np.abs(read_ldr(path).color - image).mean() < 0.02
    assert read_provenance(path) == {"model": "m"}


def test_alpha_and_grey_pass_through(tmp_path):
    import imageio.v3 as iio

    rgba = (np.concatenate([photo(), photo(seed=1)[..., :1]], -1) * 255).astype(np.uint8)
    iio.imwrite(tmp_path / "rgba.png", rgba)
    source = read_ldr(tmp_path / "rgba.png")
    write_ldr(tmp_path / "out.png", source.color, source)
    assert np.array_equal(iio.imread(tmp_path / "out.png"), rgba)

    grey = (photo()[..., 0] * 65535).astype(np.uint16)
    iio.imwrite(tmp_path / "grey16.png", grey)
    source = read_ldr(tmp_path / "grey16.png")
    assert source.grey and source.bits == 16 and source.color.shape == grey.shape + (3,)
    write_ldr(tmp_path / "grey_out.png", source.color, source)
    written = iio.imread(tmp_path / "grey_out.png")
    assert written.ndim == 2 and np.array_equal(written.astype(np.uint16), grey)


def test_unreadable_and_unwritable_files_get_one_line_errors(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(McdenoiseError, match="cannot read image"):
        read_ldr(tmp_path / "bad.png")
    with pytest.raises(McdenoiseError, match="no such file"):
        read_ldr(tmp_path / "missing.png")
    with pytest.raises(McdenoiseError, match="cannot write this type"):
        write_ldr(tmp_path / "a.gif", photo())
    assert read_provenance(tmp_path / "bad.png") is None


def test_values_are_clipped_and_quantised(tmp_path):
    image = photo()
    image[0, 0] = (-0.5, 1.7, 0.5)
    back = read_ldr(write_ldr(tmp_path / "a.png", image)).color
    assert np.allclose(back[0, 0], [0.0, 1.0, 128 / 255], atol=1e-7, rtol=0)


def test_psnr_ldr():
    target = np.full((8, 8, 3), 0.5, np.float32)
    assert psnr_ldr(target + 0.1, target) == pytest.approx(20.0, abs=1e-4)
    assert psnr_ldr(target, target) == float("inf")
    assert psnr_ldr(target + 2.0, target) == pytest.approx(psnr_ldr(target * 0 + 1.0, target))


def test_strip_puts_three_panels_under_labels():
    clean, noisy, denoised = photo(), photo(seed=1), photo(seed=2)
    strip = make_strip(clean, noisy, denoised, ("clean", "noisy 20.00 dB", "denoised"))
    height, width = clean.shape[:2]
    band = strip.shape[0] - height
    assert strip.shape == (height + band, 3 * width + 8, 3) and band >= 14
    for index, panel in enumerate((clean, noisy, denoised)):
        x = index * (width + 4)
        assert np.abs(strip[band:, x:x + width] - panel).max() <= 0.5 / 255 + 1e-6
    assert (strip[:band] < 0.5).any()  # the labels are drawn
    assert LdrImage(clean, None, False, 8).size == (width, height)
