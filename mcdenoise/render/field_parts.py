"""Building blocks of the field benchmark's scenes (render/field.py): plain bpy, written apart
from the training generator (builder.py, layouts.py) so that no model meets its habits."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from mcdenoise.render.assets import FIELD_HDRIS, FIELD_PHOTOS, blender_hdri, skimage_photo

__all__ = ["FIELD_HDRIS", "FIELD_PHOTOS", "blender_hdri", "skimage_photo"]


def new_scene(bpy: Any) -> Any:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy.context.scene


def aim(location, target) -> tuple[float, float, float]:
    """XYZ Euler angles that point an object's -Z axis (cameras, lights) from ``location`` at
    ``target``, local +Y up."""
    dx, dy, dz = (t - s for s, t in zip(location, target, strict=False))
    horizontal = math.hypot(dx, dy)
    return (math.atan2(horizontal, -dz), 0.0, math.atan2(-dx, dy))


def principled(bpy: Any, name: str, color=(0.8, 0.8, 0.8), roughness: float = 0.5,
               **inputs: float | tuple) -> Any:
    """A Principled BSDF material; ``inputs`` by socket name with spaces as underscores
    (``Transmission_Weight=1.0``); a 3-tuple colour gets its alpha added."""
    material = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True
    bsdf = material.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*color, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    for key, value in inputs.items():
        socket = bsdf.inputs[key.replace("_", " ")]
        socket.default_value = (*value, 1.0) if isinstance(value, tuple) and len(value) == 3 \
            and socket.type == "RGBA" else value
    return material


def emission(bpy: Any, name: str, color, strength: float) -> Any:
    """A pure emitter (black body otherwise)."""
    material = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True
    tree = material.node_tree
    tree.nodes.remove(tree.nodes["Principled BSDF"])
    node = tree.nodes.new("ShaderNodeEmission")
    node.inputs["Color"].default_value = (*color, 1.0)
    node.inputs["Strength"].default_value = strength
    tree.links.new(node.outputs["Emission"], tree.nodes["Material Output"].inputs["Surface"])
    return material


def texture(material: Any, kind: str, scale: float, colors, socket: str = "Base Color",
            bump: float = 0.0, **settings: Any) -> Any:
    """Drive a Principled socket with a procedural texture between two colours (object
    coordinates), optionally bumping the normal with the same pattern."""
    tree = material.node_tree
    bsdf = tree.nodes["Principled BSDF"]
    coords = tree.nodes.new("ShaderNodeTexCoord")
    node = tree.nodes.new({"noise": "ShaderNodeTexNoise", "voronoi": "ShaderNodeTexVoronoi",
                           "checker": "ShaderNodeTexChecker", "wave": "ShaderNodeTexWave",
                           "brick": "ShaderNodeTexBrick", "magic": "ShaderNodeTexMagic"}[kind])
    tree.links.new(coords.outputs["Object"], node.inputs["Vector"])
    node.inputs["Scale"].default_value = scale
    for key, value in settings.items():
        if key in node.inputs:
            node.inputs[key].default_value = value
        else:
            setattr(node, key, value)
    factor = node.outputs["Distance" if kind == "voronoi" else "Fac" if kind == "magic"
                          else "Factor"]
    ramp = tree.nodes.new("ShaderNodeValToRGB")
    low, high = ramp.color_ramp.elements
    low.color, high.color = (*colors[0], 1.0), (*colors[1], 1.0)
    tree.links.new(factor, ramp.inputs["Factor"])
    tree.links.new(ramp.outputs["Color"], bsdf.inputs[socket])
    if bump:
        node_bump = tree.nodes.new("ShaderNodeBump")
        node_bump.inputs["Strength"].default_value = bump
        tree.links.new(factor, node_bump.inputs["Height"])
        tree.links.new(node_bump.outputs["Normal"], bsdf.inputs["Normal"])
    return node


def photo(bpy: Any, material: Any, path: Path, scale: float = 1.0, bump: float = 0.0) -> None:
    """A photograph as the base colour (and its brightness as relief), box-projected in
    object space so that any mesh shows it without UVs."""
    tree = material.node_tree
    bsdf = tree.nodes["Principled BSDF"]
    image = bpy.data.images.load(str(path), check_existing=True)
    image.colorspace_settings.name = "sRGB"
    coords = tree.nodes.new("ShaderNodeTexCoord")
    mapping = tree.nodes.new("ShaderNodeMapping")
    mapping.inputs["Scale"].default_value = (scale, scale, scale)
    node = tree.nodes.new("ShaderNodeTexImage")
    node.image, node.projection, node.projection_blend = image, "BOX", 0.2
    node.extension = "REPEAT"
    tree.links.new(coords.outputs["Object"], mapping.inputs["Vector"])
    tree.links.new(mapping.outputs["Vector"], node.inputs["Vector"])
    tree.links.new(node.outputs["Color"], bsdf.inputs["Base Color"])
    if bump:
        node_bump = tree.nodes.new("ShaderNodeBump")
        node_bump.inputs["Strength"].default_value = bump
        tree.links.new(node.outputs["Color"], node_bump.inputs["Height"])
        tree.links.new(node_bump.outputs["Normal"], bsdf.inputs["Normal"])


def add(bpy: Any, operator: str, material: Any, location=(0.0, 0.0, 0.0),
        rotation=(0.0, 0.0, 0.0), scale=(1.0, 1.0, 1.0), smooth: bool = True,
        subdivide: int = 0, **kwargs: Any) -> Any:
    """A primitive (``bpy.ops.mesh.<operator>``) with one material."""
    getattr(bpy.ops.mesh, operator)(location=location, rotation=rotation, **kwargs)
    obj = bpy.context.active_object
    obj.scale = scale
    if material is not None:
        obj.data.materials.append(material)
    if subdivide:
        modifier = obj.modifiers.new("subdivision", "SUBSURF")
        modifier.levels = modifier.render_levels = subdivide
    if smooth:
        obj.data.shade_smooth()
    return obj


def box(bpy: Any, name: str, low, high, material: Any) -> Any:
    """An axis-aligned box between two corners (world space)."""
    center = tuple((a + b) / 2 for a, b in zip(low, high, strict=False))
    half = tuple((b - a) / 2 for a, b in zip(low, high, strict=False))
    obj = add(bpy, "primitive_cube_add", material, center, scale=half, smooth=False, size=2.0)
    obj.name = name
    return obj


def quad(bpy: Any, name: str, corners, material: Any) -> Any:
    """A one-sided quad through four corners (counter-clockwise seen from its front)."""
    mesh = bpy.data.meshes.new(name)
    mesh.from_pydata([tuple(c) for c in corners], [], [(0, 1, 2, 3)])
    mesh.materials.append(material)
    obj = bpy.data.objects.new(name, mesh)
    bpy.context.scene.collection.objects.link(obj)
    return obj


def light(bpy: Any, kind: str, location, target=None, power: float = 100.0,
          color=(1.0, 1.0, 1.0), **settings: Any) -> Any:
    """A lamp; area, spot and sun lamps point at ``target``."""
    data = bpy.data.lights.new(f"{kind.lower()}", kind)
    data.energy, data.color = power, color
    for key, value in settings.items():
        setattr(data, key, value)
    obj = bpy.data.objects.new(data.name, data)
    bpy.context.scene.collection.objects.link(obj)
    obj.location = location
    if target is not None:
        obj.rotation_euler = aim(location, target)
    return obj


def world_color(bpy: Any, color, strength: float) -> Any:
    world = bpy.data.worlds.new("world")
    if bpy.app.version < (5, 0, 0):
        world.use_nodes = True
    background = world.node_tree.nodes["Background"]
    background.inputs["Color"].default_value = (*color, 1.0)
    background.inputs["Strength"].default_value = strength
    bpy.context.scene.world = world
    return world


def world_sky(bpy: Any, elevation_deg: float, rotation_deg: float, strength: float,
              sky_type: str = "MULTIPLE_SCATTERING", sun_disc: bool = True) -> Any:
    """A physical sky with its sun (the sun disc lights the scene, as users set it up)."""
    world = world_color(bpy, (0.0, 0.0, 0.0), strength)
    tree = world.node_tree
    sky = tree.nodes.new("ShaderNodeTexSky")
    sky.sky_type = sky_type
    sky.sun_disc = sun_disc
    sky.sun_elevation = math.radians(elevation_deg)
    sky.sun_rotation = math.radians(rotation_deg)
    tree.links.new(sky.outputs["Color"], tree.nodes["Background"].inputs["Color"])
    return world


def world_hdri(bpy: Any, path: Path, strength: float, rotation_deg: float = 0.0) -> Any:
    """An equirectangular HDR image as the environment."""
    world = world_color(bpy, (0.0, 0.0, 0.0), strength)
    tree = world.node_tree
    coords = tree.nodes.new("ShaderNodeTexCoord")
    mapping = tree.nodes.new("ShaderNodeMapping")
    mapping.inputs["Rotation"].default_value = (0.0, 0.0, math.radians(rotation_deg))
    node = tree.nodes.new("ShaderNodeTexEnvironment")
    node.image = bpy.data.images.load(str(path), check_existing=True)
    tree.links.new(coords.outputs["Generated"], mapping.inputs["Vector"])
    tree.links.new(mapping.outputs["Vector"], node.inputs["Vector"])
    tree.links.new(node.outputs["Color"], tree.nodes["Background"].inputs["Color"])
    return world


def camera(bpy: Any, location, target, lens: float = 35.0, fstop: float = 0.0,
           focus=None) -> Any:
    """The scene camera; ``fstop`` > 0 turns on depth of field focused at ``focus`` (the
    target when None)."""
    data = bpy.data.cameras.new("camera")
    data.lens, data.clip_start, data.clip_end = lens, 0.02, 500.0
    obj = bpy.data.objects.new("camera", data)
    bpy.context.scene.collection.objects.link(obj)
    obj.location, obj.rotation_euler = location, aim(location, target)
    if fstop:
        data.dof.use_dof = True
        data.dof.aperture_fstop = fstop
        point = focus or target
        data.dof.focus_distance = math.dist(location, point)
    bpy.context.scene.camera = obj
    return obj
