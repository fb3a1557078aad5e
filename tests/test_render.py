"""`mcdenoise render`: Noise2Noise pairs rendered by Cycles (real Blender, tiny images)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

from mcdenoise import McdenoiseError
from mcdenoise.cli import main
from mcdenoise.cli_params import parse_int_list
from mcdenoise.data import find_renders, make_pairs
from mcdenoise.frame import load_frame
from mcdenoise.render import dataset
from mcdenoise.render.dataset import RenderJob, cycles_seed, render_plan


def _ranks(values):
    order = values.argsort()
    ranks = np.empty_like(order, dtype=np.float64)
    ranks[order] = np.arange(len(values))
    return ranks


def spearman(a, b):
    return float(np.corrcoef(_ranks(a.ravel()), _ranks(b.ravel()))[0, 1])


def _mcdenoise(*args, env):
    done = subprocess.run([sys.executable, "-m", "mcdenoise", *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def procedural(tmp_path_factory, blender_env):
    out = tmp_path_factory.mktemp("procedural")
    _mcdenoise("render", "procedural", "--scenes", 2, "--spp", 16, "--seeds", 2, "--size", 32,
               "--reference-spp", 1024, "--workers", 2, "--out", out, env=blender_env)
    return out


@pytest.mark.blender
def test_procedural_pairs_load_with_every_feature(procedural):
    scenes = find_renders(procedural)
    assert list(scenes) == ["proc0-00000", "proc0-00001"]
    assert len(make_pairs(scenes, "noisy")) == 4 and len(make_pairs(scenes, "clean")) == 4
    for renders in scenes.values():
        for render in renders:
            frame = load_frame(render.path)
            assert (frame.width, frame.height) == (32, 32)
            assert {"albedo", "normal", "depth"} <= set(frame.sources)
            assert frame.normal_space == "camera" and np.isfinite(frame.color).all()
    manifest = json.loads((procedural / "manifest.json").read_text())
    assert manifest["blender"] and manifest["settings"]["reference_spp"] == 1024
    entry = manifest["scenes"]["proc0-00000"]
    assert entry["kind"] and len(entry["renders"]) == 3
    seeds = [r["cycles_seed"] for s in manifest["scenes"].values() for r in s["renders"]]
    assert len(set(seeds)) == len(seeds)  # no two renders share a Cycles seed


@pytest.mark.blender
def test_seeds_give_independent_noise_and_scenes_differ(procedural):
    scene = procedural / "proc0-00000"
    reference = load_frame(scene / "proc0-00000_ref.exr").color
    first = load_frame(scene / "proc0-00000_0016spp_s000.exr").color - reference
    second = load_frame(scene / "proc0-00000_0016spp_s001.exr").color - reference
    # (at 2 spp Cycles' seeds are measurably less independent: 0.12-0.23, see docs/data.md)
    assert abs(spearman(first, second)) < 0.1
    assert spearman(first, first) == pytest.approx(1.0)
    other = load_frame(procedural / "proc0-00001" / "proc0-00001_ref.exr").color
    assert np.abs(other - reference).mean() > 0.01


@pytest.mark.blender
def test_rerun_skips_finished_work(procedural, blender_env):
    files = sorted(procedural.rglob("*.exr"))
    stamps = [p.stat().st_mtime_ns for p in files]
    _mcdenoise("render", "procedural", "--scenes", 2, "--spp", 16, "--seeds", 2, "--size", 32,
               "--reference-spp", 1024, "--out", procedural, env=blender_env)
    assert [p.stat().st_mtime_ns for p in files] == stamps
    assert not list(procedural.rglob(".*.tmp.exr"))


SAVE_BLEND = textwrap.dedent("""
    import sys
    from mcdenoise.render.cycles import import_bpy
    from mcdenoise.render.sample import build_sample_scene
    bpy = import_bpy()
    build_sample_scene(bpy)
    bpy.ops.wm.save_as_mainfile(filepath=sys.argv[1])
""")


@pytest.mark.blender
def test_render_blend_frames_with_camera_jitter(tmp_path, blender_env):
    blend = tmp_path / "shot.blend"
    subprocess.run([sys.executable, "-c", SAVE_BLEND, str(blend)], env=blender_env, check=True,
                   capture_output=True, timeout=300)
    out = tmp_path / "mine"
    _mcdenoise("render", "blend", blend, "--frames", "1-2", "--spp", 16, "--seeds", 2,
               "--size", "24x16", "--camera-jitter", "0.5", "--out", out, env=blender_env)
    scenes = find_renders(out)
    assert list(scenes) == ["shot-f0001", "shot-f0002"]
    frames = {name: [load_frame(r.path) for r in renders] for name, renders in scenes.items()}
    a, b = frames["shot-f0001"]
    assert (a.width, a.height) == (24, 16)
    assert not np.array_equal(a.color, b.color)  # independent noise ...
    # ... of one view: the features (themselves sampled) agree far better within a frame
    # than across the jittered frames
    within = np.abs(a.normal - b.normal).mean()
    across = np.abs(a.normal - frames["shot-f0002"][0].normal).mean()
    assert within < 0.5 * across


def test_render_without_bpy_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset.importlib.util, "find_spec", lambda name: None)
    result = CliRunner().invoke(main, ["render", "procedural", "--scenes", "1",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "pip install 'mcdenoise[blender]'" in result.output
    with pytest.raises(McdenoiseError, match="Python 3.11"):
        dataset.require_bpy()


def test_seeds_are_deterministic_and_references_never_share_input_seeds():
    job = RenderJob(scene="proc0-00003", out="x", spp=[4, 16], seeds=3, width=8, height=8,
                    reference_spp=1024)
    plan = render_plan(job)
    assert [p.name for p, _, _ in plan][-1] == "proc0-00003_ref.exr"
    assert plan == render_plan(job)
    seeds = [seed for _, _, seed in plan]
    assert len(set(seeds)) == len(seeds) == 7
    assert cycles_seed(0, "a", "ref") != cycles_seed(1, "a", "ref")


def test_parse_int_list():
    assert parse_int_list("1,2,5-7") == [1, 2, 5, 6, 7]
    assert parse_int_list("1001-1003,1001") == [1001, 1002, 1003]
    with pytest.raises(Exception, match="is not a list"):
        parse_int_list("3-1")
