"""Procedural training scenes: kinds cycle, same arguments rebuild the same scene, and every
kind renders lit, with content and with the denoising features. Blender runs in subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from mcdenoise.frame import load_frame
from mcdenoise.render.layouts3 import KINDS as KINDS3
from mcdenoise.render.procedural import SCENE_KINDS, kinds, scene_kind

BUILD = textwrap.dedent("""
    import json, sys
    from mcdenoise.render.cycles import import_bpy
    from mcdenoise.render.procedural import build_scene
    bpy = import_bpy()
    found = []
    for index, seed in json.loads(sys.argv[1]):
        description = build_scene(bpy, index, seed)
        scene = bpy.context.scene
        objects = sorted((o.name, o.type, [round(c, 5) for c in o.location],
                          [round(c, 5) for c in o.rotation_euler]) for o in scene.objects)
        found.append({"description": description, "objects": objects,
                      "camera": scene.camera.name if scene.camera else None})
    print("SCENES=" + json.dumps(found))
""")

RENDER = textwrap.dedent("""
    import json, sys
    from mcdenoise.render.cycles import (configure_cycles, import_bpy, render_still,
                                         set_multilayer_exr)
    from mcdenoise.render.procedural import build_scene
    bpy = import_bpy()
    out, found = sys.argv[1], {}
    for index in range(5):
        description = build_scene(bpy, index, 0)
        scene = bpy.context.scene
        configure_cycles(scene, spp=4, seed=1, width=48, height=48, threads=2)
        set_multilayer_exr(scene, half=True)
        path = render_still(scene, f"{out}/scene{index}.exr")
        found[description["kind"]] = {"path": str(path), "description": description}
    print("RENDERS=" + json.dumps(found))
""")


def _python(script: str, *args: str, env: dict[str, str], key: str):
    done = subprocess.run([sys.executable, "-c", script, *args], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.split(f"{key}=", 1)[1].splitlines()[0])


def test_any_20_consecutive_indices_cover_every_kind():
    for seed in (0, 1, 7, 12345):
        for start in (0, 1, 4, 13, 997):
            kinds = {scene_kind(index, seed) for index in range(start, start + 20)}
            assert kinds == set(SCENE_KINDS)


def test_scene_kind_is_deterministic_and_depends_on_the_seed():
    kinds = [scene_kind(index, 3) for index in range(40)]
    assert kinds == [scene_kind(index, 3) for index in range(40)]
    assert kinds != [scene_kind(index, 4) for index in range(40)]
    assert all(kind in SCENE_KINDS for kind in kinds)


def test_generator3_lays_out_its_own_two_kinds_in_shuffled_pairs():
    assert kinds(3) == KINDS3 == ("box", "caustics")
    assert kinds(1) == kinds(2) == SCENE_KINDS
    for seed in (0, 5):
        found = [scene_kind(index, seed, 3) for index in range(40)]
        assert all(sorted(found[i:i + 2]) == sorted(KINDS3) for i in range(0, 40, 2))
        assert found[0::2] != [found[0]] * 20  # the order within a pair is drawn
    # generators 1 and 2 keep their kinds: their renders on disk stay reproducible
    assert [scene_kind(i, 0, 2) for i in range(20)] == [scene_kind(i, 0) for i in range(20)]


GENERATOR3 = textwrap.dedent("""
    import json, sys
    from mcdenoise.render.cycles import (configure_cycles, import_bpy, render_still,
                                         set_multilayer_exr)
    from mcdenoise.render.procedural import build_scene
    bpy = import_bpy()
    out, found = sys.argv[1], []
    for index in (0, 1, 2, 3, 0):
        description = build_scene(bpy, index, 0, 3)
        scene = bpy.context.scene
        objects = sorted((o.name, o.type, [round(c, 5) for c in o.location])
                         for o in scene.objects)
        configure_cycles(scene, spp=4, seed=1, width=48, height=48, threads=2)
        set_multilayer_exr(scene, half=True)
        path = render_still(scene, f"{out}/g3-{len(found)}.exr")
        found.append({"path": str(path), "description": description, "objects": objects})
    print("SCENES=" + json.dumps(found))
""")


@pytest.mark.blender
def test_generator3_boxes_and_caustics_render_lit_and_deterministic(tmp_path, blender_env):
    scenes = _python(GENERATOR3, str(tmp_path), env=blender_env, key="SCENES")
    assert scenes[0]["objects"] == scenes[4]["objects"]  # the same index, the same scene
    assert scenes[0]["description"] == scenes[4]["description"]
    assert {s["description"]["kind"] for s in scenes} == set(KINDS3)
    for scene in scenes[:4]:
        description = scene["description"]
        assert description["generator"] == 3 and "ingredients" not in description
        kind = description["kind"]
        assert description[kind]["light"] in {"area", "panel", "sphere", "skylight", "window",
                                              "SPOT", "POINT", "SUN"}
        frame = load_frame(scene["path"])
        assert frame.albedo is not None and frame.normal is not None
        luminance = frame.color @ np.array([0.2126, 0.7152, 0.0722], np.float32)
        assert np.isfinite(luminance).all() and luminance.mean() > 0.005, description
        assert (frame.depth > 0).mean() > 0.5, "the camera sees mostly background"
        if kind == "box":  # flat walls of few colours fill the frame
            assert len({tuple(c) for c in frame.albedo.reshape(-1, 3).round(2)}) < 600


def test_importing_the_generator_does_not_import_bpy():
    script = "import sys, mcdenoise.render.procedural; assert 'bpy' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.mark.blender
def test_build_scene_is_deterministic_and_differs_between_indices(blender_env):
    # (index, seed): a scene, the next index, the first again after it, another seed
    first, other_index, again, other_seed = _python(
        BUILD, json.dumps([[7, 0], [8, 0], [7, 0], [7, 1]]), env=blender_env, key="SCENES")
    (fresh,) = _python(BUILD, json.dumps([[7, 0]]), env=blender_env, key="SCENES")
    assert first == again == fresh
    assert first["objects"] != other_index["objects"]
    assert first["objects"] != other_seed["objects"]
    description = first["description"]
    assert description["kind"] == scene_kind(7, 0)
    assert (description["index"], description["scene_seed"]) == (7, 0)
    assert description["objects"] == sum(o[1] == "MESH" for o in first["objects"]) > 0
    assert description["lights"] and description["materials"]
    assert isinstance(description["dof"], bool) and isinstance(description["textures"], list)
    assert first["camera"] is not None


@pytest.fixture(scope="module")
def renders(tmp_path_factory, blender_env):
    out = tmp_path_factory.mktemp("procedural")
    return _python(RENDER, str(out), env=blender_env, key="RENDERS")


@pytest.mark.blender
def test_one_block_of_five_indices_holds_every_kind(renders):
    assert set(renders) == set(SCENE_KINDS)


@pytest.mark.blender
@pytest.mark.parametrize("kind", SCENE_KINDS)
def test_rendered_scene_is_lit_has_content_and_features(renders, kind):
    frame = load_frame(renders[kind]["path"])
    assert (frame.width, frame.height) == (48, 48)
    assert frame.albedo is not None and frame.normal is not None and frame.depth is not None
    assert np.isfinite(frame.color).all()
    luminance = frame.color @ np.array([0.2126, 0.7152, 0.0722], np.float32)
    assert luminance.mean() > 0.005, "(nearly) black frame"
    assert luminance.std() > 0.005, "flat frame"
    assert frame.albedo.std(axis=(0, 1)).max() > 0.01, "albedo without detail"
    assert (frame.depth > 0).mean() > 0.3, "the camera sees mostly background"
