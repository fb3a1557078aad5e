"""Real Blender renders (the bpy wheel): what `info` finds in them, and that Blender reads
what mcdenoise writes. Each Blender session runs in a subprocess of its own."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from mcdenoise.exr import read_exr, write_exr
from mcdenoise.frame import load_frame
from mcdenoise.info import describe_file

pytestmark = pytest.mark.blender

RENDER = textwrap.dedent("""
    import sys
    from mcdenoise.render.cycles import import_bpy, render_still
    from mcdenoise.render.sample import build_sample_scene, render_sample
    out = sys.argv[1]
    render_sample(out + "/plain.exr", width=32, height=24, spp=2, seed=3, threads=2)
    # A render with Cycles' own denoiser on: Combined is denoised, Noisy Image holds the beauty.
    bpy = import_bpy()
    scene = bpy.context.scene
    scene.cycles.use_denoising = True
    render_still(scene, out + "/cycles_denoised.exr")
""")

PASSES = textwrap.dedent("""
    import json, sys
    from mcdenoise.render.cycles import import_bpy
    bpy = import_bpy()
    tree = bpy.data.node_groups.new("check", "CompositorNodeTree")
    found = {}
    for path in sys.argv[1:]:
        node = tree.nodes.new("CompositorNodeImage")
        node.image = bpy.data.images.load(path)
        found[path] = [node.image.type] + [o.name for o in node.outputs if o.enabled]
    print("PASSES=" + json.dumps(found))
""")


def _python(script, *args, env):
    done = subprocess.run([sys.executable, "-c", script, *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def renders(tmp_path_factory, blender_env):
    out = tmp_path_factory.mktemp("renders")
    _python(RENDER, out, env=blender_env)
    return out


def test_info_on_a_real_blender5_render_picks_the_denoising_passes(renders):
    report = describe_file(renders / "plain.exr")
    assert report["multipart"] and (report["width"], report["height"]) == (32, 24)
    names = {part["name"] for part in report["parts"]}
    assert {"ViewLayer.Combined", "ViewLayer.Denoising Albedo", "ViewLayer.Denoising Normal",
            "ViewLayer.Denoising Depth"} <= names
    uses = report["layers"][0]["uses"]
    assert report["layers"][0]["name"] == "ViewLayer"
    assert uses["color"]["pass"] == "Combined"
    assert uses["albedo"]["pass"] == "Denoising Albedo"
    assert uses["normal"]["pass"] == "Denoising Normal"
    assert uses["normal"]["normal_space"] == "camera"
    assert uses["depth"]["pass"] == "Denoising Depth"
    assert uses["alpha"]["channels"] == ["ViewLayer.Combined.A"]
    assert report["notes"] == []


def test_cycles_denoised_render_uses_the_noisy_image(renders):
    frame = load_frame(renders / "cycles_denoised.exr")
    assert frame.sources["color"].pass_name == "Noisy Image"
    assert frame.sources["albedo"].pass_name == "Denoising Albedo"


def test_blender_reads_what_mcdenoise_writes(renders, tmp_path, blender_env):
    source = renders / "plain.exr"
    image = read_exr(source)
    write_exr(tmp_path / "copy.exr", image)
    copy = read_exr(tmp_path / "copy.exr")
    assert [p.name for p in copy.parts] == [p.name for p in image.parts]
    assert copy.parts[0].header["Software"].startswith("Blender")
    output = _python(PASSES, source, tmp_path / "copy.exr", env=blender_env)
    found = json.loads(output.split("PASSES=", 1)[1])
    original, written = found[str(source)], found[str(tmp_path / "copy.exr")]
    assert original[0] == "MULTILAYER" and "Denoising Albedo" in original
    assert written == original
