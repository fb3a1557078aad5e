"""A fixed hand-made scene for tests and quick checks (the shipped sample comes from
`mcdenoise render procedural`, see mcdenoise/samples/README.md).

    python -m mcdenoise.render.sample OUT.exr [--size 192x128] [--spp 8] [--seed 1]

A textured floor and wall, a glossy Suzanne, a diffuse sphere with a brick texture and a
glass sphere, lit by an area light and a dim sky: albedo with detail, glossy and caustic
noise. Written as a Blender 5 multilayer EXR (half): the noisy Combined pass plus the
denoising passes, as a user's render with "Denoising Data" on and Cycles' denoiser off.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from mcdenoise.render.cycles import configure_cycles, import_bpy, render_still, set_multilayer_exr


def _material(bpy: Any, name: str, color=(0.8, 0.8, 0.8), roughness=0.5, metallic=0.0,
              transmission=0.0, texture: str | None = None) -> Any:
    material = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):  # always on (and deprecated) from Blender 5
        material.use_nodes = True
    nodes, links = material.node_tree.nodes, material.node_tree.links
    bsdf = nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*color, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    bsdf.inputs["Metallic"].default_value = metallic
    bsdf.inputs["Transmission Weight"].default_value = transmission
    if texture == "checker":
        tex = nodes.new("ShaderNodeTexChecker")
        tex.inputs["Scale"].default_value = 8.0
        tex.inputs["Color1"].default_value = (*color, 1.0)
        tex.inputs["Color2"].default_value = (0.1, 0.1, 0.12, 1.0)
        links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    elif texture == "brick":
        tex = nodes.new("ShaderNodeTexBrick")
        tex.inputs["Scale"].default_value = 6.0
        tex.inputs["Color1"].default_value = (*color, 1.0)
        links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
    return material


def _add(bpy: Any, operator: str, material: Any, **kwargs: Any) -> Any:
    getattr(bpy.ops.mesh, operator)(**kwargs)
    obj = bpy.context.active_object
    for polygon in obj.data.polygons:
        polygon.use_smooth = True
    obj.data.materials.append(material)
    return obj


def build_sample_scene(bpy: Any) -> Any:
    """Replace the open file with the sample scene and return that scene."""
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)  # preferences kept
    scene = bpy.context.scene
    floor = _material(bpy, "floor", (0.75, 0.7, 0.6), roughness=0.6, texture="checker")
    _add(bpy, "primitive_plane_add", floor, size=12.0)
    wall = _material(bpy, "wall", (0.6, 0.65, 0.75), roughness=0.9)
    _add(bpy, "primitive_plane_add", wall, size=12.0, location=(0, 3, 6),
         rotation=(math.pi / 2, 0, 0))
    monkey = _add(bpy, "primitive_monkey_add", _material(bpy, "glossy", (0.8, 0.15, 0.1), 0.2),
                  location=(-1.2, 0.4, 1.0), rotation=(0, 0, math.radians(25)))
    monkey.modifiers.new("subdivision", "SUBSURF").levels = 1
    _add(bpy, "primitive_uv_sphere_add", _material(bpy, "brick", (0.7, 0.3, 0.15), 0.7,
                                                   texture="brick"),
         radius=0.8, location=(1.3, 0.8, 0.8))
    _add(bpy, "primitive_uv_sphere_add", _material(bpy, "glass", (1.0, 1.0, 1.0), 0.0,
                                                   transmission=1.0),
         radius=0.45, location=(0.2, -0.9, 0.45))
    light = bpy.data.lights.new("area", "AREA")
    light.energy, light.size = 400.0, 1.5
    light_object = bpy.data.objects.new("area", light)
    light_object.location, light_object.rotation_euler = (2.5, -2.0, 4.0), (0.6, 0.3, 0.4)
    scene.collection.objects.link(light_object)
    world = bpy.data.worlds.new("sky")
    if bpy.app.version < (5, 0, 0):
        world.use_nodes = True
    world.node_tree.nodes["Background"].inputs["Color"].default_value = (0.4, 0.5, 0.7, 1.0)
    world.node_tree.nodes["Background"].inputs["Strength"].default_value = 0.3
    scene.world = world
    camera = bpy.data.objects.new("camera", bpy.data.cameras.new("camera"))
    camera.location, camera.rotation_euler = (0.0, -7.0, 2.6), (math.radians(78), 0, 0)
    scene.collection.objects.link(camera)
    scene.camera = camera
    return scene


def render_sample(path: str | Path, width: int = 192, height: int = 128, spp: int = 8,
                  seed: int = 1, threads: int = 0) -> Path:
    """Render the sample scene to a multilayer EXR (half) with the denoising passes."""
    bpy = import_bpy()
    scene = build_sample_scene(bpy)
    configure_cycles(scene, spp=spp, seed=seed, width=width, height=height, threads=threads)
    set_multilayer_exr(scene, half=True)
    return render_still(scene, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--size", default="192x128", help="WIDTHxHEIGHT")
    parser.add_argument("--spp", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    render_sample(args.out, width, height, args.spp, args.seed, args.threads)


if __name__ == "__main__":
    main()
