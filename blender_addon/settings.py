"""Add-on preferences (how to reach mcdenoise) and the per-scene settings."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty, EnumProperty, StringProperty

from . import bridge

ADDON = __package__  # "bl_ext.<repository>.mcdenoise" as an extension, the folder name otherwise

_DEVICES = [("auto", "Auto", "CUDA, then Apple MPS, then the CPU"),
            ("cpu", "CPU", ""), ("cuda", "CUDA", "An NVIDIA GPU"), ("mps", "MPS", "Apple GPU")]


def _forget_models(self, context) -> None:
    bridge.forget_models()


class MCDENOISE_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON

    mode: EnumProperty(
        name="Run mcdenoise",
        items=[("AUTO", "Automatic", "In Blender's Python when mcdenoise and torch import "
                "there, else the runtime bundled with this extension, else the external "
                "executable"),
               ("IN_PROCESS", "In-process", "mcdenoise and torch installed in Blender's Python"),
               ("BUNDLED", "Bundled runtime", "ONNX Runtime and the models inside this "
                "extension (CPU, nothing else to install)"),
               ("EXTERNAL", "External executable", "An mcdenoise installed elsewhere, run as a "
                "separate process")],
        default="AUTO")
    executable: StringProperty(
        name="mcdenoise executable", subtype="FILE_PATH",
        description="Path of the external mcdenoise executable (empty: find it on PATH)")
    model: StringProperty(
        name="Model", subtype="FILE_PATH", update=_forget_models,
        description="A .safetensors model or training checkpoint, or an .onnx model (the "
                    "bundled runtime takes .onnx only; empty: the bundled model)")
    device: EnumProperty(name="Device", items=_DEVICES, default="auto", update=_forget_models)
    status: StringProperty(name="Status", default="")

    def draw(self, context) -> None:
        layout = self.layout
        layout.prop(self, "mode")
        layout.prop(self, "executable")
        layout.prop(self, "model")
        layout.prop(self, "device")
        row = layout.row()
        row.operator("mcdenoise.check", icon="CHECKMARK")
        for line in self.status.split("\n"):
            if line:
                layout.label(text=line)


class MCDENOISE_SceneSettings(bpy.types.PropertyGroup):
    auto_denoise: BoolProperty(
        name="Denoise after rendering", default=False,
        description="Denoise every still as soon as it is rendered, and every frame of an "
                    "animation as it is written")
    model: StringProperty(
        name="Model", subtype="FILE_PATH",
        description="A model for this scene (empty: the one in the add-on preferences)")
    save_result: BoolProperty(
        name="Save next to the output", default=False,
        description="Also save a denoised still beside the render output, as <name>_denoised, "
                    "in the scene's output format")
    animation_output: EnumProperty(
        name="Animation frames",
        items=[("FOLDER", "Sibling folder", "Write the denoised frames into a folder beside the "
                "rendered ones, under the same names"),
               ("REPLACE", "Replace", "Replace each rendered frame with its denoised version "
                "(multilayer EXR keeps the noisy beauty as 'Noisy Image')")],
        default="FOLDER")
    folder: StringProperty(name="Folder", default="denoised",
                           description="Name of the sibling folder for denoised frames")
    use_neighbours: BoolProperty(
        name="Denoise with neighbouring frames", default=True,
        description="Animations written as multilayer EXR: denoise each frame together with "
                    "the two before and after it, aligned by the Vector pass, so that the "
                    "denoised animation does not flicker (each frame waits until the two "
                    "after it are written)")
    use_blend: BoolProperty(
        name="Blend denoised frames", default=True,
        description="With neighbouring frames: also average each denoised frame with its "
                    "neighbours' denoised frames where they show the same surface, as "
                    "'mcdenoise denoise' does for a frame sequence (less flicker; each frame "
                    "then waits until the four after it are written)")
    keep_noisy: BoolProperty(name="Keep noisy beauty", default=True,
                             description="Keep the noisy beauty as 'Noisy Image' in EXR output")


CLASSES = (MCDENOISE_AddonPreferences, MCDENOISE_SceneSettings)


def preferences():
    return bpy.context.preferences.addons[ADDON].preferences


def model_for(scene) -> str:
    """The model file to use for ``scene`` ("" = bundled), as an absolute path."""
    path = scene.mcdenoise.model or preferences().model
    return bpy.path.abspath(path) if path else ""


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.mcdenoise = bpy.props.PointerProperty(type=MCDENOISE_SceneSettings)


def unregister() -> None:
    del bpy.types.Scene.mcdenoise
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
