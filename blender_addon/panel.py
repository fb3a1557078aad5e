"""Properties > Render > mcdenoise (Cycles)."""

from __future__ import annotations

import bpy

from . import work


class RENDER_PT_mcdenoise(bpy.types.Panel):
    bl_label = "mcdenoise"
    bl_space_type = "PROPERTIES"
    bl_region_type = "WINDOW"
    bl_context = "render"
    bl_options = {"DEFAULT_CLOSED"}

    @classmethod
    def poll(cls, context):
        return context.scene is not None and context.scene.render.engine == "CYCLES"

    def draw(self, context):
        layout = self.layout
        scene = context.scene
        config = scene.mcdenoise
        layout.use_property_split = True
        layout.prop(config, "auto_denoise")
        layout.prop(config, "model")
        layout.prop(config, "save_result")
        layout.prop(config, "animation_output")
        if config.animation_output == "FOLDER":
            layout.prop(config, "folder")
        layout.prop(config, "use_neighbours")
        row = layout.row()
        row.active = config.use_neighbours
        row.prop(config, "use_blend")
        layout.prop(config, "keep_noisy")
        missing = [v.name for v in scene.view_layers if not v.cycles.denoising_store_passes]
        if missing:
            layout.label(text=f"Denoising Data is off on: {', '.join(missing)}", icon="ERROR")
        layout.operator("mcdenoise.setup_passes", icon="RENDERLAYERS")
        row = layout.row()
        row.scale_y = 1.4
        row.operator("mcdenoise.denoise", icon="SHADERFX")
        if work.STATE.task is not None or work.STATE.queue:
            layout.label(text=work.STATE.message, icon="TIME")
            layout.operator("mcdenoise.cancel", icon="CANCEL")
        elif work.STATE.message:
            icon = "ERROR" if work.STATE.message == work.STATE.last_error else "INFO"
            layout.label(text=work.STATE.message, icon=icon)


CLASSES = (RENDER_PT_mcdenoise,)

register, unregister = bpy.utils.register_classes_factory(CLASSES)
