"""Training data: discovery, pairing, the decode cache, crops, augmentation, bad data sets."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
from conftest import make_mc_dataset, write_mc_render

from mcdenoise.config import Config
from mcdenoise.data import (
    PLANES,
    DataError,
    augment,
    build_datasets,
    find_renders,
    make_pairs,
)
from mcdenoise.exr import ExrError


def _config(path, **data):
    config = Config()
    config.data.path = str(path)
    config.data.crop = 16
    for key, value in data.items():
        setattr(config.data, key, value)
    return config


def test_discovery_and_pairs(tmp_path):
    make_mc_dataset(tmp_path, scenes=2, seeds=3)
    scenes = find_renders(tmp_path)
    assert list(scenes) == ["scene00", "scene01"]
    assert [r.seed for r in scenes["scene00"]] == [0, 1, 2, -1]
    assert len(make_pairs(scenes, "noisy")) == 2 * 3 * 2
    assert len(make_pairs(scenes, "clean")) == 2 * 3
    assert len(make_pairs(scenes, "both")) == 2 * 3 * 2 + 2 * 3
    assert all(a.seed != b.seed and a.spp == b.spp for a, b in make_pairs(scenes, "noisy"))


def test_spp_filter(tmp_path):
    make_mc_dataset(tmp_path, scenes=1, spp=4)
    make_mc_dataset(tmp_path, scenes=1, spp=16)
    renders = find_renders(tmp_path, spp=[16])["scene00"]
    assert {r.spp for r in renders if r.seed >= 0} == {16}


def test_targets_at_other_spp_come_from_another_seed(tmp_path):
    for spp in (4, 16, 64):
        make_mc_dataset(tmp_path, scenes=2, spp=spp)
    scenes = find_renders(tmp_path)
    pairs = make_pairs(scenes, "noisy", spp=[4, 16], target_spp=[64])
    assert sorted((a.scene, a.spp, a.seed, b.spp, b.seed) for a, b in pairs) == [
        (scene, spp, seed, 64, 1 - seed) for scene in ("scene00", "scene01")
        for spp in (4, 16) for seed in (0, 1)]
    both = make_pairs(scenes, "both", spp=[4], target_spp=[16, 64])
    assert sorted((a.spp, a.seed, b.spp, b.seed) for a, b in both if a.scene == "scene00") == [
        (4, 0, 0, -1), (4, 0, 16, 1), (4, 0, 64, 1), (4, 1, 0, -1), (4, 1, 16, 0), (4, 1, 64, 0)]
    # without target_spp: equal spp, as before
    assert all(a.spp == b.spp for a, b in make_pairs(scenes, "noisy", spp=[4, 64]))
    assert {a.spp for a, _ in make_pairs(scenes, "noisy", spp=[4, 64])} == {4, 64}


def test_training_crops_read_the_target_spp_render(tmp_path):
    for spp in (4, 64):
        for seed in (0, 1):
            _write_render(tmp_path / "a" / f"a_{spp:04d}spp_s{seed:03d}.exr",
                          np.full((24, 24, 3), float(spp), np.float32))
    config = _config(tmp_path, spp=[4], target_spp=[64])
    config.input.transform, config.input.exposure = "none", False
    train, _ = build_datasets(config, length=8)
    for index in range(8):
        item = train[index]
        assert float(item["input"][:3].mean()) == pytest.approx(4.0, rel=1e-2)
        assert float(item["target"].mean()) == pytest.approx(64.0, rel=1e-2)  # float16 cache


@pytest.mark.parametrize("data,message", [
    ({"target_spp": [64]}, r"scene 'a' has no training pair \(a_0004spp_s000.exr, "
     r"a_0004spp_s001.exr\): it needs a render at 64 spp with another seed"),
    ({"target_spp": [4], "target": "clean"}, "data.target_spp picks noisy targets"),
])
def test_target_spp_without_such_renders_fails_before_training(tmp_path, data, message):
    for seed in (0, 1):
        _write_render(tmp_path / "a" / f"a_0004spp_s{seed:03d}.exr",
                      np.ones((24, 24, 3), np.float32))
    with pytest.raises(DataError, match=message):
        build_datasets(_config(tmp_path, **data), length=4)


def _write_render(path, color, features=True):
    ones = np.ones(color.shape[:2], np.float32)
    buffers = {"albedo": np.full(color.shape, 0.5, np.float32),
               "normal": np.stack([ones * 0, ones / 3, ones * 2 / 3], -1), "depth": ones}
    write_mc_render(path, color, **(buffers if features else {}))


@pytest.mark.parametrize("case,message", [
    ("empty", "no renders found"),
    ("missing", "no such data folder"),
    ("single", r"scene 'a' has no training pair \(a_0004spp_s000.exr\)"),
    ("sizes", r"renders of scene 'a' differ in size: .*a_0004spp_s000.exr is 24x24"),
    ("features", r"a_0004spp_s000.exr: lacks the albedo, depth, normal buffer"),
    ("unreadable", r"a_0004spp_s001.exr: not an OpenEXR file"),
    ("crop", r"crop 16 is larger than the smallest render \(12 px\)"),
])
def test_bad_data_sets_fail_before_training_naming_the_files(tmp_path, case, message):
    root = tmp_path / "data"
    root.mkdir()
    color = np.ones((24, 24, 3), np.float32)
    if case != "empty" and case != "missing":
        _write_render(root / "a" / "a_0004spp_s000.exr", color, features=case != "features")
    if case in ("sizes", "features", "crop"):
        size = {"sizes": 20, "features": 24, "crop": 12}[case]
        if case == "crop":
            _write_render(root / "a" / "a_0004spp_s000.exr", np.ones((12, 12, 3), np.float32))
        _write_render(root / "a" / "a_0004spp_s001.exr", np.ones((size, size, 3), np.float32),
                      features=case != "features")
    if case == "unreadable":
        (root / "a" / "a_0004spp_s001.exr").write_text("junk")
    path = tmp_path / "nowhere" if case == "missing" else root
    with pytest.raises((DataError, ExrError), match=message):
        build_datasets(_config(path), length=4)


def _coordinate_data(root, size=40):
    """Two 'seeds' whose color encodes the pixel position, so crops can be located."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    color = np.stack([xx + 1, yy + 1, np.full_like(xx, 7.0)], -1)
    for seed in (0, 1):
        _write_render(root / "s" / f"s_0004spp_s{seed:03d}.exr", color)
    return color


def test_input_and_target_share_crop_and_augmentation(tmp_path):
    _coordinate_data(tmp_path)
    config = _config(tmp_path)
    config.input.transform, config.input.exposure = "none", False
    train, _ = build_datasets(config, length=64)
    codes_seen = set()
    for index in range(64):
        item = train[index]
        torch_input, target = item["input"], item["target"]
        assert torch_input.shape == (10, 16, 16) and target.shape == (3, 16, 16)
        np.testing.assert_allclose(torch_input[:3].numpy(), target.numpy(), rtol=1e-3)
        x, y = np.rint(target[0].numpy()), np.rint(target[1].numpy())  # float16 cache
        # positions change by one pixel between neighbours: a crop of the source, transformed
        assert {abs(x[0, 1] - x[0, 0]) + abs(y[0, 1] - y[0, 0])} == {1.0}
        codes_seen.add((x[0, 1] - x[0, 0], y[0, 1] - y[0, 0], x[1, 0] - x[0, 0],
                        y[1, 0] - y[0, 0]))
    assert len(codes_seen) == 8  # all flips and rotations occur


def test_samples_are_a_pure_function_of_seed_and_index(tmp_path):
    make_mc_dataset(tmp_path, scenes=2, seeds=2, size=32)
    train, _ = build_datasets(_config(tmp_path), length=10)
    a, b = train[3], train[3]
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    assert not np.array_equal(train[4]["input"].numpy(), a["input"].numpy())


def test_cache_is_reused_while_files_are_unchanged(tmp_path, monkeypatch):
    make_mc_dataset(tmp_path, scenes=1, seeds=2, size=32)
    build_datasets(_config(tmp_path), length=1)
    cached = sorted((tmp_path / ".mcdenoise-cache").glob("*.npy"))
    assert len(cached) == 2  # the reference is not needed for noisy targets
    import mcdenoise.frame

    def fail(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr(mcdenoise.frame, "load_frame", fail)
    train, _ = build_datasets(_config(tmp_path), length=1)
    assert train[0]["input"].shape == (10, 16, 16)


def _sphere_normals(size=16):
    centre = (np.arange(size) + 0.5 - size / 2) / (size / 2)
    u = centre[None, :].repeat(size, 0)  # x: right
    v = -centre[:, None].repeat(size, 1)  # y: up (rows go down)
    w = np.sqrt(np.clip(1 - u**2 - v**2, 0, 1))
    return np.stack([u, v, w]).astype(np.float32)


@pytest.mark.parametrize("code", range(8))
def test_normals_turn_with_the_image(code):
    sphere = _sphere_normals()
    # a sphere looks the same after any flip or rotation: its normal map must not change
    np.testing.assert_allclose(augment(sphere, code, slice(0, 3)), sphere, atol=1e-6)


def test_normal_facing_right_points_up_after_a_counter_clockwise_turn():
    planes = np.zeros((3, 4, 4), np.float32)
    planes[0], planes[2] = 0.6, 0.8
    turned = augment(planes, 1, slice(0, 3))
    np.testing.assert_allclose(turned[:, 0, 0], [0.0, 0.6, 0.8], atol=1e-6)
    flipped = augment(planes, 4, slice(0, 3))
    np.testing.assert_allclose(flipped[:, 0, 0], [-0.6, 0.0, 0.8], atol=1e-6)
    assert PLANES["normal"] == slice(6, 9)


def _image_folder(root, count=3, size=40):
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for index in range(count):
        iio.imwrite(root / f"img{index}.png", rng.integers(0, 255, (size, size + 7, 3),
                                                           dtype=np.uint8))
    return root


def test_image_folders_with_noisy_targets_and_masks(tmp_path):
    config = _config(_image_folder(tmp_path / "imgs"), kind="images",
                     noise="bernoulli,0.5", target_noise="bernoulli,0.5",
                     val_path=str(tmp_path / "imgs"), val_noise="bernoulli,0.5")
    config.input.features, config.input.transform = [], "none"
    train, val = build_datasets(config, length=4)
    item = train[0]
    assert item["input"].shape == (3, 16, 16) and item["mask"].shape == (1, 16, 16)
    dropped = item["mask"][0] == 0
    assert 0.3 < dropped.float().mean() < 0.7
    assert (item["target"][:, dropped] == 0).all()
    assert not np.array_equal(item["input"].numpy(), item["target"].numpy())
    first, again = val[0], val[0]
    assert np.array_equal(first["input"].numpy(), again["input"].numpy())  # fixed noise
    assert first["target"].shape == (3, 40, 47)


def test_holdout_and_validation_crop(tmp_path):
    folder = _image_folder(tmp_path / "imgs", count=3, size=40)
    config = _config(folder, kind="images", holdout=1, val_crop=24, val_noise="gaussian,25")
    config.input.features, config.input.transform = [], "none"
    train, val = build_datasets(config, length=64)
    assert len(train.arrays) == 2 and len(val) == 1
    held_out = np.load(val.arrays[0])
    assert not any(np.array_equal(np.load(a), held_out) for a in train.arrays)
    assert val[0]["target"].shape == (3, 24, 24)
    config.data.holdout = 3
    with pytest.raises(DataError, match="none is left to train on"):
        build_datasets(config, length=1)


def test_color_augment_shuffles_channels(tmp_path):
    import imageio.v3 as iio

    folder = tmp_path / "red"
    folder.mkdir()
    red = np.zeros((32, 32, 3), np.uint8)
    red[..., 0] = 200
    iio.imwrite(folder / "red.png", red)
    config = _config(folder, kind="images", noise="clean", target_noise="clean", crop=16)
    config.input.features, config.input.transform = [], "none"
    assert all(build_datasets(config, 12)[0][i]["target"][0].mean() > 0.7 for i in range(12))
    config.data.color_augment = True
    train, _ = build_datasets(config, 40)
    lit = {int(np.argmax(train[i]["target"].mean(dim=(1, 2)))) for i in range(40)}
    assert lit == {0, 1, 2}


def test_image_folder_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images found"):
        build_datasets(_config(tmp_path / "empty", kind="images"), length=1)
    broken = _image_folder(tmp_path / "broken", count=1)
    (broken / "bad.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"bad.png: cannot read image"):
        build_datasets(_config(broken, kind="images"), length=1)


def test_processes_may_cache_the_same_render_at_once(tmp_path):
    """torchrun ranks decode the same files into one cache: no shared temporary names."""
    from concurrent.futures import ThreadPoolExecutor

    from mcdenoise.data import cache_render

    data = make_mc_dataset(tmp_path / "data", scenes=1, seeds=1, size=64)
    path = next(data.glob("*/*_s000.exr"))
    with ThreadPoolExecutor(8) as pool:
        cached = list(pool.map(lambda _: cache_render(path, tmp_path / "cache"), range(16)))
    assert len({c.array for c in cached}) == 1
    assert sorted(p.suffix for p in (tmp_path / "cache").iterdir()) == [".json", ".npy"]


def test_several_data_folders_train_together_and_names_must_differ(tmp_path):
    from conftest import make_mc_dataset

    from mcdenoise.data import DataError, find_renders

    make_mc_dataset(tmp_path / "a", scenes=2, size=16)
    make_mc_dataset(tmp_path / "b", scenes=1, size=16)
    with pytest.raises(DataError, match="scene names must differ"):
        find_renders(f"{tmp_path / 'a'},{tmp_path / 'b'}")
    (tmp_path / "b" / "scene00").rename(tmp_path / "b" / "other")
    for path in (tmp_path / "b" / "other").iterdir():
        path.rename(path.with_name(path.name.replace("scene00", "other")))
    scenes = find_renders(f"{tmp_path / 'a'}, {tmp_path / 'b'}")
    assert sorted(scenes) == ["other", "scene00", "scene01"]


def test_a_scene_without_a_pair_is_left_out_while_others_train(tmp_path, caplog):
    """A set still rendering has scenes with one seed so far: they wait, the rest trains."""
    for scene, seeds in (("a", (0, 1)), ("b", (0,))):
        for seed in seeds:
            _write_render(tmp_path / scene / f"{scene}_0004spp_s{seed:03d}.exr",
                          np.ones((24, 24, 3), np.float32))
    with caplog.at_level("WARNING"):
        pairs = make_pairs(find_renders(tmp_path), "noisy")
    assert {a.scene for a, _ in pairs} == {"a"}
    assert "1 of 2 scenes left out" in caplog.text and "scene 'b'" in caplog.text


def test_aux_task_pairs_the_feature_passes_of_two_seeds(tmp_path):
    """model.task=aux: the input is the features alone, the target the other seed's albedo
    and normal, cropped and turned exactly like the input (normals included)."""
    make_mc_dataset(tmp_path, scenes=2, seeds=2, size=32)  # features equal across seeds
    config = _config(tmp_path)
    config.model.task = "aux"
    train, _ = build_datasets(config, length=24)
    for index in range(24):
        item = train[index]
        assert item["input"].shape == (7, 16, 16) and item["target"].shape == (6, 16, 16)
        np.testing.assert_allclose(item["input"][:6].numpy(), item["target"].numpy(),
                                   atol=1e-3)
        np.testing.assert_allclose(item["noisy"].numpy(), item["target"].numpy(), atol=1e-3)
        assert float(item["scale"]) == 1.0


def test_aux_task_needs_the_targets_features(tmp_path):
    make_mc_dataset(tmp_path, scenes=1, seeds=1, size=32)  # 4 spp, seed 0, with features
    write_mc_render(tmp_path / "scene00" / "scene00_0064spp_s001.exr",
                    np.ones((32, 32, 3), np.float32))  # a target without any
    config = _config(tmp_path, spp=[4], target_spp=[64])
    build_datasets(config, length=4)  # a color model reads the target's color only
    config.model.task = "aux"
    with pytest.raises(DataError, match="0064spp_s001.exr: lacks the albedo, depth, normal"):
        build_datasets(config, length=4)
