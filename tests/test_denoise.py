"""`mcdenoise denoise` and the Python API: tiles, pass-through, sequences, resume, errors."""

from __future__ import annotations

import importlib.resources

import numpy as np
import OpenEXR
import pytest
from click.testing import CliRunner
from conftest import dead_pid, write_mc_render, write_raw

import mcdenoise
from mcdenoise import atomic
from mcdenoise.checkpoint import load_checkpoint, save_checkpoint
from mcdenoise.cli import main
from mcdenoise.config import Config, load_config
from mcdenoise.denoise import HASH_ATTRIBUTE
from mcdenoise.denoiser import load_model, plan_tiles, tile_origins
from mcdenoise.exr import read_exr
from mcdenoise.frame import load_frame
from mcdenoise.metrics import tonemap
from mcdenoise.model import build_model


def _render(path, size=(40, 52), seed=0, **extra):
    rng = np.random.default_rng(seed)
    height, width = size
    color = (rng.random((height, width, 3)) * 3).astype(np.float32)
    albedo = rng.random((height, width, 3)).astype(np.float32)
    normal = rng.random((height, width, 3)).astype(np.float32) * 2 - 1
    depth = rng.random((height, width)).astype(np.float32) * 5
    write_mc_render(path, color, albedo, normal, depth, **extra)
    return color


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.mark.parametrize("upsample", ["nearest", "bilinear"])
def test_tiled_matches_untiled(model_path, upsample):
    if upsample != "nearest":  # the same tiny kernel model, coarse scales upsampled bilinearly
        checkpoint = load_checkpoint(model_path)
        config = Config.from_saved(checkpoint["config"])
        config.model.kernel_upsample = upsample
        save_checkpoint(model_path, build_model(config), config, step=0)
    denoiser = load_model(model_path, device="cpu")
    rng = np.random.default_rng(0)
    color = (rng.random((150, 170, 3)) * 4).astype(np.float32)
    features = dict(albedo=rng.random((150, 170, 3)).astype(np.float32),
                    normal=rng.random((150, 170, 3)).astype(np.float32),
                    depth=rng.random((150, 170)).astype(np.float32))
    whole = denoiser.denoise(color, **features, tile=4096)
    overlap = denoiser.default_overlap
    assert overlap * 2 >= denoiser.model.receptive_field
    tiled = denoiser.denoise(color, **features, tile=overlap + 48)
    difference = (tonemap(_t(whole)) - tonemap(_t(tiled))).abs().max().item()
    assert difference < 1e-3


def _t(array):
    import torch

    return torch.from_numpy(array)


def test_tile_origins_are_aligned_and_cover_the_frame():
    origins = tile_origins(1000, 256, 96, 32)
    assert all(o % 32 == 0 for o in origins) and origins[0] == 0
    assert origins[-1] + 256 >= 1000
    assert all(b - a <= 256 - 96 for a, b in zip(origins, origins[1:], strict=False))


@pytest.mark.parametrize("size", [(1080, 1920), (2160, 3840), (720, 1280), (1024, 1024),
                                  (300, 1000), (150, 171), (97, 1500)])
def test_tile_plans_cover_the_frame_within_the_memory_bound(size):
    height, width = size
    tile, overlap, align = 768, 288, 32
    tile_y, ys, tile_x, xs = plan_tiles(height, width, tile, overlap, align)
    for length, origins, extent in [(tile_y, ys, height), (tile_x, xs, width)]:
        assert origins[0] == 0 and all(o % align == 0 for o in origins)
        assert min(origins[-1] + length, extent) == extent  # the last window reaches the edge
        if len(origins) > 1:
            assert length % align == 0
            # neighbours share at least the overlap
            assert all(a + length - b >= overlap for a, b in zip(origins, origins[1:],
                                                                 strict=False))
    windows = len(ys) * len(xs)
    assert windows == 1 and height * width <= tile * tile or tile_y * tile_x <= tile * tile
    work = (sum(min(y + tile_y, height) - y for y in ys)
            * sum(min(x + tile_x, width) - x for x in xs))
    square = (sum(min(y + tile, height) - y for y in tile_origins(height, tile, overlap, align))
              * sum(min(x + tile, width) - x for x in tile_origins(width, tile, overlap, align)))
    assert work <= square
    if size == (1080, 1920):  # 3 x 2 windows of 832 x 704 instead of 4 x 2 of 768 x 768
        assert work < 0.75 * square and windows == 6


def test_bundled_model_tiles_agree_with_the_whole_frame():
    """The bundled model at its default overlap, on a real render (the shipped sample,
    mirrored to 512x512) cut into 4 x 2 tiles: 6e-8 here, 1e-4 at an overlap of 192."""
    denoiser = load_model(device="cpu")
    frame = load_frame(importlib.resources.files("mcdenoise") / "samples" / "sample_16spp.exr")

    def mirrored(array):
        pad = [(0, 512 - array.shape[0]), (0, 512 - array.shape[1])] + [(0, 0)] * (array.ndim - 2)
        return np.pad(array, pad, mode="symmetric")

    inputs = [mirrored(getattr(frame, name)) for name in ("color", "albedo", "normal", "depth")]
    whole = denoiser.denoise(*inputs, tile=1024)
    tiled = denoiser.denoise(*inputs, tile=denoiser.default_overlap + 96)
    assert whole.shape == tiled.shape == (512, 512, 3)
    assert (tonemap(_t(whole)) - tonemap(_t(tiled))).abs().max().item() < 1e-5


def test_single_file_keeps_every_other_layer_and_attribute(tmp_path, model_path):
    source = tmp_path / "render.exr"
    color = _render(source)
    image = read_exr(source)
    extra = OpenEXR.Part({"compression": OpenEXR.PIZ_COMPRESSION,
                          "type": OpenEXR.scanlineimage,
                          "dataWindow": image.parts[0].header["dataWindow"],
                          "displayWindow": image.parts[0].header["displayWindow"]},
                         {"ViewLayer.CryptoObject00.r": np.full((40, 52), 7.0, np.float32)},
                         "ViewLayer.CryptoObject00")
    parts = [OpenEXR.Part({**p.header, "Software": "Blender 5.0.1"},
                          {n: c.pixels for n, c in p.channels.items()}, p.name)
             for p in image.parts]
    OpenEXR.File(parts + [extra]).write(str(source))
    result = _cli("denoise", source, "-o", tmp_path / "clean.exr", "--model", model_path)
    assert result.exit_code == 0, result.output
    out = read_exr(tmp_path / "clean.exr")
    names = [p.name for p in out.parts]
    assert names[:-1] == [p.name for p in read_exr(source).parts]
    assert names[-1] == "ViewLayer.Noisy Image"
    frame = load_frame(tmp_path / "clean.exr")
    assert frame.sources["color"].pass_name == "Noisy Image"  # a rerun denoises the same
    np.testing.assert_allclose(frame.color, color, rtol=1e-6)
    combined = out.parts[0]
    assert combined.header["Software"] == "Blender 5.0.1"
    assert combined.header[HASH_ATTRIBUTE] and combined.compression == "zip"
    assert not np.allclose(combined.channels["ViewLayer.Combined.R"].pixels, color[..., 0])
    assert np.all(combined.channels["ViewLayer.Combined.A"].pixels == 1.0)  # alpha untouched
    crypto = out.parts[names.index("ViewLayer.CryptoObject00")]
    assert np.all(crypto.channels["ViewLayer.CryptoObject00.r"].pixels == 7.0)


def test_rerun_on_the_output_agrees(tmp_path, model_path):
    _render(tmp_path / "render.exr")
    _cli("denoise", tmp_path / "render.exr", "-o", tmp_path / "a.exr", "--model", model_path)
    _cli("denoise", tmp_path / "a.exr", "-o", tmp_path / "b.exr", "--model", model_path)
    first, second = read_exr(tmp_path / "a.exr"), read_exr(tmp_path / "b.exr")
    assert [p.name for p in first.parts] == [p.name for p in second.parts]
    for a, b in zip(first.parts, second.parts, strict=True):
        for name in a.channels:
            np.testing.assert_array_equal(a.channels[name].pixels, b.channels[name].pixels)


def test_no_keep_noisy_and_single_part_files(tmp_path, model_path):
    rng = np.random.default_rng(0)
    channels = {c: (rng.random((20, 24)) * 2).astype(np.float32) for c in "RGB"}
    channels.update({f"albedo.{c}": rng.random((20, 24), np.float32) for c in "RGB"})
    channels.update({f"N.{c}": rng.random((20, 24), np.float32) for c in "XYZ"})
    channels["Z"] = rng.random((20, 24), np.float32)
    write_raw(tmp_path / "plain.exr", channels)
    assert _cli("denoise", tmp_path / "plain.exr", "-o", tmp_path / "kept.exr",
                "--model", model_path).exit_code == 0
    kept = read_exr(tmp_path / "kept.exr")
    assert not kept.multipart and "Noisy Image.R" in kept.parts[0].channels
    assert _cli("denoise", tmp_path / "plain.exr", "-o", tmp_path / "bare.exr", "--model",
                model_path, "--no-keep-noisy").exit_code == 0
    assert set(read_exr(tmp_path / "bare.exr").parts[0].channels) == set(channels)


def test_nan_and_inf_inputs_give_finite_outputs(tmp_path, model_path):
    rng = np.random.default_rng(3)
    color = (rng.random((30, 30, 3)) * 2).astype(np.float32)
    color[0, 0] = [np.nan, np.inf, -np.inf]
    color[5, 5] = 1e30
    ones = np.ones((30, 30, 3), np.float32)
    write_mc_render(tmp_path / "bad.exr", color, ones * 0.5, ones * 0.3, ones[..., 0])
    assert _cli("denoise", tmp_path / "bad.exr", "-o", tmp_path / "out.exr", "--model",
                model_path).exit_code == 0
    out = read_exr(tmp_path / "out.exr").parts[0].channels
    for letter in "RGB":
        assert np.isfinite(out[f"ViewLayer.Combined.{letter}"].pixels).all()


def test_sequence_with_frames_resume_and_stray_temporaries(tmp_path, model_path):
    for frame in (1001, 1002, 1003):
        _render(tmp_path / "shot" / f"beauty.{frame}.exr", seed=frame)
    out = tmp_path / "clean"
    first = _cli("denoise", tmp_path / "shot" / "beauty.####.exr", "-o",
                 out / "beauty.####.exr", "--frames", "1001-1002", "--model", model_path)
    assert first.exit_code == 0, first.output
    done = out / "beauty.1001.exr"
    stamp = done.stat().st_mtime_ns
    stray = out / f".beauty.1003.exr.{atomic._HOST}.{dead_pid()}.abc123.tmp"
    stray.write_bytes(b"half a file")  # a killed run's
    dry = _cli("denoise", tmp_path / "shot" / "beauty.%04d.exr", "-o", out / "beauty.$F4.exr",
               "--model", model_path, "--dry-run")
    assert dry.exit_code == 0
    assert [line.split()[0] for line in dry.output.splitlines()] == ["skip", "skip", "denoise"]
    again = _cli("denoise", tmp_path / "shot" / "beauty.####.exr", "-o",
                 out / "beauty.####.exr", "--model", model_path)
    assert again.exit_code == 0, again.output
    assert done.stat().st_mtime_ns == stamp  # finished with this model: skipped
    assert sorted(p.name for p in out.iterdir()) == [f"beauty.{f}.exr" for f in (1001, 1002,
                                                                                  1003)]


def test_output_of_another_model_is_redone_a_foreign_file_is_refused(tmp_path, model_path):
    _render(tmp_path / "r.exr")
    other = tmp_path / "other.pt"
    config = load_config("tiny")
    config.model.depth = 3
    save_checkpoint(other, build_model(config), config, step=1)
    _cli("denoise", tmp_path / "r.exr", "-o", tmp_path / "o.exr", "--model", other)
    dry = _cli("denoise", tmp_path / "r.exr", "-o", tmp_path / "o.exr", "--model", model_path,
               "--dry-run")
    assert dry.output.startswith("redo")
    _render(tmp_path / "foreign.exr")
    refused = _cli("denoise", tmp_path / "r.exr", "-o", tmp_path / "foreign.exr", "--model",
                   model_path)
    assert refused.exit_code == 1 and "was not written by mcdenoise" in refused.output
    assert _cli("denoise", tmp_path / "r.exr", "-o", tmp_path / "foreign.exr", "--model",
                model_path, "--overwrite").exit_code == 0


def test_a_bad_frame_is_reported_and_the_others_are_done(tmp_path, model_path):
    shot = tmp_path / "shot"
    _render(shot / "f.0001.exr")
    (shot / "f.0002.exr").write_bytes(b"junk")
    _render(shot / "f.0003.exr", size=(20, 20))
    _render(shot / "f.0004.exr")
    result = _cli("denoise", shot / "f.####.exr", "-o", tmp_path / "o" / "f.####.exr",
                  "--model", model_path)
    assert result.exit_code == 1
    assert "2 frame(s) failed: frames 2-3" in result.output
    assert "f.0003.exr: 20x20 but the sequence is 52x40" in result.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["f.0001.exr", "f.0004.exr"]


@pytest.mark.parametrize("args,message", [
    (("{src}", "-o", "{src}"), "the output is the input"),
    (("{src}", "{src}", "-o", "{tmp}/one.exr"), "several inputs need a directory"),
    (("{tmp}/none.####.exr", "-o", "{tmp}/o.####.exr"), "no frames found"),
    (("{src}", "-o", "{tmp}/o.exr", "--model", "{src}"), "not an mcdenoise checkpoint"),
])
def test_bad_invocations_are_one_line_errors(tmp_path, model_path, args, message):
    source = tmp_path / "src.exr"
    _render(source)
    filled = [a.format(src=source, tmp=tmp_path) for a in args]
    if "--model" not in filled:
        filled += ["--model", str(model_path)]
    result = _cli("denoise", *filled)
    assert result.exit_code == 1 and message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_missing_features_say_which_blender_passes_to_enable(tmp_path, model_path):
    write_mc_render(tmp_path / "bare.exr", np.ones((16, 16, 3), np.float32))
    result = _cli("denoise", tmp_path / "bare.exr", "-o", tmp_path / "o.exr", "--model",
                  model_path)
    assert result.exit_code == 1 and "Denoising Data" in result.output
    assert not (tmp_path / "o.exr").exists()


def test_python_api_and_export(tmp_path, model_path):
    denoiser = mcdenoise.load_model(model_path, device="cpu")
    rng = np.random.default_rng(0)
    color = rng.random((33, 47, 3)).astype(np.float32)
    features = dict(albedo=color, normal=color, depth=color[..., 0])
    out = denoiser.denoise(color, **features)
    assert out.shape == (33, 47, 3) and out.dtype == np.float32 and (out >= 0).all()
    exported = tmp_path / "m.safetensors"
    result = _cli("export", model_path, "-o", exported, "--note", "test", "--reproduce",
                  "mcdenoise train --config tiny")
    assert result.exit_code == 0, result.output
    from mcdenoise.checkpoint import load_weights

    info = load_weights(exported)[2]
    assert info == {"note": "test", "reproduce": "mcdenoise train --config tiny"}
    np.testing.assert_allclose(mcdenoise.load_model(exported, device="cpu").denoise(
        color, **features), out, rtol=1e-5, atol=1e-6)
    assert _cli("export", model_path, "-o", tmp_path / "m.pt").exit_code == 2
    (tmp_path / "fake.safetensors").write_bytes(b"nonsense")
    with pytest.raises(mcdenoise.McdenoiseError, match="not a safetensors model"):
        mcdenoise.load_model(tmp_path / "fake.safetensors")


def test_bundled_model_denoises_the_shipped_sample(tmp_path):
    import importlib.resources

    sample = importlib.resources.files("mcdenoise.samples") / "sample_16spp.exr"
    result = _cli("denoise", str(sample), "-o", tmp_path / "clean.exr", "--device", "cpu")
    assert result.exit_code == 0, result.output
    noisy, clean = load_frame(str(sample)), read_exr(tmp_path / "clean.exr")
    out = np.stack([clean.parts[0].channels[f"ViewLayer.Combined.{c}"].pixels
                    for c in "RGB"], -1).astype(np.float32)
    assert out.shape == noisy.color.shape and np.isfinite(out).all()

    def roughness(image):  # pixel-to-pixel variation of the tonemapped image
        mapped = tonemap(_t(image)).numpy()
        return np.abs(np.diff(mapped, axis=0)).mean() + np.abs(np.diff(mapped, axis=1)).mean()

    assert roughness(out) < 0.7 * roughness(noisy.color)
    meta = mcdenoise.load_model(device="cpu")
    assert meta.features == ["albedo", "normal", "depth"] and meta.name == "default"


def test_aov_passes_are_denoised_too(tmp_path, model_path):
    source = tmp_path / "aov.exr"
    _render(source)
    image = read_exr(source)
    rng = np.random.default_rng(5)
    diffuse = {f"ViewLayer.DiffDir.{c}": (rng.random((40, 52)) * 2).astype(np.float32)
               for c in "RGB"}
    parts = [OpenEXR.Part(p.header, {n: c.pixels for n, c in p.channels.items()}, p.name)
             for p in image.parts]
    header = {k: v for k, v in image.parts[0].header.items() if k != "name"}
    parts.append(OpenEXR.Part(header, dict(diffuse), "ViewLayer.DiffDir"))
    OpenEXR.File(parts).write(str(source))
    result = _cli("denoise", source, "-o", tmp_path / "out.exr", "--model", model_path,
                  "--aov", "DiffDir")
    assert result.exit_code == 0, result.output
    out = read_exr(tmp_path / "out.exr")
    channels = {n: c.pixels for p in out.parts for n, c in p.channels.items()}
    assert not np.allclose(channels["ViewLayer.DiffDir.R"], diffuse["ViewLayer.DiffDir.R"])
    np.testing.assert_array_equal(channels["ViewLayer.DiffDir Noisy.R"],
                                  diffuse["ViewLayer.DiffDir.R"])
    missing = _cli("denoise", source, "-o", tmp_path / "o2.exr", "--model", model_path,
                   "--aov", "GlossInd")
    assert missing.exit_code == 1 and "no RGB pass 'GlossInd'" in missing.output
    assert "DiffDir" in missing.output and not (tmp_path / "o2.exr").exists()


def test_beauty_only_writes_one_rgba_part(tmp_path):
    from mcdenoise.exr import read_exr

    sample = importlib.resources.files("mcdenoise.samples") / "sample_16spp.exr"
    out = tmp_path / "beauty.exr"
    result = CliRunner().invoke(main, ["denoise", str(sample), "-o", str(out), "--beauty-only",
                                       "--device", "cpu"])
    assert result.exit_code == 0, result.output
    image = read_exr(out)
    assert len(image.parts) == 1
    assert sorted(n for _, n in image.channel_names()) == ["A", "B", "G", "R"]
    header = image.parts[0].header
    assert header["mcdenoise.model"] == "default" and "mcdenoise.model_sha256" in header
    full = tmp_path / "full.exr"
    CliRunner().invoke(main, ["denoise", str(sample), "-o", str(full), "--device", "cpu"])
    assert np.allclose(load_frame(out).color, _combined(full), rtol=2e-3, atol=1e-4)  # half
    bad = CliRunner().invoke(main, ["denoise", str(sample), "-o", str(tmp_path / "x.exr"),
                                    "--beauty-only", "--aov", "DiffCol"])
    assert bad.exit_code == 1 and "--beauty-only" in bad.output and "Traceback" not in bad.output


def _combined(path):
    from mcdenoise.exr import place_in_display_window, read_exr

    image = read_exr(path)
    where = {name: part for part, name in image.channel_names()}
    names = [n for n in where if n.endswith((".R", ".G", ".B")) and ".Combined." in n]
    return np.stack([place_in_display_window(image, where[n], n) for n in sorted(
        names, key=lambda n: "RGB".index(n[-1]))], -1)


def test_denoise_file_refuses_its_own_input(tmp_path):
    from mcdenoise.denoise import denoise_file

    with pytest.raises(mcdenoise.McdenoiseError, match="overwrite its input"):
        denoise_file(tmp_path / "a.exr", tmp_path / "a.exr", None)


def test_fast_inference_matches_the_plain_model(tmp_path):
    """BatchNorm folding and channels-last change nothing beyond float rounding."""
    import torch

    from mcdenoise.features import build_input, frame_stats, output_to_linear

    config = load_config("tiny")
    config.model.output, config.model.kernel_scales = "kernel", 2
    torch.manual_seed(3)
    model = build_model(config)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.3, 0.3)
            module.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "m.pt"
    save_checkpoint(path, model, config, step=0)
    rng = np.random.default_rng(1)
    color = (rng.random((37, 45, 3)) * 4).astype(np.float32)
    albedo, normal = rng.random((37, 45, 3)).astype(np.float32), rng.random((37, 45, 3))
    depth = rng.random((37, 45)).astype(np.float32)
    fast = load_model(path, device="cpu", precision="fp32").denoise(
        color, albedo, normal.astype(np.float32), depth)
    stats = frame_stats(color, depth)
    x = build_input(color, config.input, stats, albedo, normal.astype(np.float32), depth)
    with torch.no_grad():
        plain = output_to_linear(model.eval()(torch.from_numpy(x)[None])[0].numpy(), stats,
                                 config.input).transpose(1, 2, 0)
    np.testing.assert_allclose(fast, plain, rtol=1e-4, atol=1e-5)


def test_bf16_stays_close_to_fp32():
    """--precision bf16 (autocast) on the bundled model: within 0.002 of fp32 on average
    after tonemapping, far below the noise it removes (the kernels' softmax absorbs most of
    the rounding; this CPU emulates bf16, so a small crop)."""
    from mcdenoise.metrics import psnr_tonemapped

    frame = load_frame(str(importlib.resources.files("mcdenoise.samples") / "sample_16spp.exr"))
    crop = (slice(40, 104), slice(60, 124))
    planes = [frame.color[crop], frame.albedo[crop], frame.normal[crop], frame.depth[crop]]
    full = load_model(device="cpu", precision="fp32").denoise(*planes)
    half = load_model(device="cpu", precision="bf16").denoise(*planes)
    assert np.isfinite(half).all() and not np.array_equal(half, full)  # bf16 really ran
    assert float(np.abs(tonemap(_t(half)) - tonemap(_t(full))).mean()) < 0.002
    assert psnr_tonemapped(_t(half), _t(full)) > psnr_tonemapped(
        _t(np.ascontiguousarray(frame.color[crop])), _t(full)) + 20


def test_precision_auto_takes_bf16_only_where_the_cpu_multiplies_it(tmp_path, monkeypatch):
    """denoise's default precision: bf16 on a CPU whose flags say AVX-512 BF16 or AMX (where
    it is 1.5x faster), fp32 elsewhere, on a GPU and in ONNX Runtime."""
    from click.testing import CliRunner

    from mcdenoise import device
    from mcdenoise.cli import main

    def cpuinfo(name, flags):  # one file each: native_bf16 remembers its answer per path
        (tmp_path / name).write_text(f"processor\t: 0\nflags\t\t: fpu {flags}\n")
        return tmp_path / name

    assert not device.native_bf16(cpuinfo("avx512", "sse2 avx2 avx512f avx512bw"))  # emulated
    assert device.native_bf16(cpuinfo("avx512bf16", "avx512f avx512_bf16"))
    assert device.native_bf16(cpuinfo("amx", "amx_bf16 amx_tile"))
    assert not device.native_bf16(tmp_path / "absent")  # not Linux: fp32
    for native, cpu in ((True, "bf16"), (False, "fp32")):
        monkeypatch.setattr(device, "native_bf16", lambda native=native: native)
        assert device.resolve_precision("auto", "cpu") == cpu
        assert device.resolve_precision("auto", "cuda") == "fp32"
        assert device.resolve_precision("fp32", "cpu") == "fp32"
        assert load_model(device="cpu", precision="auto").precision == cpu
        assert load_model(precision="auto", backend="onnxruntime").precision == "fp32"
    monkeypatch.setattr(device, "native_bf16", lambda: True)
    sample = importlib.resources.files("mcdenoise.samples") / "sample_16spp.exr"
    result = CliRunner().invoke(main, ["-v", "denoise", str(sample), "-o",
                                       str(tmp_path / "o.exr"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "on cpu, bf16" in result.output  # the model line of -v


def test_color_only_fallback(tmp_path, model_path, caplog):
    from mcdenoise.denoise import DenoiseOptions, denoise_image

    config = load_config("tiny")
    config.input.features = []
    color_model = tmp_path / "color.pt"
    save_checkpoint(color_model, build_model(config), config, step=0)
    path = tmp_path / "plain.exr"
    write_mc_render(path, np.random.default_rng(0).random((24, 32, 3)).astype(np.float32))
    denoiser = load_model(model_path, device="cpu")
    with pytest.raises(mcdenoise.McdenoiseError, match="Denoising Data"):
        denoise_image(read_exr(path), denoiser, DenoiseOptions())
    denoiser.fallback_path = color_model
    with caplog.at_level("WARNING"):
        out = denoise_image(read_exr(path), denoiser, DenoiseOptions())
    assert "color-only model" in caplog.text and "albedo, normal, depth" in caplog.text
    header = out.parts[0].header
    assert header["mcdenoise.fallback_model"] == "color"
    assert header[HASH_ATTRIBUTE] == denoiser.digest  # the run's choice owns it: resume skips
    assert denoiser.for_frame(load_frame(path), path) is denoiser._fallback  # loaded once


def test_bundled_color_only_model_takes_files_without_passes(tmp_path):
    rng = np.random.default_rng(2)
    write_mc_render(tmp_path / "bare.exr", (rng.random((40, 48, 3)) * 2).astype(np.float32))
    result = _cli("denoise", tmp_path / "bare.exr", "-o", tmp_path / "o.exr", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert "bundled color-only model" in result.output and "Denoising Data" in result.output
    header = read_exr(tmp_path / "o.exr").parts[0].header
    assert header["mcdenoise.fallback_model"] == "color" and header["mcdenoise.model"] == "default"
    assert np.isfinite(load_frame(tmp_path / "o.exr").color).all()


def test_compare_scores_the_denoised_beauty_not_the_kept_noisy_copy(tmp_path, model_path):
    noisy = _render(tmp_path / "noisy.exr", size=(32, 32))
    assert _cli("denoise", tmp_path / "noisy.exr", "-o", tmp_path / "den.exr", "--model",
                model_path).exit_code == 0
    denoised = load_frame(tmp_path / "den.exr")
    assert denoised.sources["color"].pass_name == "Noisy Image"  # what a rerun would denoise
    from mcdenoise.frame import load_beauty

    beauty = load_beauty(tmp_path / "den.exr")
    assert not np.allclose(beauty, noisy, atol=1e-3)
    np.testing.assert_allclose(load_beauty(tmp_path / "noisy.exr"), noisy, atol=2e-3)
    write_mc_render(tmp_path / "ref.exr", beauty)
    result = _cli("compare", tmp_path / "den.exr", tmp_path / "noisy.exr", "--ref",
                  tmp_path / "ref.exr")
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.output.splitlines() if "vs R" in line]
    psnr_a, psnr_b = float(rows[0][3]), float(rows[1][3])
    assert psnr_a > 60 and psnr_b < 40  # A is its own denoised beauty
    kept = load_beauty(tmp_path / "den.exr", overrides={"color": "ViewLayer.Noisy Image"})
    np.testing.assert_allclose(kept, noisy, atol=2e-3)  # --channel picks the noisy copy
    layered = _cli("compare", tmp_path / "den.exr", tmp_path / "den.exr", "--layer",
                   "ViewLayer", "--channel", "color=Noisy Image")
    assert layered.exit_code == 0 and "inf" in layered.output


def test_two_runs_on_one_sequence_into_one_folder_both_succeed(tmp_path, model_path):
    import subprocess
    import sys

    for frame in range(1, 9):
        _render(tmp_path / "shot" / f"b.{frame:04d}.exr", size=(64, 64), seed=frame)
    command = [sys.executable, "-m", "mcdenoise", "denoise", str(tmp_path / "shot" /
               "b.####.exr"), "-o", str(tmp_path / "out" / "b.####.exr"), "--model",
               str(model_path), "--device", "cpu", "--threads", "1", "--overwrite"]
    for _ in range(2):
        runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for _ in range(2)]
        outcomes = [(run.wait(timeout=300), run.stderr.read()) for run in runs]
        assert all(code == 0 for code, _ in outcomes), outcomes
        names = sorted(p.name for p in (tmp_path / "out").iterdir())
        assert names == [f"b.{f:04d}.exr" for f in range(1, 9)]
        for name in names:
            assert np.isfinite(load_frame(tmp_path / "out" / name).color).all()


def test_an_output_folder_that_cannot_be_made_is_one_line(tmp_path, model_path):
    _render(tmp_path / "r.exr", size=(16, 16))
    (tmp_path / "afile").write_text("in the way")
    result = _cli("denoise", tmp_path / "r.exr", "-o", tmp_path / "afile" / "sub" / "o.exr",
                  "--model", model_path)
    assert result.exit_code == 1
    assert "cannot create the output folder" in result.output
    assert "Traceback" not in result.output


def test_a_tiny_file_with_a_huge_display_window_is_refused_without_allocating(tmp_path,
                                                                             model_path):
    from conftest import window

    rng = np.random.default_rng(0)
    planes = {f"{c}": rng.random((16, 16), np.float32) for c in "RGB"}
    write_raw(tmp_path / "huge.exr", planes, {"displayWindow": window(60000, 60000)})
    result = _cli("denoise", tmp_path / "huge.exr", "-o", tmp_path / "o.exr", "--model",
                  model_path)
    assert result.exit_code == 1 and "display window is 60000x60000" in result.output
    assert not (tmp_path / "o.exr").exists()
    info = _cli("info", tmp_path / "huge.exr")
    assert info.exit_code == 0 and "cannot denoise this file" in info.output


def test_absurd_finite_values_are_sanitised_like_nan(tmp_path, model_path):
    rng = np.random.default_rng(3)
    color = (rng.random((32, 32, 3)) * 2).astype(np.float32)
    color[10, 10] = 1e30
    ones = np.ones((32, 32, 3), np.float32)
    write_mc_render(tmp_path / "bad.exr", color, ones * 0.5, ones * 0.3, ones[..., 0] * 1e10)
    frame = load_frame(tmp_path / "bad.exr")
    assert frame.color[10, 10].max() == 0.0 and frame.color.max() < 2.0
    assert frame.depth.max() == pytest.approx(1e10)  # Blender's "nothing hit" depth stays
    assert any("absurd" in note for note in frame.notes)
    assert _cli("denoise", tmp_path / "bad.exr", "-o", tmp_path / "out.exr", "--model",
                model_path).exit_code == 0
    assert load_beauty_max(tmp_path / "out.exr") < 10.0


def load_beauty_max(path):
    from mcdenoise.frame import load_beauty

    return float(load_beauty(path).max())


def test_messages_errors_once_on_stderr_a_line_per_file_ranges_for_missing(tmp_path,
                                                                          model_path):
    runner = CliRunner()
    missing = runner.invoke(main, ["denoise", str(tmp_path / "nothere.exr"), "-o",
                                   str(tmp_path / "o.exr"), "--model", str(model_path)])
    assert missing.exit_code == 1 and missing.stdout == ""
    assert missing.stderr.count("no such file") == 1
    _render(tmp_path / "r.exr", size=(16, 16))
    args = ["denoise", str(tmp_path / "r.exr"), "-o", str(tmp_path / "o.exr"), "--model",
            str(model_path)]
    written = runner.invoke(main, args)
    assert written.exit_code == 0 and "r.exr ->" in written.stdout and " s)" in written.stdout
    skipped = runner.invoke(main, args)
    assert "skipped" in skipped.stdout
    assert runner.invoke(main, ["-q", *args, "--overwrite"]).stdout == ""
    verbose = runner.invoke(main, ["-v", *args, "--overwrite"])
    assert "INFO: model" in verbose.stderr
    absent = runner.invoke(main, ["denoise", str(tmp_path / "shot" / "f.####.exr"),
                                  "--frames", "1001-1100", "-o", str(tmp_path / "x.####.exr"),
                                  "--model", str(model_path)])
    assert absent.exit_code == 1 and absent.stdout == ""
    assert len(absent.stderr.strip().splitlines()) == 2  # a summary and the error
    assert "100 input file(s) missing: frames 1001-1100" in absent.stderr


def test_info_on_a_folder_without_exrs_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = CliRunner().invoke(main, ["info", str(tmp_path / "empty")])
    assert result.exit_code == 1 and "no EXR files" in result.output


def _still_shot(folder, frames=5, size=48, seed=0):
    """A still shot: one clean image, each frame with its own noise, features the same."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    albedo = np.stack([0.3 + 0.5 * ((xx * (3 + c)) % 1.0) for c in range(3)], -1)
    clean = (albedo * (0.4 + 2.0 * np.exp(-((xx - 0.4) ** 2 + (yy - 0.5) ** 2) * 6))[
        ..., None]).astype(np.float32)
    normal = np.stack([xx - 0.5, 0.5 - yy, np.full_like(xx, 0.7)], -1).astype(np.float32)
    depth = (2.0 + yy).astype(np.float32)
    for frame in range(1, frames + 1):
        noise = rng.gamma(2.0, 0.5, clean.shape).astype(np.float32)
        write_mc_render(folder / f"s.{frame:04d}.exr", clean * noise, albedo, normal, depth)
    return clean


def test_sequences_are_denoised_with_their_neighbours_less_flicker_more_psnr(tmp_path):
    import torch

    from mcdenoise.frame import load_beauty
    from mcdenoise.metrics import tonemap

    clean = _still_shot(tmp_path / "shot", frames=6)
    outputs = {}
    for flags in (("--temporal",), ("--temporal", "--no-blend"), ("--no-temporal",)):
        out = tmp_path / "-".join(flags)
        result = _cli("denoise", tmp_path / "shot" / "s.####.exr", "-o", out / "s.####.exr",
                      *flags, "--device", "cpu")
        assert result.exit_code == 0, result.output
        outputs[flags[-1]] = [tonemap(torch.from_numpy(load_beauty(out / f"s.{f:04d}.exr"))
                                      ).numpy() for f in range(1, 7)]
    target = tonemap(torch.from_numpy(clean)).numpy()

    def flicker(frames):
        return float(np.mean([np.abs(a - b).mean() for a, b in zip(frames[:-1], frames[1:],
                                                                    strict=True)]))

    def psnr(frames):
        return float(np.mean([-10 * np.log10(np.mean((f - target) ** 2)) for f in frames]))

    # the neighbours' samples before the network, then their denoised frames after it
    assert flicker(outputs["--no-blend"]) < 0.7 * flicker(outputs["--no-temporal"])
    assert psnr(outputs["--no-blend"]) > psnr(outputs["--no-temporal"]) + 1.0
    assert flicker(outputs["--temporal"]) < 0.7 * flicker(outputs["--no-blend"])
    assert psnr(outputs["--temporal"]) > psnr(outputs["--no-blend"])


def test_blended_frames_do_not_depend_on_shards_or_resume(tmp_path):
    """A frame's output blends its neighbours' denoised frames, whoever writes them: two
    shards, a resumed run and one whole run give the same frames."""
    from mcdenoise.frame import load_beauty

    _still_shot(tmp_path / "shot", frames=6)
    pattern = tmp_path / "shot" / "s.####.exr"
    assert _cli("denoise", pattern, "-o", tmp_path / "whole" / "s.####.exr").exit_code == 0
    for shard in ("1/2", "2/2"):
        result = _cli("denoise", pattern, "-o", tmp_path / "shards" / "s.####.exr",
                      "--shard", shard)
        assert result.exit_code == 0, result.output
    assert _cli("denoise", pattern, "--frames", "2,5", "-o",
                tmp_path / "resumed" / "s.####.exr").exit_code == 0
    result = _cli("denoise", pattern, "-o", tmp_path / "resumed" / "s.####.exr")
    assert result.exit_code == 0 and "4 of 6 frame(s) denoised" in result.output
    for frame in range(1, 7):
        whole = load_beauty(tmp_path / "whole" / f"s.{frame:04d}.exr")
        for other in ("shards", "resumed"):
            np.testing.assert_allclose(load_beauty(tmp_path / other / f"s.{frame:04d}.exr"),
                                       whole, atol=1e-5, err_msg=f"{other}, frame {frame}")


def test_a_folder_of_files_is_not_taken_for_a_shot(tmp_path):
    from mcdenoise.denoise import frame_sequence
    from mcdenoise.jobs import plan_jobs

    _still_shot(tmp_path / "shot", frames=3)
    assert frame_sequence(plan_jobs([str(tmp_path / "shot")], str(tmp_path / "o") + "/",
                                    None)) == {}
    patterned = plan_jobs([str(tmp_path / "shot" / "s.####.exr")],
                          str(tmp_path / "o" / "s.####.exr"), None)
    assert sorted(frame_sequence(patterned)) == [1, 2, 3]


def test_one_frame_of_a_shot_is_denoised_with_its_neighbours_on_disk(tmp_path):
    """--frames (or a shard) picks frames; their neighbours come from the whole shot."""
    from mcdenoise.frame import load_beauty

    _still_shot(tmp_path / "shot", frames=5)
    for flag in ("--temporal", "--no-temporal"):
        result = _cli("denoise", tmp_path / "shot" / "s.####.exr", "--frames", "3", "-o",
                      tmp_path / flag.strip("-") / "s.####.exr", flag, "--device", "cpu")
        assert result.exit_code == 0, result.output
    alone = load_beauty(tmp_path / "no-temporal" / "s.0003.exr")
    together = load_beauty(tmp_path / "temporal" / "s.0003.exr")
    assert np.abs(alone - together).mean() > 1e-3


def test_named_neighbours_denoise_a_file_as_its_sequence_would(tmp_path):
    """--previous / --next (what the Blender add-on passes) and denoise_file's neighbour
    paths give frame 3 exactly what the frame pattern gives it without blending (blending
    needs the neighbours' own neighbours)."""
    import mcdenoise
    from mcdenoise.denoise import DenoiseOptions, denoise_file
    from mcdenoise.frame import load_beauty

    _still_shot(tmp_path / "shot", frames=5)
    shot = tmp_path / "shot"
    result = _cli("denoise", shot / "s.####.exr", "--frames", "3", "-o",
                  tmp_path / "pattern" / "s.####.exr", "--device", "cpu", "--no-blend")
    assert result.exit_code == 0, result.output
    named = ["--previous", shot / "s.0002.exr", "--previous", shot / "s.0001.exr",
             "--next", shot / "s.0004.exr", "--next", shot / "s.0005.exr"]
    result = _cli("denoise", shot / "s.0003.exr", "-o", tmp_path / "named.exr", *named,
                  "--device", "cpu")
    assert result.exit_code == 0, result.output
    denoise_file(shot / "s.0003.exr", tmp_path / "api.exr", mcdenoise.load_model(device="cpu"),
                 previous=[shot / "s.0002.exr", shot / "s.0001.exr"],
                 following=[shot / "s.0004.exr", shot / "s.0005.exr", shot / "gone.exr"])
    denoise_file(shot / "s.0003.exr", tmp_path / "alone.exr",
                 mcdenoise.load_model(device="cpu"), DenoiseOptions(temporal=False),
                 previous=[shot / "s.0002.exr"])
    pattern = load_beauty(tmp_path / "pattern" / "s.0003.exr")
    assert np.abs(load_beauty(tmp_path / "named.exr") - pattern).max() < 1e-5
    assert np.abs(load_beauty(tmp_path / "api.exr") - pattern).max() < 1e-5
    assert np.abs(load_beauty(tmp_path / "alone.exr") - pattern).mean() > 1e-3
    both = _cli("denoise", shot / "s.0003.exr", shot / "s.0004.exr", "-o", f"{tmp_path}/o/",
                "--previous", shot / "s.0002.exr")
    assert both.exit_code == 2 and "--previous and --next go with one EXR input" in both.output


def test_first_passes_on_disk_blend_a_file_as_its_sequence_would(tmp_path, monkeypatch):
    """Frame by frame, as the Blender add-on works while a shot renders: each frame's first
    pass (--previous / --next, no blend) is written, then --denoised with the neighbours'
    --previous-denoised / --next-denoised blends them: frame 4 is what the whole frame
    pattern gives it, and the network does not run again."""
    import mcdenoise
    from mcdenoise.denoise import denoise_file
    from mcdenoise.frame import load_beauty

    shot = tmp_path / "shot"
    _still_shot(shot, frames=7)
    assert _cli("denoise", shot / "s.####.exr", "-o", tmp_path / "whole" / "s.####.exr",
                "--device", "cpu").exit_code == 0

    def frame(k, folder=shot):
        return folder / f"s.{k:04d}.exr"

    def around(k, option="", folder=shot):
        return [x for j in (k - 1, k - 2) if j >= 1 for x in (f"--previous{option}",
                                                                frame(j, folder))] + [
            x for j in (k + 1, k + 2) if j <= 7 for x in (f"--next{option}", frame(j, folder))]

    for k in range(2, 7):
        result = _cli("denoise", frame(k), "-o", frame(k, tmp_path / "first"), *around(k),
                      "--device", "cpu")
        assert result.exit_code == 0, result.output
    result = _cli("denoise", frame(4), "-o", tmp_path / "blended.exr", *around(4),
                  "--denoised", frame(4, tmp_path / "first"),
                  *around(4, "-denoised", tmp_path / "first"), "--device", "cpu")
    assert result.exit_code == 0, result.output
    whole = load_beauty(frame(4, tmp_path / "whole"))
    first = load_beauty(frame(4, tmp_path / "first"))
    np.testing.assert_allclose(load_beauty(tmp_path / "blended.exr"), whole, atol=1e-5)
    assert np.abs(first - whole).mean() > 1e-4  # the blend changed it

    denoiser = mcdenoise.load_model(device="cpu")

    def no_network(*args, **kwargs):
        raise AssertionError("the network ran")

    monkeypatch.setattr(denoiser, "denoise", no_network)
    firsts = [frame(k, tmp_path / "first") for k in (3, 2, 5, 6)]
    denoise_file(frame(4), tmp_path / "api.exr", denoiser, previous=[frame(3), frame(2)],
                 following=[frame(5), frame(6)], denoised=frame(4, tmp_path / "first"),
                 previous_denoised=firsts[:2], following_denoised=firsts[2:])
    np.testing.assert_allclose(load_beauty(tmp_path / "api.exr"), whole, atol=1e-5)
    # a neighbour's first pass that is missing is left out of the blend
    denoise_file(frame(4), tmp_path / "partial.exr", denoiser, previous=[frame(3), frame(2)],
                 following=[frame(5), frame(6)], denoised=frame(4, tmp_path / "first"),
                 previous_denoised=[firsts[0], tmp_path / "gone.exr"])
    partial = load_beauty(tmp_path / "partial.exr")
    assert np.abs(partial - whole).mean() > 1e-5 and np.abs(partial - first).mean() > 1e-5


@pytest.mark.parametrize("args, message", [
    (["--previous", "{shot}/s.0001.exr", "--next-denoised", "{shot}/s.0003.exr"],
     "name more frames than --previous / --next"),
    (["--denoised", "{shot}/s.0001.exr"], "go with --previous / --next"),
])
def test_first_passes_on_disk_bad_invocations(tmp_path, args, message):
    shot = tmp_path / "shot"
    _still_shot(shot, frames=3)
    result = _cli("denoise", shot / "s.0002.exr", "-o", tmp_path / "o.exr",
                  *[a.format(shot=shot) for a in args])
    assert result.exit_code == 2 and message in result.output
