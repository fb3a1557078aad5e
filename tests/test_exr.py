"""EXR reading, writing and the buffer alias table, on files written in the tests."""

from __future__ import annotations

import logging
import os

import numpy as np
import OpenEXR
import pytest
from conftest import window, write_raw

from mcdenoise import exr
from mcdenoise.exr import ExrError, ExrImage, load_frame, read_exr, write_exr

LOSSLESS = ["none", "rle", "zips", "zip", "piz"]
LOSSY = ["pxr24", "b44", "b44a", "dwaa", "dwab"]


def _image(rng, height=19, width=37, dtype=np.float32):
    return {c: (rng.random((height, width)) * 4).astype(dtype) for c in "RGB"}


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
    channels = _image(rng, dtype=dtype)
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
        "ViewLayer.Combined": {f"ViewLayer.Combined.{c}": v for c, v in _image(rng).items()},
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
    source = write_raw(tmp_path / "in.exr", _image(rng))
    image = read_exr(source)
    assert not image.multipart and image.parts[0].name is None
    write_exr(tmp_path / "out.exr", image)
    assert not read_exr(tmp_path / "out.exr").multipart
    flags = int.from_bytes((tmp_path / "out.exr").read_bytes()[4:8], "little")
    assert not flags & 0x1000


@pytest.mark.parametrize("x0,y0", [(5, 3), (-4, -2)])
def test_data_window_round_trips_and_is_placed_into_display_window(tmp_path, rng, x0, y0):
    data = _image(rng, height=10, width=12)
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
    channels = {**_image(rng), "id": np.arange(19 * 37, dtype=np.uint32).reshape(19, 37)}
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
    source = write_raw(tmp_path / "in.exr", _image(rng),
                       {"compression": exr.COMPRESSIONS["zstd"]})
    image = read_exr(source)
    assert image.parts[0].compression == "zstd"
    write_exr(tmp_path / "default.exr", image)
    assert read_exr(tmp_path / "default.exr").parts[0].compression == "zip"
    write_exr(tmp_path / "asked.exr", image, compression="zstd")
    assert read_exr(tmp_path / "asked.exr").parts[0].compression == "zstd"


def test_write_mipmapped_tiles_keeps_level_zero(tmp_path, rng):
    image = read_exr(write_raw(tmp_path / "in.exr", _image(rng),
                               {"type": OpenEXR.tiledimage, "tiles": _tiles(8)}))
    image.parts[0].header["tiles"].mode = OpenEXR.MIPMAP_LEVELS
    write_exr(tmp_path / "out.exr", image)
    assert read_exr(tmp_path / "out.exr").parts[0].header["tiles"].mode == OpenEXR.ONE_LEVEL


def test_from_channels_groups_layers_into_parts(tmp_path, rng):
    channels = {f"ViewLayer.Combined.{c}": v for c, v in _image(rng).items()}
    channels["ViewLayer.Denoising Depth.Z"] = rng.random((19, 37), np.float32)
    image = ExrImage.from_channels(channels, {"Software": "mcdenoise"}, multipart=True)
    write_exr(tmp_path / "out.exr", image)
    again = read_exr(tmp_path / "out.exr")
    assert [p.name for p in again.parts] == ["ViewLayer.Combined", "ViewLayer.Denoising Depth"]
    assert again.parts[1].header["Software"] == "mcdenoise"


# --- atomic writes --------------------------------------------------------------------------

def test_interrupted_write_leaves_no_file_and_keeps_the_old_one(tmp_path, rng, monkeypatch):
    image = read_exr(write_raw(tmp_path / "in.exr", _image(rng)))
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
    image = read_exr(write_raw(tmp_path / "in.exr", _image(rng)))
    with pytest.raises(ExrError, match="does not exist"):
        write_exr(tmp_path / "nope" / "out.exr", image)
    (tmp_path / "taken.exr").mkdir()
    with pytest.raises(ExrError, match="is a directory"):
        write_exr(tmp_path / "taken.exr", image)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.exr", "taken.exr"]


# --- the alias table --------------------------------------------------------------------------

def _blender_channels(rng, layer="ViewLayer", noisy=False, older=False, height=8, width=10):
    planes = {}
    def add(pass_name, letters, scale=1.0):
        for letter in letters:
            name = f"{layer}.{pass_name}.{letter}"
            planes[name] = (rng.random((height, width)) * scale).astype(np.float32)
    add("Combined", "RGBA")
    if noisy:
        add("Noisy Image", "RGBA")
    add("Denoising Albedo", "RGB")
    add("Denoising Normal", "XYZ")
    add("Denoising Depth", "Z", 10.0)
    add("Normal", "XYZ")
    add("DiffCol" if older else "Diffuse Color", "RGB")
    add("Depth", "Z", 10.0)
    return planes


def _by_pass(channels):
    parts = {}
    for name, pixels in channels.items():
        parts.setdefault(name.rsplit(".", 1)[0], {})[name] = pixels
    return parts


@pytest.mark.parametrize("noisy", [False, True])
def test_blender5_multipart_file(tmp_path, rng, noisy):
    channels = _blender_channels(rng, noisy=noisy)
    path = write_raw(tmp_path / "b5.exr", {}, {"colorInteropID": "lin_rec709_scene"},
                     parts=_by_pass(channels))
    frame = load_frame(path)
    beauty = "Noisy Image" if noisy else "Combined"
    assert frame.layer == "ViewLayer"
    assert frame.sources["color"].pass_name == beauty
    assert frame.sources["albedo"].pass_name == "Denoising Albedo"
    assert frame.sources["normal"].pass_name == "Denoising Normal"
    assert frame.normal_space == "camera"
    assert frame.sources["depth"].pass_name == "Denoising Depth"
    assert frame.sources["alpha"].channels == (f"ViewLayer.{beauty}.A",)
    for letter, index in zip("RGB", range(3), strict=True):
        np.testing.assert_array_equal(frame.color[..., index],
                                      channels[f"ViewLayer.{beauty}.{letter}"])
    np.testing.assert_array_equal(frame.normal[..., 2], channels["ViewLayer.Denoising Normal.Z"])
    np.testing.assert_array_equal(frame.depth, channels["ViewLayer.Denoising Depth.Z"])
    assert frame.notes == []


def test_older_blender_single_part_with_renderlayer_prefix(tmp_path, rng):
    channels = _blender_channels(rng, layer="RenderLayer", older=True)
    for name in [n for n in channels if "Denoising" in n]:
        del channels[name]
    frame = load_frame(write_raw(tmp_path / "old.exr", channels))
    assert frame.layer == "RenderLayer"
    assert frame.sources["color"].pass_name == "Combined"
    assert frame.sources["albedo"].pass_name == "DiffCol"
    assert frame.sources["depth"].pass_name == "Depth"
    # Blender's world-space Normal pass is used only as a last resort, and said to be so.
    assert frame.sources["normal"].pass_name == "Normal" and frame.normal_space == "world"
    assert any("world-space" in note for note in frame.notes)


def test_view_layers_with_dots_and_layer_choice(tmp_path, rng):
    channels = {**_blender_channels(rng, layer="ViewLayer"),
                **_blender_channels(rng, layer="ViewLayer.001")}
    path = write_raw(tmp_path / "layers.exr", channels)
    # one part: channels are stored sorted, so 'ViewLayer.001' comes first
    assert exr.list_layers(read_exr(path)) == ["ViewLayer.001", "ViewLayer"]
    frame = load_frame(path, layer="ViewLayer.001")
    assert frame.layer == "ViewLayer.001"
    np.testing.assert_array_equal(frame.color[..., 1], channels["ViewLayer.001.Combined.G"])
    with pytest.raises(ExrError, match="view layer 'Other' is not in the file"):
        load_frame(path, layer="Other")


def test_generic_names(tmp_path, rng):
    channels = {**_image(rng), "A": np.ones((19, 37), np.float32),
                **{f"albedo.{c}": rng.random((19, 37), np.float32) for c in "RGB"},
                **{f"N.{c}": rng.random((19, 37), np.float32) for c in "XYZ"},
                "Z": rng.random((19, 37), np.float32)}
    frame = load_frame(write_raw(tmp_path / "generic.exr", channels))
    assert frame.layer == ""
    assert frame.sources["color"].channels == ("R", "G", "B")
    assert frame.sources["albedo"].channels == ("albedo.R", "albedo.G", "albedo.B")
    assert frame.sources["normal"].channels == ("N.X", "N.Y", "N.Z")
    assert frame.normal_space == "unknown"
    assert frame.sources["depth"].channels == ("Z",)
    assert frame.sources["alpha"].channels == ("A",)
    np.testing.assert_array_equal(frame.depth, channels["Z"])


def test_luminance_only_image_gives_grey_beauty(tmp_path, rng):
    luminance = rng.random((6, 7), np.float32)
    frame = load_frame(write_raw(tmp_path / "y.exr", {"Y": luminance}))
    assert frame.color.shape == (6, 7, 3)
    np.testing.assert_array_equal(frame.color[..., 2], luminance)


def test_oidn_style_file_set(tmp_path, rng):
    write_raw(tmp_path / "room_0016spp.hdr.exr", _image(rng))
    albedo = {c: rng.random((19, 37), np.float32) for c in "RGB"}
    write_raw(tmp_path / "room_0016spp.alb.exr", albedo)
    write_raw(tmp_path / "room_0016spp.nrm.exr", _image(rng))
    frame = load_frame(tmp_path / "room_0016spp.hdr.exr")
    assert frame.sources["albedo"].path.name == "room_0016spp.alb.exr"
    assert frame.sources["normal"].path.name == "room_0016spp.nrm.exr"
    assert frame.depth is None
    np.testing.assert_array_equal(frame.albedo[..., 0], albedo["R"])


def test_oidn_feature_of_another_size_is_an_error(tmp_path, rng):
    write_raw(tmp_path / "x.hdr.exr", _image(rng))
    write_raw(tmp_path / "x.alb.exr", _image(rng, height=8, width=8))
    with pytest.raises(ExrError, match=r"x.alb.exr: albedo buffer is 8x8 but the beauty is 37x19"):
        load_frame(tmp_path / "x.hdr.exr")


def test_overrides_by_pass_and_by_channels(tmp_path, rng):
    channels = {**_image(rng), **{f"MyAlb.{c}": rng.random((19, 37), np.float32) for c in "RGB"},
                "dist": rng.random((19, 37), np.float32)}
    path = write_raw(tmp_path / "custom.exr", channels)
    frame = load_frame(path, overrides={"albedo": "MyAlb", "depth": "dist"})
    assert frame.sources["albedo"].channels == ("MyAlb.R", "MyAlb.G", "MyAlb.B")
    np.testing.assert_array_equal(frame.depth, channels["dist"])
    frame = load_frame(path, overrides={"color": "MyAlb.B,MyAlb.G,MyAlb.R"})
    np.testing.assert_array_equal(frame.color[..., 0], channels["MyAlb.B"])
    with pytest.raises(ExrError, match="requested albedo pass 'Missing' is not in the file"):
        load_frame(path, overrides={"albedo": "Missing"})
    with pytest.raises(ExrError, match="requested normal channel 'n.X' is not in the file"):
        load_frame(path, overrides={"normal": "n.X,n.Y,n.Z"})
    with pytest.raises(ExrError, match="unknown buffer 'specular'"):
        load_frame(path, overrides={"specular": "R"})


def test_blender_names_are_found_case_insensitively_but_normal_spaces_stay_apart(tmp_path, rng):
    channels = {**_image(rng), **{f"normal.{c}": rng.random((19, 37), np.float32) for c in "XYZ"},
                **{f"Normal.{c}": rng.random((19, 37), np.float32) for c in "XYZ"}}
    frame = load_frame(write_raw(tmp_path / "n.exr", channels))
    assert frame.sources["normal"].pass_name == "normal" and frame.normal_space == "unknown"


# --- values and colour --------------------------------------------------------------------------

def test_nan_inf_and_negative_beauty_values_are_counted_and_set_to_zero(tmp_path, rng, caplog):
    channels = _image(rng)
    channels["R"][0, :3] = [np.nan, np.inf, -np.inf]
    channels["G"][1, :2] = [-0.5, -2.0]
    channels["Z"] = rng.random((19, 37), np.float32)
    channels["Z"][2, 2] = np.nan
    with caplog.at_level(logging.WARNING, logger="mcdenoise.exr"):
        frame = load_frame(write_raw(tmp_path / "bad.exr", channels))
    assert np.isfinite(frame.color).all() and (frame.color >= 0).all()
    assert frame.color[0, 0, 0] == 0 and frame.color[0, 1, 0] == 0 and frame.color[1, 0, 1] == 0
    assert frame.notes[0] == "beauty: 1 NaN, 2 ±Inf, 3 negative value(s) set to 0"
    assert frame.notes[1] == "depth: 1 NaN value(s) set to 0"
    assert "beauty: 1 NaN" in caplog.text
    # the file's own pixels stay untouched for pass-through
    assert np.isnan(frame.image.parts[0].channels["R"].pixels[0, 0])


def test_non_rec709_primaries_get_a_note_and_are_kept(tmp_path, rng):
    aces = (0.7347, 0.2653, 0.0, 1.0, 0.0001, -0.077, 0.32168, 0.33767)
    path = write_raw(tmp_path / "aces.exr", _image(rng), {"chromaticities": aces})
    frame = load_frame(path)
    assert any("not Rec.709" in note for note in frame.notes)
    write_exr(tmp_path / "out.exr", frame.image)
    kept = read_exr(tmp_path / "out.exr").parts[0].header["chromaticities"]
    np.testing.assert_allclose(kept, aces, atol=1e-6)
    rec709 = write_raw(tmp_path / "709.exr", _image(rng),
                       {"chromaticities": exr.REC709_CHROMATICITIES})
    assert load_frame(rec709).notes == []


def test_colour_interop_id_other_than_rec709_gets_a_note(tmp_path, rng):
    path = write_raw(tmp_path / "acescg.exr", _image(rng), {"colorInteropID": "lin_ap1_scene"})
    assert any("lin_ap1_scene" in note for note in load_frame(path).notes)


# --- bad input --------------------------------------------------------------------------------

def _good_file(tmp_path, rng):
    return write_raw(tmp_path / "good.exr", _image(rng, 64, 64))


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


def test_file_without_beauty_is_a_clear_error(tmp_path, rng):
    path = write_raw(tmp_path / "depth_only.exr", {"depth.V": rng.random((4, 4), np.float32)})
    with pytest.raises(ExrError, match=r"no beauty \(RGB\) channels found"):
        load_frame(path)


def test_header_only_read_lists_channels_without_pixels(tmp_path, rng):
    image = read_exr(_good_file(tmp_path, rng), header_only=True)
    assert list(image.parts[0].channels) == ["B", "G", "R"]
    assert image.parts[0].channels["R"].pixels is None


def test_written_files_get_the_usual_permissions(tmp_path, rng):
    image = read_exr(write_raw(tmp_path / "in.exr", _image(rng)))
    write_exr(tmp_path / "out.exr", image)
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "out.exr").stat().st_mode & 0o777 == 0o666 & ~umask
