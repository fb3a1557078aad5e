"""Drives the self-contained extension zip in real Blender (the bpy module) for
tests/test_addon.py, as a Blender user without PyTorch or mcdenoise would run it.

    python tests/extension_driver.py ZIP WORKDIR

torch cannot be imported here, and ``mcdenoise`` only from the extension's own wheels (the
development install is hidden); the caller leaves no mcdenoise executable on PATH. Prints
one JSON line: per scenario its measurements or the error that broke it.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import json
import math
import os
import sys
from pathlib import Path

import numpy as np
from driver_common import Scenarios, disable_and_look, image_rgb, mse

ZIP, WORK = Path(sys.argv[1]), Path(sys.argv[2])
SITE = Path(os.environ["BLENDER_USER_EXTENSIONS"]) / ".local" / "lib" / "python3.11" / \
    "site-packages"
SIZE, SPP, REFERENCE_SPP = (64, 48), 4, 256
MODULE = "bl_ext.user_default.mcdenoise"


class Sandbox(importlib.abc.MetaPathFinder):
    """No torch; mcdenoise from the extension's site-packages or not at all."""

    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top == "torch":
            raise ImportError("torch is not installed here")
        if name == "mcdenoise":
            spec = importlib.machinery.PathFinder.find_spec(name, [str(SITE)])
            if spec is None:
                raise ImportError("mcdenoise is not installed here")
            return spec
        return None


sys.meta_path.insert(0, Sandbox())

import bpy  # noqa: E402  (after the BLENDER_USER_* variables the caller set)

SCENARIOS = Scenarios()
scenario = SCENARIOS.add




def work():
    return sys.modules[f"{MODULE}.work"]


def prefs():
    return bpy.context.preferences.addons[MODULE].preferences








def material(name, color, roughness=0.6, transmission=0.0):
    mat = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        mat.use_nodes = True
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*color, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    bsdf.inputs["Transmission Weight"].default_value = transmission
    return mat


def scene_of_a_user():
    """A small scene made as a user would: floor, two objects, an area light, a dim sky;
    Cycles at low spp with Denoising Data passes and Cycles' own denoiser off."""
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    scene = bpy.context.scene
    bpy.ops.mesh.primitive_plane_add(size=10.0)
    bpy.context.active_object.data.materials.append(material("floor", (0.7, 0.6, 0.5)))
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.8, location=(-0.8, 0.5, 0.8))
    bpy.context.active_object.data.materials.append(material("red", (0.8, 0.1, 0.1), 0.3))
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(1.0, -0.3, 0.5))
    bpy.context.active_object.data.materials.append(material("glass", (1, 1, 1), 0.0, 1.0))
    light = bpy.data.objects.new("area", bpy.data.lights.new("area", "AREA"))
    light.data.energy, light.data.size = 300.0, 1.0
    light.location, light.rotation_euler = (2.0, -2.0, 4.0), (0.6, 0.3, 0.4)
    scene.collection.objects.link(light)
    world = bpy.data.worlds.new("sky")
    if bpy.app.version < (5, 0, 0):
        world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.4, 0.5, 0.7, 1.0)
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.3
    scene.world = world
    camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    camera.location, camera.rotation_euler = (0.0, -6.0, 2.5), (math.radians(75), 0, 0)
    scene.collection.objects.link(camera)
    scene.camera = camera
    scene.render.engine = "CYCLES"
    scene.cycles.device, scene.cycles.samples, scene.cycles.seed = "CPU", SPP, 3
    scene.cycles.use_denoising = scene.cycles.use_adaptive_sampling = False
    scene.render.resolution_x, scene.render.resolution_y = SIZE
    scene.render.resolution_percentage = 100
    scene.render.threads_mode, scene.render.threads = "FIXED", 2
    bpy.context.view_layer.cycles.denoising_store_passes = True
    scene.render.image_settings.file_format = "PNG"
    scene.render.filepath = str(WORK / "out" / "still_")
    return scene


def render_color(scene, path: Path) -> np.ndarray:
    """Render and read the noisy beauty back with the extension's own mcdenoise."""
    from mcdenoise.frame import load_frame

    bpy.ops.render.render()
    with work().multilayer_exr_output(scene):
        bpy.data.images["Render Result"].save_render(filepath=str(path), scene=scene)
    return load_frame(path).color


def _torch_importable() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def _reference_again() -> np.ndarray:
    from mcdenoise.frame import load_frame

    return load_frame(WORK / "reference.exr").color


@scenario
def install():
    done = bpy.ops.extensions.package_install_files(filepath=str(ZIP), repo="user_default",
                                                    enable_on_install=True)
    import mcdenoise

    return {"result": sorted(done), "enabled": MODULE in bpy.context.preferences.addons,
            "mcdenoise_from_wheel": Path(mcdenoise.__file__).is_relative_to(SITE),
            "torch_importable": _torch_importable()}


@scenario
def check():
    prefs().mode = "AUTO"
    done = bpy.ops.mcdenoise.check()
    return {"result": sorted(done), "status": prefs().status}


@scenario
def button():
    scene = scene_of_a_user()
    scene.cycles.samples = REFERENCE_SPP
    reference = render_color(scene, WORK / "reference.exr")
    scene.cycles.samples = SPP
    noisy = render_color(scene, WORK / "noisy.exr")
    done = bpy.ops.mcdenoise.denoise()
    denoised = image_rgb(bpy, work().RESULT_IMAGE)
    return {"result": sorted(done), "shape": list(denoised.shape),
            "finite": bool(np.isfinite(denoised).all()), "mse_noisy": mse(noisy, reference),
            "mse_denoised": mse(denoised, reference), "message": work().STATE.message}


@scenario
def auto_denoise():
    scene = bpy.context.scene
    reference = _reference_again()
    bpy.data.images.remove(bpy.data.images[work().RESULT_IMAGE])
    scene.mcdenoise.auto_denoise = True
    scene.cycles.samples = SPP
    scene.cycles.seed = 11
    noisy = render_color(scene, WORK / "noisy_auto.exr")  # the handler denoises this render
    denoised = image_rgb(bpy, work().RESULT_IMAGE)
    scene.mcdenoise.auto_denoise = False
    return {"finite": bool(np.isfinite(denoised).all()), "mse_noisy": mse(noisy, reference),
            "mse_denoised": mse(denoised, reference), "last_error": work().STATE.last_error}


@scenario
def auto_denoise_animation():
    """Frames of an animation written as multilayer EXRs, each denoised into the sibling
    folder once written (background mode: at once)."""
    scene = bpy.context.scene
    scene.mcdenoise.auto_denoise, scene.mcdenoise.animation_output = True, "FOLDER"
    settings = scene.render.image_settings
    if hasattr(settings, "media_type"):  # Blender 5: before the file format
        settings.media_type = "MULTI_LAYER_IMAGE"
    settings.file_format = "OPEN_EXR_MULTILAYER"
    scene.render.filepath = str(WORK / "anim" / "frame_")
    scene.frame_start, scene.frame_end = 1, 2
    bpy.ops.render.render(animation=True)
    scene.mcdenoise.auto_denoise = False
    return {"rendered": sorted(p.name for p in (WORK / "anim").glob("*.exr")),
            "denoised": sorted(p.name for p in (WORK / "anim" / "denoised").glob("*.exr")),
            "last_error": work().STATE.last_error}


@scenario
def unregister():
    return {**disable_and_look(bpy, MODULE), "torch_loaded": "torch" in sys.modules}


print("RESULTS " + json.dumps(SCENARIOS.results), flush=True)
os._exit(0)  # skip Blender's slow teardown
