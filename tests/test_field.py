"""The field benchmark: scenes built apart from the training generator, chunked references
with a measured noise level, and generator 2's ingredients (real Blender, tiny images)."""

from __future__ import annotations

import ast
import json
import math
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from mcdenoise.data import find_renders, make_pairs
from mcdenoise.exr import ExrImage, write_exr
from mcdenoise.frame import load_frame
from mcdenoise.metrics import psnr_tonemapped
from mcdenoise.render import assets
from mcdenoise.render.dataset import RenderJob, assemble_reference, render_plan
from mcdenoise.render.field import FIELD_SCENES

RENDER_DIR = Path(__file__).resolve().parents[1] / "mcdenoise" / "render"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def test_field_scenes_are_many_varied_and_large_enough():
    assert len(FIELD_SCENES) >= 12
    assert all(min(s.size) >= 256 and s.reference_spp >= 2048 for s in FIELD_SCENES.values())
    assert sum(min(s.size) >= 512 for s in FIELD_SCENES.values()) >= 2
    assert sum(max(s.size) >= 512 for s in FIELD_SCENES.values()) >= 3
    for kind in ("cornell", "window", "hdri", "caustics", "dof", "motion", "hair", "volume",
                 "neon", "glossy", "textures"):
        assert any(kind in name for name in FIELD_SCENES), kind


def test_field_code_shares_nothing_with_the_training_generator():
    generator = {"mcdenoise.render.builder", "mcdenoise.render.layouts",
                 "mcdenoise.render.procedural", "mcdenoise.render.ingredients"}
    for name in ("field.py", "field_parts.py", "field_advanced.py"):
        found = _imports(RENDER_DIR / name)
        assert not any(m.startswith(tuple(generator)) for m in found), (name, found)
    assert "mcdenoise.render.field_parts" not in " ".join(
        _imports(RENDER_DIR / "ingredients.py") | _imports(RENDER_DIR / "layouts.py")
        | _imports(RENDER_DIR / "layouts3.py"))


def test_field_keeps_its_photographs_and_hdris_to_itself():
    assert not set(assets.FIELD_PHOTOS) & set(assets.TRAIN_PHOTOS)
    assert not set(assets.FIELD_HDRIS) & set(assets.TRAIN_HDRIS)
    source = (RENDER_DIR / "ingredients.py").read_text()
    assert all(name not in source for name in assets.FIELD_PHOTOS + assets.FIELD_HDRIS)


def test_chunked_reference_plan_names_seeds_and_sizes(tmp_path):
    job = RenderJob(scene="s", out=str(tmp_path), spp=[4], seeds=1, width=8, height=8,
                    reference_spp=1000, reference_chunk=256)
    plan = render_plan(job)
    chunks = [p for p in plan if p[0].parent.name == "ref-chunks"]
    assert len(chunks) == 4 and {spp for _, spp, _ in chunks} == {256}
    assert len({seed for _, _, seed in plan}) == len(plan)
    whole = render_plan(RenderJob(scene="s", out=str(tmp_path), spp=[4], seeds=1, width=8,
                                  height=8, reference_spp=200, reference_chunk=256))
    assert whole[-1][0].name == "s_ref.exr" and whole[-1][1] == 200


def _write_chunk(path: Path, color: np.ndarray) -> None:
    channels = {f"ViewLayer.Combined.{c}": color[..., i] for i, c in enumerate("RGB")}
    channels["ViewLayer.Combined.A"] = np.ones(color.shape[:2], np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_exr(path, ExrImage.from_channels(channels, multipart=True), pixel_type="float")


def test_assembled_reference_is_the_mean_and_its_noise_estimate_is_right(tmp_path):
    rng = np.random.default_rng(0)
    truth = rng.uniform(0.05, 2.0, (64, 64, 3)).astype(np.float32)
    chunks = []
    for k in range(8):
        path = tmp_path / f"c{k}.exr"
        _write_chunk(path, (truth * rng.gamma(20.0, 1 / 20.0, truth.shape)).astype(np.float32))
        chunks.append(path)
    info = assemble_reference(chunks, tmp_path / "ref.exr")
    mean = np.mean([load_frame(c).color for c in chunks], axis=0)
    reference = load_frame(tmp_path / "ref.exr").color
    np.testing.assert_allclose(reference, mean, rtol=1e-5, atol=1e-6)
    true_psnr = psnr_tonemapped(*(torch.from_numpy(x).permute(2, 0, 1)
                                  for x in (reference, truth))).item()
    assert info["chunks"] == 8 and abs(info["noise_psnr"] - true_psnr) < 1.0


def _run(*args, env):
    done = subprocess.run([sys.executable, "-m", "mcdenoise", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.mark.blender
@pytest.mark.slow
def test_every_field_scene_renders_lit_with_features(tmp_path, blender_env):
    _run("render", "field", "--out", tmp_path, "--spp", 2, "--reference-spp", 0,
         "--scale", 0.0625, "--workers", 2, env=blender_env)
    scenes = find_renders(tmp_path)
    assert sorted(scenes) == sorted(FIELD_SCENES)
    for name, renders in scenes.items():
        frame = load_frame(renders[0].path)
        expected = tuple(max(8, round(v * 0.0625)) for v in FIELD_SCENES[name].size)
        assert (frame.width, frame.height) == expected
        assert {"albedo", "normal", "depth"} <= set(frame.sources), name
        assert np.isfinite(frame.color).all() and frame.color.mean() > 1e-3, name


@pytest.mark.blender
def test_chunked_references_resume_grow_and_never_shrink(tmp_path, blender_env):
    common = ("render", "field", "--out", tmp_path, "--scenes", "cornell", "--spp", 2,
              "--scale", 0.0625, "--reference-chunk", 2)
    _run(*common, "--reference-spp", 8, env=blender_env)
    record = tmp_path / "cornell" / "cornell.json"
    first = json.loads(record.read_text())["reference"]
    assert first["chunks"] == 4 and first["spp"] == 8 and math.isfinite(first["noise_psnr"])
    ref_path = tmp_path / "cornell" / "cornell_ref.exr"
    before = load_frame(ref_path).color
    _run(*common, "--reference-spp", 4, env=blender_env)  # a lower cap keeps all chunks
    assert json.loads(record.read_text())["reference"]["chunks"] == 4
    np.testing.assert_array_equal(load_frame(ref_path).color, before)
    _run(*common, "--reference-spp", 12, env=blender_env)
    grown = json.loads(record.read_text())["reference"]
    assert grown["chunks"] == 6 and grown["noise_psnr"] > first["noise_psnr"] - 3.0
    scenes = find_renders(tmp_path)
    assert len(make_pairs(scenes, "clean")) == 1  # the chunks are not renders of their own


@pytest.mark.blender
def test_moving_shots_render_with_vectors_resume_and_evaluate(tmp_path, blender_env):
    from mcdenoise.shots import moving_shots

    common = ("render", "field", "--moving", 3, "--out", tmp_path, "--scenes",
              "cornell,motion_blur", "--spp", 2, "--reference-spp", 4, "--scale", 0.125)
    _run(*common, env=blender_env)
    shots = {s.scene: s for s in moving_shots(tmp_path)}
    assert sorted(shots) == ["cornell", "motion_blur"]
    for name, shot in shots.items():
        assert [p.name for p in shot.frames] == [f"{name}_0002spp.{k:04d}.exr"
                                                 for k in (1, 2, 3)]
        frames = [load_frame(p) for p in shot.frames]
        assert all(f.vectors is not None for f in frames), name
        assert np.abs(frames[1].vectors).max() > 0.05, name  # the camera trucks
        assert np.abs(frames[0].color - frames[1].color).mean() > 1e-3, name  # own noise
    # the rolling ball moves against the trucking camera: vectors differ across the frame
    spread = load_frame(shots["motion_blur"].frames[1]).vectors[..., 0]
    assert spread.max() - spread.min() > 0.2
    stamp = shots["cornell"].frames[0].stat().st_mtime_ns
    _run(*common, env=blender_env)  # a rerun renders nothing again
    assert shots["cornell"].frames[0].stat().st_mtime_ns == stamp
    result = _run("evaluate", tmp_path, "--shots", env=blender_env)
    assert "moving" in result.stdout and "mcdenoise sequence" in result.stdout


@pytest.mark.blender
def test_animated_training_shots_pair_averaged_frames_with_the_other_seed(tmp_path,
                                                                          blender_env):
    from mcdenoise.temporal import accumulate

    _run("render", "procedural", "--animated", 3, "--scenes", 1, "--size", 48, "--spp", 2,
         "--out", tmp_path, env=blender_env)
    scenes = find_renders(tmp_path)
    assert sorted(scenes) == ["proc0-00000.f0001", "proc0-00000.f0002", "proc0-00000.f0003"]
    pairs = make_pairs(scenes, "noisy")
    assert len(pairs) == 6  # each frame: averaged -> single and back
    raw = sorted((tmp_path / "proc0-00000" / "frames").glob("*.exr"))
    assert len(raw) == 6  # 3 frames x 2 seeds
    frames = {p.name: load_frame(p) for p in raw}
    assert all(f.vectors is not None for f in frames.values())
    middle = frames["proc0-00000_0002spp_s000.0002.exr"]
    assert np.abs(middle.vectors).max() > 0.05  # the camera and objects move
    # frame 2 averages seed 0 (2 % 2) with its neighbours of seed 0; s001 is seed 1's frame
    expected, _ = accumulate(middle, [frames["proc0-00000_0002spp_s000.0001.exr"]],
                             [frames["proc0-00000_0002spp_s000.0003.exr"]])
    averaged = load_frame(tmp_path / "proc0-00000.f0002" / "proc0-00000.f0002_0002spp_s000.exr")
    np.testing.assert_allclose(averaged.color, expected, rtol=2e-3, atol=1e-3)  # half floats
    assert np.abs(averaged.color - middle.color).mean() > 1e-3
    single = load_frame(tmp_path / "proc0-00000.f0002" / "proc0-00000.f0002_0002spp_s001.exr")
    np.testing.assert_array_equal(single.color,
                                  frames["proc0-00000_0002spp_s001.0002.exr"].color)
    stamp = raw[0].stat().st_mtime_ns
    _run("render", "procedural", "--animated", 3, "--scenes", 1, "--size", 48, "--spp", 2,
         "--out", tmp_path, env=blender_env)  # resumes: nothing rendered again
    assert raw[0].stat().st_mtime_ns == stamp


GENERATOR2 = textwrap.dedent("""
    import json, sys
    from mcdenoise.render.cycles import import_bpy
    from mcdenoise.render.procedural import build_scene
    bpy = import_bpy()
    found = []
    for index in range(int(sys.argv[1])):
        description = build_scene(bpy, index, 0, 2)
        objects = sorted(o.name for o in bpy.context.scene.objects)
        found.append({"description": description, "objects": objects})
    print("SCENES=" + json.dumps(found))
""")


@pytest.mark.blender
def test_generator2_adds_ingredients_and_is_deterministic(blender_env):
    def build(count):
        done = subprocess.run([sys.executable, "-c", GENERATOR2, str(count)], env=blender_env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.split("SCENES=", 1)[1].splitlines()[0])

    first, again = build(12), build(3)
    assert first[:3] == again
    found = {i for scene in first for i in scene["description"]["ingredients"]}
    assert {"photo-color", "small_lamps", "hdri"} - found <= {"hdri"}
    assert any(s["description"].get("world", {}).get("type") == "hdri" for s in first)
    assert len(found) >= 8, found
    assert all(s["description"]["generator"] == 2 for s in first)


GLOW = textwrap.dedent("""
    import json, math, sys
    from mcdenoise.render.cycles import import_bpy
    from mcdenoise.render.ingredients import GLOW_WIDTH_PX
    from mcdenoise.render.procedural import build_scene
    bpy = import_bpy()
    from bpy_extras.object_utils import world_to_camera_view
    found = []
    for index in range(int(sys.argv[1])):
        description = build_scene(bpy, index, 0, 2)
        if "glow_lines" not in description["ingredients"]:
            continue
        scene = bpy.context.scene
        bpy.context.view_layer.update()
        camera = scene.camera
        half = math.tan(camera.data.angle / 2)
        for obj in [o for o in scene.objects if o.type == "CURVE"]:
            spline = obj.data.splines[0]
            points = [obj.matrix_world @ p.co.xyz for p in spline.points]
            views = [world_to_camera_view(scene, camera, p) for p in points]
            depth = sum(v.z for v in views) / len(views)
            middle = world_to_camera_view(scene, camera, sum(points, points[0] * 0) / len(points))
            emission = obj.data.materials[0].node_tree.nodes["Principled BSDF"].inputs[
                "Emission Strength"].default_value
            found.append({"index": index, "points": len(points),
                          "width_px": 2 * obj.data.bevel_depth / (2 * depth * half) * 256,
                          "inside": sum(0 <= v.x <= 1 and 0 <= v.y <= 1 and v.z > 0
                                        for v in views) / len(views),
                          "middle_inside": 0 <= middle.x <= 1 and 0 <= middle.y <= 1,
                          "emission": emission})
    print("GLOW=" + json.dumps({"lines": found, "bounds": GLOW_WIDTH_PX}))
""")


@pytest.mark.blender
def test_generator2_draws_thin_glowing_lines_in_view(blender_env):
    """The glow-lines ingredient: emissive curves one to four pixels wide at 256 px, in
    front of the camera, drawn in some of generator 2's scenes."""
    done = subprocess.run([sys.executable, "-c", GLOW, "12"], env=blender_env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.split("GLOW=", 1)[1].splitlines()[0])
    lines, (low, high) = result["lines"], result["bounds"]
    assert len({line["index"] for line in lines}) >= 2, lines
    for line in lines:
        # the width is set at the shape's centre; its ends may lie a little nearer or farther
        assert 0.8 * low <= line["width_px"] <= 1.25 * high, line
        assert line["middle_inside"] and line["inside"] >= 0.5, line
        assert line["points"] >= 2 and line["emission"] >= 5.0, line
