"""Moving shots: a scene animated over a few frames (the camera trucks sideways, the scene's
own keyframes, if any, play out over the shot; procedural scenes get a few objects moving),
each frame rendered with the Vector pass.

**Field shots** (``render field --moving``) render each frame noisy and once more as its own
reference. **Training shots** (``render procedural --animated``, for sequence denoising)
render each frame with two seeds and write one Noise2Noise pair per frame into the training
layout: the frame of one seed averaged with its aligned neighbours of the same seed
(``temporal.accumulate``, what ``mcdenoise denoise`` feeds the network for a sequence) and
the frame of the other seed, which shares no sample with it. No reference is rendered.

Layout: ``OUT/<scene>/<scene>_<spp:04d>spp.<frame:04d>.exr`` (noisy frames, a frame
pattern ``mcdenoise denoise`` takes as a sequence) and ``OUT/<scene>/<scene>_ref.<frame:04d>
.exr``. Motion blur is off (Cycles writes no Vector pass with it). Seeds differ per frame
and per render, so consecutive frames have independent noise as in a real animation;
finished frames are skipped, so a killed run resumes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

# the default moving shots: a static box (camera motion, parallax, disocclusion), fine
# textures (sub-pixel motion must not smear them) and objects that move on their own
MOVING_SCENES = ("cornell", "textures", "motion_blur")
TRUCK = 0.012  # camera motion per frame, as a fraction of its distance from the origin
MOVING_REFERENCE_SPP = 1024  # per frame (each frame has its own reference)

_FRAME = re.compile(r"^(?P<scene>.+)_(?:(?P<spp>\d{4})spp|ref)\.(?P<frame>\d{4})\.exr$")


def shot_files(folder: Path, scene: str, spp: list[int], frames: int
               ) -> list[tuple[Path, int]]:
    """(file, spp) of every render of a moving shot, noisy frames first (spp 0: reference)."""
    noisy = [(folder / f"{scene}_{count:04d}spp.{f:04d}.exr", count) for count in spp
             for f in range(1, frames + 1)]
    return noisy + [(folder / f"{scene}_ref.{f:04d}.exr", 0) for f in range(1, frames + 1)]


def parse_shot_file(name: str) -> tuple[str, int, int] | None:
    """'cornell_0016spp.0003.exr' -> ('cornell', 16, 3); a reference has spp 0."""
    match = _FRAME.match(name)
    if match is None:
        return None
    return match["scene"], int(match["spp"] or 0), int(match["frame"])


def move_objects(scene: Any, frames: int, seed: int, count: int = 2) -> list[str]:
    """Key ``count`` of the smaller meshes (walls and floors stay) to slide and turn over the
    shot, each by about its own size; returns their names."""
    import random

    rng = random.Random(seed)
    meshes = sorted((o for o in scene.objects if o.type == "MESH" and o.animation_data is None),
                    key=lambda o: (max(o.dimensions), o.name))
    movers = meshes[:max(1, len(meshes) // 2)]
    rng.shuffle(movers)
    for obj in movers[:count]:
        size = max(max(obj.dimensions), 0.05)
        start, turn = obj.location.copy(), obj.rotation_euler[2]
        offset = [rng.uniform(-0.5, 0.5) * size for _ in range(2)]
        spin = rng.uniform(-0.6, 0.6)
        for frame, part in ((1, 0.0), (frames, 1.0)):
            obj.location = (start[0] + offset[0] * part, start[1] + offset[1] * part, start[2])
            obj.rotation_euler[2] = turn + spin * part
            obj.keyframe_insert("location", frame=frame)
            obj.keyframe_insert("rotation_euler", index=2, frame=frame)
    return [obj.name for obj in movers[:count]]


def animate(bpy: Any, scene: Any, frames: int, truck: float = TRUCK) -> None:
    """Frames 1 to ``frames``: the camera trucks to its right at a steady pace, and the
    scene's own animation (keyed from frame 1 to 2 by the field builders) is stretched over
    the shot, linearly; motion blur off, the Vector pass on."""
    from bpy_extras import anim_utils

    span = max(frames - 1, 1)
    for obj in bpy.data.objects:
        data = obj.animation_data
        if data is None or data.action is None:
            continue
        bag = anim_utils.action_get_channelbag_for_slot(data.action, data.action_slot)
        for curve in bag.fcurves if bag is not None else ():
            for key in curve.keyframe_points:
                key.co.x = 1.0 + (key.co.x - 1.0) * span
                key.interpolation = "LINEAR"
            curve.update()
    camera = scene.camera
    start = camera.location.copy()
    right = camera.matrix_world.to_3x3().col[0].normalized()
    step = right * (truck * start.length)
    for frame in (1, frames):
        camera.location = start + step * (frame - 1)
        camera.keyframe_insert("location", frame=frame)
    bag = anim_utils.action_get_channelbag_for_slot(camera.animation_data.action,
                                                    camera.animation_data.action_slot)
    for curve in bag.fcurves:
        for key in curve.keyframe_points:
            key.interpolation = "LINEAR"
    scene.frame_start, scene.frame_end = 1, frames
    scene.render.use_motion_blur = False
    for view_layer in scene.view_layers:
        view_layer.use_pass_vector = True


def _render_frame(scene: Any, path: Path, frame: int, samples: int, seed: int) -> None:
    """One frame of the animated scene to ``path``, atomically."""
    from mcdenoise.atomic import remove_stale_temporaries, replacing
    from mcdenoise.render.cycles import render_still

    scene.frame_set(frame)
    scene.cycles.samples, scene.cycles.seed = samples, seed
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    with replacing(path) as temporary:
        render_still(scene, temporary)


def render_shot(job: Any) -> dict[str, Any]:
    """Render what is missing of one moving shot of a field scene (a RenderJob with
    ``shot_frames``: noisy frames at each of its spp, references at ``reference_spp``);
    its manifest entry."""
    import json

    from mcdenoise.atomic import write_text_atomic
    from mcdenoise.render.cycles import import_bpy
    from mcdenoise.render.dataset import _prepare_scene, cycles_seed

    folder = Path(job.out) / job.scene
    record = folder / f"{job.scene}.json"
    plan = shot_files(folder, job.scene, job.spp, job.shot_frames)
    missing = [(path, count) for path, count in plan if not path.exists()]
    if not missing and record.exists():
        return json.loads(record.read_text())
    bpy = import_bpy()
    scene, description = _prepare_scene(bpy, job)
    animate(bpy, scene, job.shot_frames)
    for path, count in missing:
        frame = parse_shot_file(path.name)[2]
        _render_frame(scene, path, frame, count or job.reference_spp,
                      cycles_seed("moving", job.scene, frame, count or "ref"))
    entry = {"scene": job.scene, **description, "shot": "moving", "frames": job.shot_frames,
             "truck": TRUCK, "width": scene.render.resolution_x,
             "height": scene.render.resolution_y,
             "renders": [{"file": path.name, "spp": count or job.reference_spp,
                          "reference": count == 0} for path, count in plan]}
    write_text_atomic(record, json.dumps(entry, indent=1))
    return entry


def training_frames(folder: Path, scene: str, spp: list[int], frames: int
                    ) -> list[tuple[Path, int, int, int]]:
    """(file, spp, seed, frame) of every raw frame of a training shot (two seeds)."""
    return [(folder / "frames" / f"{scene}_{count:04d}spp_s{seed:03d}.{frame:04d}.exr", count,
             seed, frame) for count in spp for seed in (0, 1) for frame in range(1, frames + 1)]


def render_training_shot(job: Any, radius: int = 2) -> dict[str, Any]:
    """Render what is missing of one procedural training shot (a RenderJob with
    ``shot_frames``, no ``field_scene``) and write its per-frame pairs: scene
    ``<scene>.f<frame>`` holds ``_s000`` (one seed's frame averaged with its neighbours of
    that seed; the seed alternates by frame) and ``_s001`` (the other seed's frame)."""
    import json

    from mcdenoise.atomic import write_text_atomic
    from mcdenoise.render.cycles import import_bpy
    from mcdenoise.render.dataset import _prepare_scene, cycles_seed

    root = Path(job.out)
    folder = root / job.scene
    record = folder / f"{job.scene}.json"
    plan = training_frames(folder, job.scene, job.spp, job.shot_frames)
    missing = [item for item in plan if not item[0].exists()]
    if missing or not record.exists():
        bpy = import_bpy()
        scene, description = _prepare_scene(bpy, job)
        animate(bpy, scene, job.shot_frames)
        movers = move_objects(scene, job.shot_frames, cycles_seed("movers", job.scene))
        for path, count, seed, frame in missing:
            _render_frame(scene, path, frame, count,
                          cycles_seed(job.scene_seed, job.scene, count, seed, frame))
        entry = {"scene": job.scene, **description, "shot": "training", "moving": movers,
                 "frames": job.shot_frames, "truck": TRUCK,
                 "width": scene.render.resolution_x, "height": scene.render.resolution_y}
    else:
        entry = json.loads(record.read_text())
    pairs, read = [], {}  # each raw frame read once for all the pairs that use it
    for count in job.spp:
        for frame in range(1, job.shot_frames + 1):
            pairs += write_training_pair(root, job.scene, count, frame, job.shot_frames,
                                         radius, read)
    entry["renders"] = [{"file": str(p.relative_to(root)), "spp": count, "seed": seed,
                         "reference": False} for p, count, seed in pairs]
    write_text_atomic(record, json.dumps(entry, indent=1))
    return entry


def write_training_pair(root: Path, scene: str, spp: int, frame: int, frames: int,
                        radius: int = 2, read: dict | None = None
                        ) -> list[tuple[Path, int, int]]:
    """One frame's Noise2Noise pair of a training shot, unless already written. ``read``:
    raw frames already read (path -> (ExrImage, Frame)), filled here."""
    import shutil

    from mcdenoise.atomic import replacing
    from mcdenoise.exr import read_exr, write_exr
    from mcdenoise.frame import frame_from_image, with_denoised
    from mcdenoise.temporal import accumulate

    name = f"{scene}.f{frame:04d}"
    averaged = root / name / f"{name}_{spp:04d}spp_s000.exr"
    single = root / name / f"{name}_{spp:04d}spp_s001.exr"
    if not (averaged.exists() and single.exists()):
        seed = frame % 2  # which seed is averaged alternates, so both serve as inputs

        cache = {} if read is None else read

        def raw(which: int, number: int) -> Path:
            return root / scene / "frames" / f"{scene}_{spp:04d}spp_s{which:03d}.{number:04d}.exr"

        def load(which: int, number: int):
            path = raw(which, number)
            if path not in cache:
                image = read_exr(path)
                cache[path] = image, frame_from_image(image, None)
            return cache[path]

        image, here = load(seed, frame)
        before, after = ([load(seed, frame + step * k)[1] for k in range(1, radius + 1)
                          if 1 <= frame + step * k <= frames] for step in (-1, 1))
        color, samples = accumulate(here, before, after)
        averaged.parent.mkdir(parents=True, exist_ok=True)
        with replacing(averaged) as temporary:
            write_exr(temporary, with_denoised(image, here, color, keep_noisy=False, attributes={
                "mcdenoise.accumulated": f"{float(samples.mean()):.2f} frames per pixel"}))
        with replacing(single) as temporary:
            shutil.copyfile(raw(1 - seed, frame), temporary)
    return [(averaged, spp, 0), (single, spp, 1)]
