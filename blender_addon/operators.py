"""The buttons: Denoise, Set up passes, Check, Cancel."""

from __future__ import annotations

import bpy
from bpy.props import BoolProperty

from . import bridge, settings, work


class MCDENOISE_OT_denoise(bpy.types.Operator):
    """Denoise the last render into the image 'mcdenoise Result'"""

    bl_idname = "mcdenoise.denoise"
    bl_label = "Denoise"
    bl_options = {"REGISTER"}

    def execute(self, context):
        scene = context.scene
        try:
            view_layer = context.view_layer or scene.view_layers[0]
            item = work.StillItem(scene, view_layer)
            if bpy.app.background:
                self.report({"INFO"}, work.run_now(item))
                return {"FINISHED"}
        except work.UserError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        try:
            item.prepare()  # now, while the Render Result is the render the user sees
        except (work.UserError, OSError) as exc:
            item.cleanup()
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        work.submit(item)
        self.report({"INFO"}, "mcdenoise: denoising the last render ...")
        return {"FINISHED"}


class MCDENOISE_OT_setup_passes(bpy.types.Operator):
    """Enable the Denoising Data passes (albedo, normal, depth) the model needs on every view
    layer, the Vector pass that aligns the frames of an animation, and Animated Seed (each
    frame its own noise, which its neighbours then average away)"""

    bl_idname = "mcdenoise.setup_passes"
    bl_label = "Set up passes"
    bl_options = {"REGISTER", "UNDO"}

    disable_cycles_denoiser: BoolProperty(
        name="Turn Cycles' denoiser off", default=True,
        description="mcdenoise replaces it: rendering need not spend time denoising too")

    def execute(self, context):
        scene = context.scene
        for view_layer in scene.view_layers:
            view_layer.cycles.denoising_store_passes = True
            view_layer.use_pass_vector = True  # motion vectors for sequence denoising
        note = ""
        if self.disable_cycles_denoiser and scene.cycles.use_denoising:
            scene.cycles.use_denoising = False
            note = "; Cycles' own denoiser turned off"
        scene.cycles.use_animated_seed = True
        if scene.render.use_persistent_data:  # measured in Blender 5.0
            note += ("; with Persistent Data on, Blender renders every frame with the first "
                     "one's noise, which neighbouring frames cannot average away")
        if scene.render.use_motion_blur:  # Cycles writes no Vector pass with motion blur
            note += ("; motion blur is on, so Cycles writes no Vector pass: animations are "
                     "denoised as still shots")
        self.report({"INFO"}, f"Denoising Data passes on for {len(scene.view_layers)} view "
                              f"layer(s){note}")
        return {"FINISHED"}


class MCDENOISE_OT_check(bpy.types.Operator):
    """Check which ways of running mcdenoise work here"""

    bl_idname = "mcdenoise.check"
    bl_label = "Check"

    def execute(self, context):
        prefs = settings.preferences()
        inside = bridge.check_inprocess()
        bundled = bridge.check_bundled()
        outside = bridge.check_external(bpy.path.abspath(prefs.executable)
                                        if prefs.executable else "")
        try:
            chosen = f"in use: {work.backend().describe()}"
        except work.UserError as exc:
            chosen = f"not usable: {exc}"
        prefs.status = "\n".join([inside[1], bundled[1], outside[1], chosen])
        for line in prefs.status.split("\n"):
            print(f"mcdenoise: {line}")
        if not (inside[0] or bundled[0] or outside[0]):
            self.report({"ERROR"}, f"mcdenoise cannot run: {inside[1]}; {bundled[1]}; "
                                   f"{outside[1]}")
            return {"CANCELLED"}
        self.report({"INFO"}, chosen)
        return {"FINISHED"}


class MCDENOISE_OT_cancel(bpy.types.Operator):
    """Stop waiting for the denoising work that is queued or running"""

    bl_idname = "mcdenoise.cancel"
    bl_label = "Cancel denoising"

    def execute(self, context):
        work.cancel_all()
        self.report({"INFO"}, "mcdenoise: queued denoising cancelled")
        return {"FINISHED"}


CLASSES = (MCDENOISE_OT_denoise, MCDENOISE_OT_setup_passes, MCDENOISE_OT_check,
           MCDENOISE_OT_cancel)

register, unregister = bpy.utils.register_classes_factory(CLASSES)
