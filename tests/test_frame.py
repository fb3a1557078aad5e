"""Finding a render's buffers (passes.py's alias table) and reading them as a Frame
(frame.py: placement, NaN/Inf repair, colour notes), on files written in the tests."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from conftest import rgb_planes, write_raw

from mcdenoise import exr, passes
from mcdenoise.exr import ExrError, read_exr, write_exr
from mcdenoise.frame import load_frame

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
    assert passes.list_layers(read_exr(path)) == ["ViewLayer.001", "ViewLayer"]
    frame = load_frame(path, layer="ViewLayer.001")
    assert frame.layer == "ViewLayer.001"
    np.testing.assert_array_equal(frame.color[..., 1], channels["ViewLayer.001.Combined.G"])
    with pytest.raises(ExrError, match="view layer 'Other' is not in the file"):
        load_frame(path, layer="Other")


def test_generic_names(tmp_path, rng):
    channels = {**rgb_planes(rng), "A": np.ones((19, 37), np.float32),
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
    write_raw(tmp_path / "room_0016spp.hdr.exr", rgb_planes(rng))
    albedo = {c: rng.random((19, 37), np.float32) for c in "RGB"}
    write_raw(tmp_path / "room_0016spp.alb.exr", albedo)
    write_raw(tmp_path / "room_0016spp.nrm.exr", rgb_planes(rng))
    frame = load_frame(tmp_path / "room_0016spp.hdr.exr")
    assert frame.sources["albedo"].path.name == "room_0016spp.alb.exr"
    assert frame.sources["normal"].path.name == "room_0016spp.nrm.exr"
    assert frame.depth is None
    np.testing.assert_array_equal(frame.albedo[..., 0], albedo["R"])


def test_oidn_feature_of_another_size_is_an_error(tmp_path, rng):
    write_raw(tmp_path / "x.hdr.exr", rgb_planes(rng))
    write_raw(tmp_path / "x.alb.exr", rgb_planes(rng, height=8, width=8))
    with pytest.raises(ExrError, match=r"x.alb.exr: albedo buffer is 8x8 but the beauty is 37x19"):
        load_frame(tmp_path / "x.hdr.exr")


def test_overrides_by_pass_and_by_channels(tmp_path, rng):
    channels = {**rgb_planes(rng),
                **{f"MyAlb.{c}": rng.random((19, 37), np.float32) for c in "RGB"},
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
    channels = {**rgb_planes(rng),
                **{f"normal.{c}": rng.random((19, 37), np.float32) for c in "XYZ"},
                **{f"Normal.{c}": rng.random((19, 37), np.float32) for c in "XYZ"}}
    frame = load_frame(write_raw(tmp_path / "n.exr", channels))
    assert frame.sources["normal"].pass_name == "normal" and frame.normal_space == "unknown"


# --- values and colour --------------------------------------------------------------------------

def test_nan_inf_and_negative_beauty_values_are_counted_and_set_to_zero(tmp_path, rng, caplog):
    channels = rgb_planes(rng)
    channels["R"][0, :3] = [np.nan, np.inf, -np.inf]
    channels["G"][1, :2] = [-0.5, -2.0]
    channels["Z"] = rng.random((19, 37), np.float32)
    channels["Z"][2, 2] = np.nan
    with caplog.at_level(logging.WARNING, logger="mcdenoise.frame"):
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
    path = write_raw(tmp_path / "aces.exr", rgb_planes(rng), {"chromaticities": aces})
    frame = load_frame(path)
    assert any("not Rec.709" in note for note in frame.notes)
    write_exr(tmp_path / "out.exr", frame.image)
    kept = read_exr(tmp_path / "out.exr").parts[0].header["chromaticities"]
    np.testing.assert_allclose(kept, aces, atol=1e-6)
    rec709 = write_raw(tmp_path / "709.exr", rgb_planes(rng),
                       {"chromaticities": exr.REC709_CHROMATICITIES})
    assert load_frame(rec709).notes == []


def test_colour_interop_id_other_than_rec709_gets_a_note(tmp_path, rng):
    path = write_raw(tmp_path / "acescg.exr", rgb_planes(rng), {"colorInteropID": "lin_ap1_scene"})
    assert any("lin_ap1_scene" in note for note in load_frame(path).notes)


def test_file_without_beauty_is_a_clear_error(tmp_path, rng):
    path = write_raw(tmp_path / "depth_only.exr", {"depth.V": rng.random((4, 4), np.float32)})
    with pytest.raises(ExrError, match=r"no beauty \(RGB\) channels found"):
        load_frame(path)


def test_parts_named_as_layers_with_bare_channels_are_found(tmp_path):
    from conftest import write_raw

    rng = np.random.default_rng(5)
    beauty = {c: rng.random((12, 10), np.float32) * 3 for c in "RGBA"}
    albedo = {c: rng.random((12, 10), np.float32) for c in "RGB"}
    normal = {c: rng.random((12, 10), np.float32) * 2 - 1 for c in "XYZ"}
    path = write_raw(tmp_path / "parts.exr", {}, None,
                     {"beauty": beauty, "albedo": albedo, "normal": normal})
    frame = load_frame(path)
    np.testing.assert_array_equal(frame.color, np.stack([beauty[c] for c in "RGB"], -1))
    np.testing.assert_array_equal(frame.albedo, np.stack([albedo[c] for c in "RGB"], -1))
    np.testing.assert_array_equal(frame.normal, np.stack([normal[c] for c in "XYZ"], -1))
    np.testing.assert_array_equal(frame.alpha, beauty["A"])
    assert frame.depth is None  # the normal's Z is not a depth
