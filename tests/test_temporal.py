"""Aligning frames of a sequence: warping, rejection, Cycles' motion-vector convention
(measured on real Blender renders) and the accumulation that feeds sequence denoising."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import dataclass

import numpy as np
import pytest

from mcdenoise.frame import load_frame
from mcdenoise.temporal import accumulate, align, offsets, warp


@dataclass
class _Frame:
    color: np.ndarray
    albedo: np.ndarray | None = None
    normal: np.ndarray | None = None
    depth: np.ndarray | None = None
    vectors: np.ndarray | None = None


def _pattern(height=40, width=50, shift=0):
    cols = np.arange(width)[None, :] - shift
    rows = np.arange(height)[:, None]
    value = 1.0 + 0.5 * np.sin(cols / 3.0) + 0.3 * np.cos(rows / 4.0)
    return np.repeat(value[..., None], 3, axis=-1).astype(np.float32)


def test_warp_by_whole_pixels_and_edges():
    image = _pattern()
    moved, inside = warp(image, np.zeros((40, 50), np.float32), np.full((40, 50), -3.0,
                                                                         np.float32))
    np.testing.assert_allclose(moved[:, 3:], image[:, :-3], atol=1e-6)
    assert not inside[:, :3].any() and inside[:, 3:].all()


def test_vectors_align_a_moved_frame_and_rejection_stops_ghosts():
    flat = np.ones((40, 50), np.float32)
    previous = _Frame(_pattern(shift=0), depth=flat.copy())
    current = _Frame(_pattern(shift=4), depth=flat.copy())
    vectors = np.zeros((40, 50, 4), np.float32)
    vectors[..., 0] = -4.0  # Blender: the pixel was 4 px to the left in the previous frame
    current.vectors = vectors
    aligned = align(current, previous, -1)
    # (the 4 columns it had outside the frame are clamped copies: the shading test's 7x7
    # means reach 3 columns further)
    assert not aligned.valid[:, :4].any() and aligned.valid[:, 7:].all()
    np.testing.assert_allclose(aligned.color[:, 4:], current.color[:, 4:], atol=1e-5)
    # without depth, normal or albedo nothing can be checked: no pixel is trusted
    assert not align(_Frame(current.color, vectors=vectors), _Frame(previous.color), -1
                     ).valid.any()
    # a surface the previous frame does not show (other depth) is rejected
    previous.depth[:, 20:30] = 3.0
    aligned = align(current, previous, -1)
    assert not aligned.valid[:, 24:34].any() and aligned.valid[:, 34:].all()


def test_offsets_follow_cycles_convention():
    vectors = np.array([[[2.0, 3.0, 5.0, 7.0]]], np.float32)
    assert [float(v[0, 0]) for v in offsets(vectors, -1)] == [-3.0, 2.0]  # rows down
    assert [float(v[0, 0]) for v in offsets(vectors, 1)] == [7.0, -5.0]


def test_accumulating_a_still_shot_averages_its_noise():
    rng = np.random.default_rng(0)
    clean = _pattern()
    frames = [_Frame(clean * rng.gamma(4.0, 0.25, clean.shape).astype(np.float32),
                     depth=np.ones((40, 50), np.float32)) for _ in range(3)]
    color, samples = accumulate(frames[1], [frames[0]], [frames[2]])
    assert (samples == 3).mean() > 0.8  # the shading test (1.5 sigma) rejects some by chance
    error_one = np.mean((frames[1].color - clean) ** 2)
    error_three = np.mean((color - clean) ** 2)
    assert error_three < 0.5 * error_one  # 1/3 for independent noise, all pixels kept
    five, samples = accumulate(frames[1], [frames[0], None], [frames[2], frames[0]])
    assert (samples == 4).mean() > 0.7  # a missing frame ends its side; two after, one before
    assert samples.max() == 4
    alone, samples = accumulate(frames[1])
    np.testing.assert_array_equal(alone, frames[1].color)
    assert (samples == 1).all()


def test_shading_that_does_not_travel_with_the_surface_is_not_averaged_in():
    """Same geometry, but the neighbour has a highlight the frame has not (a turning ball,
    a moving light): its pixels there are left out, the rest is used."""
    rng = np.random.default_rng(1)
    clean = _pattern()
    here = _Frame(clean * rng.gamma(4.0, 0.25, clean.shape).astype(np.float32),
                  depth=np.ones((40, 50), np.float32))
    lit = clean.copy()
    lit[10:22, 15:30] += 3.0  # the highlight
    there = _Frame(lit * rng.gamma(4.0, 0.25, clean.shape).astype(np.float32),
                   depth=np.ones((40, 50), np.float32))
    aligned = align(here, there, 1)
    assert not aligned.valid[12:20, 18:27].any()  # inside the highlight
    assert aligned.valid[30:, :].mean() > 0.95  # away from it
    color, _ = accumulate(here, [], [there])
    assert np.abs(color[12:20, 18:27] - here.color[12:20, 18:27]).max() < 1e-6


MOVING = textwrap.dedent("""
    import bpy, math, sys
    from mcdenoise.render.cycles import configure_cycles, set_multilayer_exr, render_still
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    bpy.ops.mesh.primitive_plane_add(size=30, location=(0, 6, 0),
                                     rotation=(math.radians(90), 0, 0))
    wall = bpy.data.materials.new("wall")
    tex = wall.node_tree.nodes.new("ShaderNodeTexChecker")
    tex.inputs["Scale"].default_value = 20.0
    wall.node_tree.links.new(tex.outputs["Color"],
                             wall.node_tree.nodes["Principled BSDF"].inputs["Base Color"])
    bpy.context.active_object.data.materials.append(wall)
    bpy.ops.mesh.primitive_cube_add(size=1.5)
    cube = bpy.context.active_object
    for frame, x, z in ((1, -1.0, -0.5), (2, 0.0, 0.0), (3, 1.0, 0.5)):
        cube.location = (x, 0, z)
        cube.rotation_euler = (0, 0, 0.1 * frame)  # (turning less than the normal test allows)
        cube.keyframe_insert("location", frame=frame)
        cube.keyframe_insert("rotation_euler", frame=frame)
    sun = bpy.data.objects.new("sun", bpy.data.lights.new("sun", "SUN"))
    sun.data.energy = 3.0
    scene.collection.objects.link(sun)
    scene.world = bpy.data.worlds.new("w")
    scene.world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.5
    cam = bpy.data.objects.new("cam", bpy.data.cameras.new("cam"))
    scene.collection.objects.link(cam)
    cam.location, cam.rotation_euler = (0, -9, 0), (math.radians(90), 0, 0)
    scene.camera = cam
    configure_cycles(scene, spp=16, seed=1, width=96, height=64, threads=2)
    scene.view_layers[0].use_pass_vector = True
    set_multilayer_exr(scene, half=False)
    for frame in (1, 2, 3):
        scene.frame_set(frame)
        render_still(scene, f"{sys.argv[1]}/f{frame}.exr")
""")


@pytest.mark.blender
def test_cycles_vectors_align_real_frames(tmp_path, blender_env):
    done = subprocess.run([sys.executable, "-c", MOVING, str(tmp_path)], env=blender_env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    frames = [load_frame(tmp_path / f"f{i}.exr") for i in (1, 2, 3)]
    current = frames[1]
    assert current.vectors is not None and np.abs(current.vectors).max() > 3
    moving = np.abs(current.vectors).sum(-1) > 1.0
    for neighbour, direction in ((frames[0], -1), (frames[2], 1)):
        aligned = align(current, neighbour, direction)
        usable = aligned.valid & moving
        assert usable.sum() > 100
        warped_error = np.mean(np.abs(aligned.color - current.color)[usable])
        still_error = np.mean(np.abs(neighbour.color - current.color)[usable])
        assert warped_error < 0.35 * still_error, (direction, warped_error, still_error)


def test_two_steps_compose_the_vectors_of_each_frame():
    """A pattern moving 3 px a frame: two frames back is found through the middle frame's
    own vectors."""
    flat = np.ones((40, 60), np.float32)
    frames = [_Frame(_pattern(40, 60, shift=3 * i), depth=flat) for i in range(3)]
    for frame in frames:
        frame.vectors = np.zeros((40, 60, 4), np.float32)
        frame.vectors[..., 0] = -3.0  # was 3 px to the left a frame ago
    color, samples = accumulate(frames[2], [frames[1], frames[0]], [])
    assert (samples[:, 9:] == 3).all()  # (the shading test's window reaches 3 px further)
    np.testing.assert_allclose(color[:, 6:], frames[2].color[:, 6:], atol=1e-4)


def test_blend_averages_whole_pixel_neighbours_and_spares_half_pixel_ones():
    """A denoised neighbour is blended in fully where its samples land on whole pixels and
    not at all halfway between them, where bilinear sampling would blur a sharp image."""
    from mcdenoise.temporal import blend, link_neighbours

    flat = np.ones((40, 50), np.float32)
    for shift, expected_weight in ((1.0, 1.0), (1.5, 0.0)):
        vectors = np.zeros((40, 50, 4), np.float32)
        vectors[..., 0] = -shift  # the pixel was `shift` px to the left in the previous frame
        here = _Frame(_pattern(), depth=flat.copy(), vectors=vectors)
        previous = _Frame(_pattern(shift=-shift), depth=flat.copy())
        links = link_neighbours(here, [previous], [])
        inner = (slice(None), slice(8, None))  # away from the edge it came in over
        assert links[0].valid[inner].all()
        denoised = here.color.copy()
        out = blend(denoised, links, {-1: np.full_like(denoised, 5.0)})
        mixed = (out[inner] - denoised[inner]) / (5.0 - denoised[inner])
        np.testing.assert_allclose(mixed, expected_weight / (1 + expected_weight), atol=1e-4)


def test_background_pixels_of_two_frames_agree():
    """Cycles writes zero normals where a ray leaves the scene (the sky): two such pixels
    are the same background, not a normal mismatch."""
    color = _pattern()
    normal = np.zeros((40, 50, 3), np.float32)
    normal[:20] = (0.0, 0.0, 1.0)  # a surface above, the sky below
    depth = np.ones((40, 50), np.float32)
    frame = _Frame(color, normal=normal, depth=depth)
    aligned = align(frame, _Frame(color.copy(), normal=normal.copy(), depth=depth.copy()), -1)
    assert aligned.valid.all()
    turned = normal.copy()
    turned[:20] = (1.0, 0.0, 0.0)
    aligned = align(frame, _Frame(color.copy(), normal=turned, depth=depth.copy()), -1)
    assert not aligned.valid[:20].any() and aligned.valid[20:].all()


def test_cubic_sampling_keeps_detail_that_bilinear_blurs_and_never_rings():
    """The blend warps denoised frames with Catmull-Rom: exact on whole pixels, far closer
    than bilinear on a smooth image at sub-pixel offsets, and clamped to the four nearest
    pixels, so a bright edge does not ring."""
    from mcdenoise.temporal import CubicSampler, Sampler

    zero = np.zeros((32, 40), np.float32)
    image = np.random.default_rng(0).random((32, 40, 3)).astype(np.float32)
    np.testing.assert_array_equal(CubicSampler(zero, zero)(image), image)
    inner = (slice(3, -3), slice(3, -3))
    np.testing.assert_allclose(CubicSampler(zero + 1, zero - 2)(image)[inner],
                               Sampler(zero + 1, zero - 2)(image)[inner], atol=1e-6)
    rows, cols = np.mgrid[0:32, 0:40].astype(np.float32)
    smooth = (np.sin(rows * 0.9) * np.cos(cols * 0.7))[..., None]
    truth = (np.sin((rows + 0.5) * 0.9) * np.cos((cols + 0.3) * 0.7))[..., None]
    cubic = np.abs(CubicSampler(zero + 0.5, zero + 0.3)(smooth) - truth)[inner].mean()
    bilinear = np.abs(Sampler(zero + 0.5, zero + 0.3)(smooth) - truth)[inner].mean()
    assert cubic < 0.25 * bilinear
    step = np.where(cols < 20, 0.0, 100.0)[..., None].astype(np.float32)  # a bright edge
    shifted = CubicSampler(zero, zero + 0.5)(step)
    assert shifted.min() >= 0.0 and shifted.max() <= 100.0
