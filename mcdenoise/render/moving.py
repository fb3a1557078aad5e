"""Moving shots of the field benchmark: a field scene animated over a few frames (the camera
trucks sideways, and the scene's own keyframes, if any, play out over the shot), each frame
rendered noisy with the Vector pass and once more as its own reference.

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


def render_shot(job: Any) -> dict[str, Any]:
    """Render what is missing of one moving shot (a RenderJob with ``shot_frames``: noisy
    frames at each of its spp, references at ``reference_spp``); its manifest entry."""
    import json

    from mcdenoise.atomic import remove_stale_temporaries, replacing, write_text_atomic
    from mcdenoise.render.cycles import import_bpy, render_still
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
        scene.frame_set(frame)
        scene.cycles.samples = count or job.reference_spp
        scene.cycles.seed = cycles_seed("moving", job.scene, frame, count or "ref")
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path)
        with replacing(path) as temporary:
            render_still(scene, temporary)
    entry = {"scene": job.scene, **description, "shot": "moving", "frames": job.shot_frames,
             "truck": TRUCK, "width": scene.render.resolution_x,
             "height": scene.render.resolution_y,
             "renders": [{"file": path.name, "spp": count or job.reference_spp,
                          "reference": count == 0} for path, count in plan]}
    write_text_atomic(record, json.dumps(entry, indent=1))
    return entry
