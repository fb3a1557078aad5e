"""EXR reading and writing of whole files (exr.py), on files written in the tests."""

from __future__ import annotations

import os

import numpy as np
import OpenEXR
import pytest
from conftest import rgb_planes, window, write_raw

from mcdenoise import exr
from mcdenoise.exr import ExrError, ExrImage, read_exr, write_exr
from mcdenoise.frame import load_frame

LOSSLESS = ["none", "rle", "zips", "zip", "piz"]
LOSSY = ["pxr24", "b44", "b44a", "dwaa", "dwab"]


def _tiles(size=16):
    tiles = OpenEXR.TileDescription()
    tiles.xSize = tiles.ySize = size
    tiles.mode, tiles.roundingMode = OpenEXR.ONE_LEVEL, OpenEXR.ROUND_DOWN
    return tiles


# --- round trips --------------------------------------------------------------------------

@pytest.mark.parametrize("compression", LOSSLESS + LOSSY)
@pytest.mark.parametrize("dtype", [np.float16, np.float32])
@pytest.mark.parametrize("tiled", [False, True])
def test_round_trip_every_compression_pixel_type_and_storage(tmp_path, rng, compression,
                                                             dtype, tiled):
    channels = rgb_planes(rng, dtype=dtype)
    channels["id"] = rng.integers(0, 1000, (19, 37)).astype(np.uint32)
    header = {"compression": exr.COMPRESSIONS[compression]}
    if tiled:
        header.update(type=OpenEXR.tiledimage, tiles=_tiles())
    source = write_raw(tmp_path / "in.exr", channels, header)

    image = read_exr(source)
    assert image.parts[0].compression == compression
    assert image.parts[0].tiled == tiled
    write_exr(tmp_path / "out.exr", image)
    again = read_exr(tmp_path / "out.exr")

    part = again.parts[0]
    assert part.compression == compression and part.tiled == tiled
    assert part.channels["id"].pixels.dtype == np.uint32
    np.testing.assert_array_equal(part.channels["id"].pixels, channels["id"])
    for name in "RGB":
        got = part.channels[name].pixels
        assert got.dtype == dtype
        if compression in LOSSLESS:
            np.testing.assert_array_equal(got, channels[name])
        else:  # lossy codecs: close on average (B44 quantises 4x4 blocks of noise coarsely)
            error = np.abs(got.astype(np.float32) - channels[name].astype(np.float32))
            assert error.mean() < 0.1 and error.max() < 1.0  # values in [0, 4)


def test_round_trip_multi_part_keeps_parts_order_names_and_headers(tmp_path, rng):
    parts = {
        "ViewLayer.Combined": {f"ViewLayer.Combined.{c}": v for c, v in rgb_planes(rng).items()},
        "ViewLayer.Denoising Depth": {"ViewLayer.Denoising Depth.Z": rng.random((19, 37),
                                                                             np.float32)},
        "ViewLayer.Crypto": {"ViewLayer.Crypto.r": rng.random((19, 37), np.float32)},
    }
    source = write_raw(tmp_path / "in.exr", {}, {"Software": "test", "owner": "me"}, parts)
    image = read_exr(source)
    assert image.multipart
    write_exr(tmp_path / "out.exr", image)
    again = read_exr(tmp_path / "out.exr")
    assert again.multipart
    assert [p.name for p in again.parts] == list(parts)
    for part, chans in zip(again.parts, parts.values(), strict=True):
        assert part.header["Software"] == "test" and part.header["owner"] == "me"
        assert set(part.channels) == set(chans)
        for channel, pixels in chans.items():
            np.testing.assert_array_equal(part.channels[channel].pixels, pixels)


def test_single_part_stays_single_part(tmp_path, rng):
    source = write_raw(tmp_path / "in.exr", rgb_planes(rng))
    image = read_exr(source)
    assert not image.multipart and image.parts[0].name is None
    write_exr(tmp_path / "out.exr", image)
    assert not read_exr(tmp_path / "out.exr").multipart
    flags = int.from_bytes((tmp_path / "out.exr").read_bytes()[4:8], "little")
    assert not flags & 0x1000


@pytest.mark.parametrize("x0,y0", [(5, 3), (-4, -2)])
def test_data_window_round_trips_and_is_placed_into_display_window(tmp_path, rng, x0, y0):
    data = rgb_planes(rng, height=10, width=12)
    header = {"dataWindow": window(12, 10, x0, y0), "displayWindow": window(20, 16)}
    source = write_raw(tmp_path / "in.exr", data, header)
    image = read_exr(source)
    assert image.parts[0].data_window == (x0, y0, x0 + 11, y0 + 9)
    write_exr(tmp_path / "out.exr", image)
    assert read_exr(tmp_path / "out.exr").parts[0].data_window == (x0, y0, x0 + 11, y0 + 9)

    frame = load_frame(source)
    assert frame.color.shape == (16, 20, 3)
    expected = np.zeros((16 + 20, 20 + 20), np.float32)  # padded canvas, origin at (10, 10)
    expected[10 + y0:10 + y0 + 10, 10 + x0:10 + x0 + 12] = data["R"]
    np.testing.assert_array_equal(frame.color[..., 0], expected[10:26, 10:30])


def test_write_converts_pixel_types_on_request(tmp_path, rng):
    channels = {**rgb_planes(rng), "id": np.arange(19 * 37, dtype=np.uint32).reshape(19, 37)}
    channels["R"][0, 0] = 1e6  # beyond half's range
    image = read_exr(write_raw(tmp_path / "in.exr", channels))
    write_exr(tmp_path / "half.exr", image, pixel_type="half")
    half = read_exr(tmp_path / "half.exr").parts[0].channels
    assert half["R"].pixels.dtype == np.float16 and half["id"].pixels.dtype == np.uint32
    assert half["R"].pixels[0, 0] == np.finfo(np.float16).max  # clipped, not Inf
    write_exr(tmp_path / "float.exr", read_exr(tmp_path / "half.exr"), pixel_type="float")
    assert read_exr(tmp_path / "float.exr").parts[0].channels["G"].pixels.dtype == np.float32


def test_write_never_picks_zstd_unless_asked(tmp_path, rng):
    if "zstd" not in exr.COMPRESSIONS:
        pytest.skip("these OpenEXR bindings have no ZSTD")
    source = write_raw(tmp_path / "in.exr", rgb_planes(rng),
                       {"compression": exr.COMPRESSIONS["zstd"]})
    image = read_exr(source)
    assert image.parts[0].compression == "zstd"
    write_exr(tmp_path / "default.exr", image)
    assert read_exr(tmp_path / "default.exr").parts[0].compression == "zip"
    write_exr(tmp_path / "asked.exr", image, compression="zstd")
    assert read_exr(tmp_path / "asked.exr").parts[0].compression == "zstd"


def test_write_mipmapped_tiles_keeps_level_zero(tmp_path, rng):
    image = read_exr(write_raw(tmp_path / "in.exr", rgb_planes(rng),
                               {"type": OpenEXR.tiledimage, "tiles": _tiles(8)}))
    image.parts[0].header["tiles"].mode = OpenEXR.MIPMAP_LEVELS
    write_exr(tmp_path / "out.exr", image)
    assert read_exr(tmp_path / "out.exr").parts[0].header["tiles"].mode == OpenEXR.ONE_LEVEL


def test_from_channels_groups_layers_into_parts(tmp_path, rng):
    channels = {f"ViewLayer.Combined.{c}": v for c, v in rgb_planes(rng).items()}
    channels["ViewLayer.Denoising Depth.Z"] = rng.random((19, 37), np.float32)
    image = ExrImage.from_channels(channels, {"Software": "mcdenoise"}, multipart=True)
    write_exr(tmp_path / "out.exr", image)
    again = read_exr(tmp_path / "out.exr")
    assert [p.name for p in again.parts] == ["ViewLayer.Combined", "ViewLayer.Denoising Depth"]
    assert again.parts[1].header["Software"] == "mcdenoise"


# --- atomic writes --------------------------------------------------------------------------

def test_interrupted_write_leaves_no_file_and_keeps_the_old_one(tmp_path, rng, monkeypatch):
    image = read_exr(write_raw(tmp_path / "in.exr", rgb_planes(rng)))
    target = tmp_path / "out.exr"
    target.write_bytes(b"previous result")

    def broken_write(self, filename):
        with open(filename, "wb") as stream:
            stream.write(b"v/1\x01partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(OpenEXR.File, "write", broken_write)
    with pytest.raises(KeyboardInterrupt):
        write_exr(target, image)
    assert target.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.exr", "out.exr"]


def test_write_into_missing_folder_or_onto_a_directory_is_a_clear_error(tmp_path, rng):
    image = read_exr(write_raw(tmp_path / "in.exr", rgb_planes(rng)))
    with pytest.raises(ExrError, match="does not exist"):
        write_exr(tmp_path / "nope" / "out.exr", image)
    (tmp_path / "taken.exr").mkdir()
    with pytest.raises(ExrError, match="is a directory"):
        write_exr(tmp_path / "taken.exr", image)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.exr", "taken.exr"]


# --- bad input --------------------------------------------------------------------------------

def _good_file(tmp_path, rng):
    return write_raw(tmp_path / "good.exr", rgb_planes(rng, 64, 64))


@pytest.mark.parametrize("case,message", [
    ("missing", "no such file"),
    ("empty", r"empty file \(0 bytes\)"),
    ("text", "not an OpenEXR file"),
    ("magic_only", "truncated file"),
    ("truncated", "truncated or corrupt"),
    ("corrupt", "corrupt"),
    ("directory", "is a directory"),
])
def test_bad_files_give_one_clear_line(tmp_path, rng, case, message):
    good = _good_file(tmp_path, rng).read_bytes()
    path = tmp_path / f"{case}.exr"
    if case == "empty":
        path.write_bytes(b"")
    elif case == "text":
        path.write_text("this is not an image\n" * 20)
    elif case == "magic_only":
        path.write_bytes(exr.EXR_MAGIC)
    elif case == "truncated":
        path.write_bytes(good[: len(good) * 2 // 3])
    elif case == "corrupt":
        damaged = bytearray(good)
        for i in range(len(good) // 2, len(good)):
            damaged[i] = (damaged[i] * 7 + 3) % 256
        path.write_bytes(bytes(damaged))
    elif case == "directory":
        path.mkdir()
    with pytest.raises(ExrError, match=message) as caught:
        load_frame(path)
    text = str(caught.value)
    assert text.startswith(str(path)) and "\n" not in text


def test_header_damage_is_reported(tmp_path, rng):
    good = bytearray(_good_file(tmp_path, rng).read_bytes())
    good[8:40] = b"\xff" * 32
    path = tmp_path / "header.exr"
    path.write_bytes(bytes(good))
    with pytest.raises(ExrError, match="corrupt"):
        read_exr(path)


def test_header_only_read_lists_channels_without_pixels(tmp_path, rng):
    image = read_exr(_good_file(tmp_path, rng), header_only=True)
    assert list(image.parts[0].channels) == ["B", "G", "R"]
    assert image.parts[0].channels["R"].pixels is None


def test_written_files_get_the_usual_permissions(tmp_path, rng):
    image = read_exr(write_raw(tmp_path / "in.exr", rgb_planes(rng)))
    write_exr(tmp_path / "out.exr", image)
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "out.exr").stat().st_mode & 0o777 == 0o666 & ~umask
