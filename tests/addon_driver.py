"""Drives the Blender add-on inside real Blender (the bpy module) for tests/test_addon.py.

    python tests/addon_driver.py ZIP WORKDIR MCDENOISE_EXECUTABLE

Installs the built zip into the sandboxed user folders (BLENDER_USER_* set by the caller),
then runs every scenario, each in its own try block, and prints one JSON line: for each
scenario either its measurements or the error that broke it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from driver_common import Scenarios, disable_and_look, image_rgb, mse

ZIP, WORK, EXECUTABLE = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
SIZE, SPP, REFERENCE_SPP = (64, 48), 4, 256

import bpy  # noqa: E402  (after the BLENDER_USER_* variables the caller set)

from mcdenoise.exr import place_in_display_window, read_exr  # noqa: E402
from mcdenoise.frame import load_beauty, load_frame  # noqa: E402
from mcdenoise.render.cycles import configure_cycles  # noqa: E402
from mcdenoise.render.sample import build_sample_scene  # noqa: E402

SCENARIOS = Scenarios()
scenario = SCENARIOS.add
MODULE = "bl_ext.user_default.mcdenoise"




def work():
    return sys.modules[f"{MODULE}.work"]


def prefs():
    return bpy.context.preferences.addons[MODULE].preferences


def operator_error(call) -> str | None:
    """Blender turns an operator's ERROR report into a RuntimeError for Python callers."""
    try:
        call()
    except RuntimeError as exc:
        return str(exc)
    return None








def combined(path: Path) -> np.ndarray:
    """The Combined pass of a Blender multilayer EXR (load_frame prefers 'Noisy Image')."""
    image = read_exr(path)
    where = {name: part for part, name in image.channel_names()}
    return np.stack([place_in_display_window(image, where[f"ViewLayer.Combined.{c}"],
                                             f"ViewLayer.Combined.{c}") for c in "RGB"], -1)


def render_to(scene, path: Path) -> np.ndarray:
    bpy.ops.render.render()
    with work().multilayer_exr_output(scene):
        bpy.data.images["Render Result"].save_render(filepath=str(path), scene=scene)
    return load_frame(path).color


def fresh_scene():
    scene = build_sample_scene(bpy)
    configure_cycles(scene, SPP, seed=3, width=SIZE[0], height=SIZE[1], threads=2)
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = str(WORK / "out" / "still_")
    return scene


@scenario
def install():
    done = bpy.ops.extensions.package_install_files(filepath=str(ZIP), repo="user_default",
                                                    enable_on_install=True)
    return {"result": sorted(done), "enabled": MODULE in bpy.context.preferences.addons,
            "operator": hasattr(bpy.types, "MCDENOISE_OT_denoise")}


@scenario
def errors_before_render():
    scene = fresh_scene()
    out = {"no_render": operator_error(bpy.ops.mcdenoise.denoise)}
    bpy.context.view_layer.cycles.denoising_store_passes = False
    out["no_passes"] = operator_error(bpy.ops.mcdenoise.denoise)
    scene.cycles.use_denoising = True
    bpy.ops.mcdenoise.setup_passes()
    out["passes_after_setup"] = bpy.context.view_layer.cycles.denoising_store_passes
    out["vector_after_setup"] = bpy.context.view_layer.use_pass_vector
    out["animated_seed_after_setup"] = scene.cycles.use_animated_seed
    out["cycles_denoiser_after_setup"] = scene.cycles.use_denoising
    return out


@scenario
def button():
    scene = fresh_scene()
    scene.cycles.samples = REFERENCE_SPP
    reference = render_to(scene, WORK / "reference.exr")
    scene.cycles.samples = SPP
    noisy = render_to(scene, WORK / "noisy.exr")
    out = {}
    for mode in ("IN_PROCESS", "EXTERNAL"):
        prefs().mode, prefs().executable = mode, EXECUTABLE
        if work().RESULT_IMAGE in bpy.data.images:
            bpy.data.images.remove(bpy.data.images[work().RESULT_IMAGE])
        scene.mcdenoise.save_result = mode == "EXTERNAL"
        done = bpy.ops.mcdenoise.denoise()
        denoised = image_rgb(bpy, work().RESULT_IMAGE)
        out[mode] = {"result": sorted(done), "shape": list(denoised.shape),
                     "finite": bool(np.isfinite(denoised).all()),
                     "mse_noisy": mse(noisy, reference), "mse_denoised": mse(denoised, reference),
                     "format_after": scene.render.image_settings.file_format,
                     "saved": sorted(p.name for p in (WORK / "out").glob("*denoised*"))}
    return out


@scenario
def error_paths():
    scene = bpy.context.scene
    out = {}
    prefs().mode, prefs().executable = "EXTERNAL", str(WORK / "no-such-mcdenoise")
    out["missing_executable"] = operator_error(bpy.ops.mcdenoise.denoise)
    failing = WORK / "failing-mcdenoise"
    failing.write_text("#!/bin/sh\necho 'Error: the GPU caught fire' >&2\nexit 1\n")
    failing.chmod(0o755)
    prefs().executable = str(failing)
    out["failing_subprocess"] = operator_error(bpy.ops.mcdenoise.denoise)
    prefs().mode = "IN_PROCESS"
    scene.mcdenoise.model = str(WORK / "missing.safetensors")
    out["missing_model"] = operator_error(bpy.ops.mcdenoise.denoise)
    scene.mcdenoise.model = ""
    out["check"] = sorted(bpy.ops.mcdenoise.check())
    out["status"] = prefs().status
    return out


@scenario
def interface_queue():
    """The interface's path: items queued, the timer function polls the running Task (a
    subprocess here) until the queue is empty. Background mode has no event loop, so the
    test calls the timer itself."""
    scene = bpy.context.scene
    prefs().mode, prefs().executable = "EXTERNAL", EXECUTABLE
    bpy.data.images.remove(bpy.data.images[work().RESULT_IMAGE])
    for _ in range(2):
        item = work().StillItem(scene, bpy.context.view_layer)
        item.prepare()
        work().STATE.queue.append(item)
    work().STATE.rendering = True  # while a render job runs, queued work waits
    held = work().tick(), len(work().STATE.queue), work().STATE.task
    work().STATE.rendering = False
    polls, busy = 0, []
    while polls < 2000:
        interval = work().tick()
        polls += 1
        busy.append(work().STATE.message)
        if work().STATE.task is None and not work().STATE.queue:
            break
        time.sleep(0.05)
    return {"held_while_rendering": [held[0], held[1], held[2] is None],
            "interval_when_idle": interval, "polls": polls,
            "progress_seen": any("denoising render" in m for m in busy),
            "result": work().RESULT_IMAGE in bpy.data.images, "message": work().STATE.message,
            "last_error": work().STATE.last_error}


@scenario
def auto_still():
    scene = bpy.context.scene
    prefs().mode = "IN_PROCESS"
    bpy.data.images.remove(bpy.data.images[work().RESULT_IMAGE])
    scene.mcdenoise.auto_denoise = True
    scene.mcdenoise.save_result = False
    bpy.ops.render.render()
    return {"result": work().RESULT_IMAGE in bpy.data.images,
            "finite": bool(np.isfinite(image_rgb(bpy, work().RESULT_IMAGE)).all()),
            "message": work().STATE.message}


def animate(scene, folder: str, multilayer: bool, output: str) -> dict:
    scene.frame_start, scene.frame_end = 1, 3
    scene.cycles.use_animated_seed = True  # each frame its own noise, as in a real shot
    scene.render.use_persistent_data = False  # (with it, Blender 5.0 keeps the first seed)
    scene.render.filepath = str(WORK / folder / "frame_")
    settings = scene.render.image_settings
    if multilayer:
        if hasattr(settings, "media_type"):
            settings.media_type = "MULTI_LAYER_IMAGE"
        settings.file_format = "OPEN_EXR_MULTILAYER"
        settings.color_depth = "16"
    else:
        if hasattr(settings, "media_type"):
            settings.media_type = "IMAGE"
        settings.file_format = "PNG"
    scene.mcdenoise.animation_output = output
    work().STATE.last_error = ""
    bpy.ops.render.render(animation=True)
    root = WORK / folder
    return {"rendered": sorted(p.name for p in root.glob("frame_*")),
            "denoised": sorted(p.name for p in (root / "denoised").glob("frame_*"))
            if (root / "denoised").is_dir() else [],
            "last_error": work().STATE.last_error}


def shot_folders() -> list[str]:
    """The add-on's temporary shot folders (first passes) left in the temp folder."""
    import tempfile

    return sorted(p.name for p in Path(tempfile.gettempdir()).glob("mcdenoise-shot-*"))


def render_shot(scene) -> int:
    """The frames in anim_exr handed to a new shot as a render job writes them, then the
    job ends; how many items were queued while it rendered."""
    work().on_render_init(scene)
    for frame in (1, 2, 3):
        item = work().FrameItem(scene, frame)
        item.shot, item.index = work().STATE.shot, frame - 1
        work().STATE.shot.frames.append(item)
        work().release_first(work().STATE.shot)
    queued = len(work().STATE.queue)
    work().STATE.rendering = False
    work()._end_shot()
    return queued


def interface_shot(scene) -> dict:
    """The interface's path for a shot, on the frames in anim_exr: frames handed to the
    shot as a render job writes them, work queued (as without ``-b``) and the timer called
    until the queue is empty; the external executable runs each step."""
    prefs().mode, prefs().executable = "EXTERNAL", EXECUTABLE
    scene.mcdenoise.folder = "denoised_ui"
    queued = work().submit
    work().submit = work().STATE.queue.append  # what submit does in the interface
    try:
        waiting_while_rendering = render_shot(scene)  # frame 1: 2 and 3 are written
        labels, polls = [], 0
        while polls < 4000 and (work().STATE.task is not None or work().STATE.queue):
            work().tick()
            polls += 1
            if work().STATE.current is not None:
                labels.append((work().STATE.current.frame, work().STATE.current.stage))
            time.sleep(0.05)
    finally:
        work().submit = queued
        scene.mcdenoise.folder = "denoised"
        prefs().mode = "IN_PROCESS"
    return {"waiting_while_rendering": waiting_while_rendering,
            "steps": list(dict.fromkeys(labels)), "last_error": work().STATE.last_error,
            "shot_folders": shot_folders()}


@scenario
def auto_animation():
    scene = bpy.context.scene
    out = {"exr_folder": animate(scene, "anim_exr", True, "FOLDER")}
    frame = load_frame(WORK / "anim_exr" / "denoised" / "frame_0002.exr")
    noisy = combined(WORK / "anim_exr" / "frame_0002.exr")
    out["exr_folder"].update(
        color_source=frame.sources["color"].pass_name,
        layers=sorted({n.split(".")[1] for _, n in frame.image.channel_names() if "." in n}),
        noisy_kept=bool(np.abs(frame.color - noisy).max() < 1e-2),
        changed=bool(np.abs(combined(WORK / "anim_exr" / "denoised" / "frame_0002.exr")
                            - noisy).max() > 1e-2))
    # each frame denoised as `mcdenoise denoise frame_####.exr` does the sequence (the
    # add-on denoises a frame once its neighbours are written, blends it once theirs are
    # denoised); without the blend, as --no-blend does
    for flag in ("--blend", "--no-blend", "--no-temporal"):
        subprocess.run([EXECUTABLE, "denoise", str(WORK / "anim_exr" / "frame_####.exr"), "-o",
                        str(WORK / f"anim_cli{flag}" / "frame_####.exr"), "--device", "cpu",
                        flag], check=True, capture_output=True)

    def beauty(folder: str, frame: int) -> np.ndarray:
        return load_beauty(WORK / folder / f"frame_{frame:04d}.exr")

    def apart(folder: str, other: str) -> float:
        """Largest difference over the three frames, relative to the value (the add-on's
        first passes are half floats, as the frames are)."""
        return max(float((np.abs(beauty(folder, k) - beauty(other, k))
                          / (np.abs(beauty(other, k)) + 1e-2)).max()) for k in (1, 2, 3))

    out["exr_folder"]["vs_cli_sequence"] = apart("anim_exr/denoised", "anim_cli--blend")
    out["exr_folder"]["vs_cli_no_blend"] = apart("anim_exr/denoised", "anim_cli--no-blend")
    out["exr_folder"]["vs_cli_single"] = float(np.abs(
        beauty("anim_exr/denoised", 2) - beauty("anim_cli--no-temporal", 2)).mean())
    out["exr_folder"]["shot_folders"] = shot_folders()
    out["interface"] = interface_shot(scene)
    out["interface"]["vs_cli_sequence"] = apart("anim_exr/denoised_ui", "anim_cli--blend")
    scene.mcdenoise.use_blend = False
    out["exr_no_blend"] = animate(scene, "anim_noblend", True, "FOLDER")
    out["exr_no_blend"]["vs_cli_no_blend"] = apart("anim_noblend/denoised",
                                                   "anim_cli--no-blend")
    scene.mcdenoise.use_blend = True
    out["png_folder"] = animate(scene, "anim_png", False, "FOLDER")
    out["exr_replace"] = animate(scene, "anim_replace", True, "REPLACE")
    replaced = load_frame(WORK / "anim_replace" / "frame_0001.exr")
    out["exr_replace"]["color_source"] = replaced.sources["color"].pass_name
    out["exr_replace"]["layers"] = sorted({n.split(".")[1] for _, n in
                                           replaced.image.channel_names() if "." in n})
    # replaced only once no later frame needs it as a neighbour: the same result as FOLDER
    out["exr_replace"]["vs_folder"] = apart("anim_replace", "anim_exr/denoised")
    out["exr_replace"]["shot_folders"] = shot_folders()
    out["exr_replace"]["leftovers"] = sorted(p.name for p in (WORK / "anim_replace").iterdir()
                                             if not p.name.startswith("frame_"))
    for view_layer in scene.view_layers:
        view_layer.cycles.denoising_store_passes = False
    out["no_passes"] = animate(scene, "anim_nopasses", True, "FOLDER")
    scene.mcdenoise.auto_denoise = False
    return out


@scenario
def cancel_mid_shot():
    """Cancel (Esc, disabling the add-on) while an in-process first pass runs: its thread
    still writes into the shot's folder after the cancel, and the folder goes only once the
    thread has ended; the frames are left as rendered."""
    scene = bpy.context.scene
    bridge = sys.modules[f"{MODULE}.bridge"]
    gate, original = threading.Event(), bridge._denoise_here

    def held(request, runtime="torch"):
        gate.wait(60)
        original(request, runtime)

    prefs().mode = "IN_PROCESS"
    scene.mcdenoise.folder = "denoised_cancel"
    for view_layer in scene.view_layers:  # as the frames in anim_exr were rendered
        view_layer.cycles.denoising_store_passes = True
    queued, bridge._denoise_here = work().submit, held
    work().submit = work().STATE.queue.append  # what submit does in the interface
    try:
        render_shot(scene)
        work().tick()  # frame 1's first pass starts, held before it writes
        task = work().STATE.task
        running = task is not None and not task.done()
        work().cancel_all()
        during = shot_folders()
        gate.set()
        task.wait()
        error = task.error
    finally:
        gate.set()
        bridge._denoise_here, work().submit = original, queued
        scene.mcdenoise.folder = "denoised"
    outputs = WORK / "anim_exr" / "denoised_cancel"
    return {"running": running, "during": during, "task_error": error,
            "shot_folders": shot_folders(), "queue": len(work().STATE.queue),
            "outputs": sorted(p.name for p in outputs.iterdir()) if outputs.exists() else []}


@scenario
def unregister():
    return disable_and_look(bpy, MODULE)


@scenario
def legacy_install():
    """The same zip through Preferences > Add-ons > Install (the pre-4.2 way)."""
    bpy.ops.preferences.addon_install(filepath=str(ZIP))
    bpy.ops.preferences.addon_enable(module="mcdenoise_blender")
    out = {"enabled": "mcdenoise_blender" in bpy.context.preferences.addons,
           "operator": hasattr(bpy.types, "MCDENOISE_OT_denoise")}
    bpy.ops.preferences.addon_disable(module="mcdenoise_blender")
    out["disabled_clean"] = not hasattr(bpy.types, "MCDENOISE_OT_denoise")
    return out


print("RESULTS " + json.dumps(SCENARIOS.results), flush=True)
os._exit(0)  # skip Blender's slow teardown
