"""Field benchmark scenes with the harder features: image-based lighting, motion blur, hair,
volumes, small bright lamps at night, layered materials (see render/field.py)."""

from __future__ import annotations

import math
import random
from typing import Any

from mcdenoise.render import field_parts as p


def hdri_exterior(bpy: Any) -> None:
    """Objects on a round plinth lit only by a sunset HDRI."""
    stone = p.principled(bpy, "plinth", (0.6, 0.58, 0.55), 0.6)
    p.texture(stone, "voronoi", 8.0, ((0.45, 0.43, 0.4), (0.7, 0.68, 0.64)), bump=0.2)
    p.add(bpy, "primitive_cylinder_add", stone, (0, 0, -0.1), radius=3.0, depth=0.2,
          vertices=96, smooth=False)
    chrome = p.principled(bpy, "chrome", (0.9, 0.9, 0.9), 0.02, Metallic=1.0)
    clay = p.principled(bpy, "clay", (0.7, 0.45, 0.3), 0.8)
    paint = p.principled(bpy, "paint", (0.05, 0.25, 0.1), 0.4, Coat_Weight=1.0,
                         Coat_Roughness=0.05)
    p.add(bpy, "primitive_uv_sphere_add", chrome, (-1.0, 0.4, 0.5), radius=0.5, segments=64,
          ring_count=32)
    p.add(bpy, "primitive_monkey_add", clay, (0.3, -0.3, 0.55), (0.2, 0, 0.3),
          scale=(0.55, 0.55, 0.55), subdivide=2)
    p.add(bpy, "primitive_torus_add", paint, (1.3, 0.7, 0.2), (0, 0, 0.5),
          major_radius=0.5, minor_radius=0.2)
    p.world_hdri(bpy, p.blender_hdri(bpy, p.FIELD_HDRIS[0]), 1.0, rotation_deg=140.0)
    p.camera(bpy, (0.5, -4.5, 1.6), (0.1, 0.2, 0.45), lens=40.0)


def motion_blur(bpy: Any) -> None:
    """A spinning top and a ball rolling past a bar chart, with camera motion blur."""
    scene = bpy.context.scene
    floor = p.principled(bpy, "floor", roughness=0.7)
    p.texture(floor, "checker", 4.0, ((0.2, 0.2, 0.22), (0.75, 0.75, 0.72)))
    p.box(bpy, "floor", (-6, -6, -0.05), (6, 6, 0.0), floor)
    top = p.principled(bpy, "top", roughness=0.35)
    p.texture(top, "wave", 6.0, ((0.8, 0.1, 0.1), (0.95, 0.85, 0.2)), wave_type="RINGS")
    spinner = p.add(bpy, "primitive_cone_add", top, (-0.6, 0.3, 0.4), (math.pi, 0, 0),
                    radius1=0.4, depth=0.8, vertices=64)
    ball_material = p.principled(bpy, "ball", roughness=0.3)
    p.texture(ball_material, "checker", 3.0, ((0.05, 0.1, 0.6), (0.9, 0.9, 0.9)))
    ball = p.add(bpy, "primitive_uv_sphere_add", ball_material, (0.2, -0.4, 0.3), radius=0.3)
    bars = p.principled(bpy, "bars", (0.3, 0.6, 0.3), 0.6)
    for i in range(6):
        p.box(bpy, f"bar{i}", (-1.5 + 0.5 * i, 1.2, 0), (-1.2 + 0.5 * i, 1.4, 0.3 + 0.25 * i),
              bars)
    for frame, spin, x in ((1, 0.0, 0.2), (2, 4.0, 0.6)):
        scene.frame_set(frame)
        spinner.rotation_euler[2] = spin
        spinner.keyframe_insert("rotation_euler", index=2, frame=frame)
        ball.location[0], ball.rotation_euler[1] = x, (x - 0.2) / 0.3
        ball.keyframe_insert("location", frame=frame)
        ball.keyframe_insert("rotation_euler", frame=frame)
    scene.frame_set(1)
    scene.render.use_motion_blur = True
    scene.render.motion_blur_shutter = 1.0
    p.light(bpy, "SUN", (0, 0, 5), (0.5, 1.0, 0.0), 3.0, (1.0, 0.95, 0.9), angle=0.05)
    p.world_color(bpy, (0.5, 0.6, 0.8), 0.5)
    p.camera(bpy, (0.3, -3.2, 1.8), (0.0, 0.2, 0.4), lens=35.0)


def hair(bpy: Any) -> None:
    """A fur ball and a patch of long curly hair (particle hair, Principled Hair BSDF)."""
    backdrop = p.principled(bpy, "backdrop", (0.55, 0.6, 0.65), 0.8)
    p.box(bpy, "floor", (-5, -5, -0.05), (5, 5, 0.0), backdrop)
    p.box(bpy, "wall", (-5, 1.5, 0.0), (5, 1.6, 4.0), backdrop)
    skin = p.principled(bpy, "skin", (0.5, 0.35, 0.25), 0.6)
    ball = p.add(bpy, "primitive_uv_sphere_add", skin, (-0.45, 0.0, 0.3), radius=0.25)
    patch = p.add(bpy, "primitive_plane_add", skin, (0.45, 0.1, 0.01), size=0.7)
    for obj, melanin, count, length, seed in ((ball, 0.25, 5000, 0.06, 3),
                                               (patch, 0.85, 1500, 0.25, 5)):
        fur = bpy.data.materials.new(f"hair{seed}")
        if bpy.app.version < (5, 0, 0):
            fur.use_nodes = True
        tree = fur.node_tree
        tree.nodes.remove(tree.nodes["Principled BSDF"])
        node = tree.nodes.new("ShaderNodeBsdfHairPrincipled")
        node.parametrization = "MELANIN"
        node.inputs["Melanin"].default_value = melanin
        node.inputs["Roughness"].default_value = 0.3
        tree.links.new(node.outputs[0], tree.nodes["Material Output"].inputs["Surface"])
        obj.data.materials.append(fur)
        obj.modifiers.new("hair", "PARTICLE_SYSTEM")
        system = obj.particle_systems[0]
        system.seed = seed
        settings = system.settings
        settings.type, settings.count, settings.hair_length = "HAIR", count, length
        settings.emit_from, settings.material = "FACE", 2
        settings.root_radius, settings.tip_radius, settings.radius_scale = 1.0, 0.2, 0.004
        settings.child_type = "INTERPOLATED"
        settings.rendered_child_count = 3
        settings.kink = "CURL" if seed == 5 else "NO"
        settings.kink_amplitude, settings.kink_frequency = 0.03, 4.0
        settings.roughness_1 = 0.02 if seed == 3 else 0.05
    p.light(bpy, "AREA", (-2.0, -2.0, 2.5), (0.0, 0.0, 0.3), 300.0, size=1.2)
    p.light(bpy, "AREA", (2.0, 0.5, 1.5), (0.0, 0.0, 0.3), 150.0, (0.8, 0.9, 1.0), size=0.4)
    p.world_color(bpy, (0.7, 0.75, 0.8), 0.2)
    p.camera(bpy, (0.0, -2.4, 0.9), (0.0, 0.1, 0.2), lens=40.0)


def volume_fog(bpy: Any) -> None:
    """A foggy hall: a spot lamp's beam through haze, a smoke puff, a lit doorway."""
    wall = p.principled(bpy, "concrete", (0.5, 0.5, 0.5), 0.85)
    p.texture(wall, "noise", 4.0, ((0.35, 0.35, 0.35), (0.6, 0.58, 0.55)), Detail=5.0)
    p.box(bpy, "floor", (-4, -4, -0.1), (4, 6, 0.0), wall)
    p.box(bpy, "back", (-4, 6, 0.0), (4, 6.2, 4.0), wall)
    haze = bpy.data.materials.new("haze")
    if bpy.app.version < (5, 0, 0):
        haze.use_nodes = True
    tree = haze.node_tree
    tree.nodes.remove(tree.nodes["Principled BSDF"])
    scatter = tree.nodes.new("ShaderNodeVolumeScatter")
    scatter.inputs["Density"].default_value = 0.08
    tree.links.new(scatter.outputs[0], tree.nodes["Material Output"].inputs["Volume"])
    p.box(bpy, "haze", (-3.9, -3.0, 0.0), (3.9, 5.9, 3.9), haze)
    smoke = p.principled(bpy, "smoke", (0.8, 0.8, 0.8), 0.5)
    tree = smoke.node_tree
    tree.nodes.remove(tree.nodes["Principled BSDF"])
    volume = tree.nodes.new("ShaderNodeVolumePrincipled")
    noise = tree.nodes.new("ShaderNodeTexNoise")
    noise.inputs["Scale"].default_value, noise.inputs["Detail"].default_value = 3.0, 6.0
    ramp = tree.nodes.new("ShaderNodeMapRange")
    ramp.inputs["From Min"].default_value, ramp.inputs["From Max"].default_value = 0.45, 0.7
    ramp.inputs["To Max"].default_value = 4.0
    tree.links.new(noise.outputs["Factor"], ramp.inputs["Value"])
    tree.links.new(ramp.outputs["Result"], volume.inputs["Density"])
    tree.links.new(volume.outputs[0], tree.nodes["Material Output"].inputs["Volume"])
    p.add(bpy, "primitive_ico_sphere_add", smoke, (1.0, 2.5, 0.9), scale=(0.9, 0.9, 0.8),
          subdivisions=3)
    pillar = p.principled(bpy, "pillar", (0.7, 0.3, 0.2), 0.6)
    p.add(bpy, "primitive_cylinder_add", pillar, (-1.2, 3.0, 1.5), radius=0.3, depth=3.0)
    p.light(bpy, "SPOT", (-2.5, 1.0, 3.6), (0.0, 3.5, 0.0), 3000.0, (1.0, 0.9, 0.7),
            spot_size=0.45, spot_blend=0.1, shadow_soft_size=0.02)
    p.light(bpy, "AREA", (2.5, 5.9, 1.2), (2.5, 0.0, 1.2), 200.0, (0.5, 0.7, 1.0), size=0.8)
    p.world_color(bpy, (0.0, 0.0, 0.0), 0.0)
    p.camera(bpy, (0.6, -2.5, 1.2), (0.0, 3.0, 1.1), lens=26.0)


def night_interior(bpy: Any) -> None:
    """A living room at night: a bare-bulb floor lamp, tiny LED spots, a framed photograph
    (a glass table top and a lamp shade lit from inside made paths that 512 samples left
    at 25 dB)."""
    plaster = p.principled(bpy, "plaster", (0.7, 0.66, 0.6), 0.9)
    wood = p.principled(bpy, "parquet", roughness=0.25)
    p.texture(wood, "wave", 5.0, ((0.2, 0.1, 0.04), (0.45, 0.27, 0.12)), Distortion=10.0,
              bands_direction="Y")
    w, d, h = 3.0, 3.0, 2.6
    p.box(bpy, "floor", (-w, -d, -0.1), (w, d, 0.0), wood)
    p.box(bpy, "ceiling", (-w, -d, h), (w, d, h + 0.1), plaster)
    for low, high in (((-w, d - 0.1, 0), (w, d, h)), ((-w, -d, 0), (-w + 0.1, d, h)),
                      ((w - 0.1, -d, 0), (w, d, h)), ((-w, -d, 0), (w, -d + 0.1, h))):
        p.box(bpy, "wall", low, high, plaster)
    table = p.principled(bpy, "lacquer", (0.08, 0.05, 0.04), 0.3, Coat_Weight=1.0,
                         Coat_Roughness=0.05)
    p.box(bpy, "table", (-0.6, -0.3, 0.4), (0.6, 0.3, 0.43), table)
    metal = p.principled(bpy, "brushed", (0.8, 0.8, 0.8), 0.3, Metallic=1.0, Anisotropic=0.8)
    for x in (-0.55, 0.55):
        p.box(bpy, "leg", (x - 0.02, -0.25, 0.0), (x + 0.02, 0.25, 0.4), metal)
    # a floor lamp: a bare bulb (the emitter seen, the point light that lights the room)
    p.add(bpy, "primitive_cylinder_add", metal, (-2.2, 2.2, 0.7), radius=0.02, depth=1.4)
    bulb = p.add(bpy, "primitive_uv_sphere_add",
                 p.emission(bpy, "bulb", (1.0, 0.75, 0.45), 30.0), (-2.2, 2.2, 1.45),
                 radius=0.05)
    # the point light inside lights the room: the bulb is seen by the camera and in
    # mirrors only (as a diffuse emitter too, its 5 cm made fireflies everywhere)
    bulb.visible_shadow = bulb.visible_diffuse = bulb.visible_transmission = False
    p.light(bpy, "POINT", (-2.2, 2.2, 1.45), power=120.0, color=(1.0, 0.75, 0.45),
            shadow_soft_size=0.05)
    for i in range(4):
        p.light(bpy, "SPOT", (-1.5 + i, 0.5, h - 0.02), (-1.5 + i, 0.5, 0.0), 25.0,
                (1.0, 0.85, 0.7), spot_size=0.9, spot_blend=0.3, shadow_soft_size=0.01)
    frame = p.principled(bpy, "print", roughness=0.4)
    p.photo(bpy, frame, p.skimage_photo(p.FIELD_PHOTOS[1]), scale=0.9)
    p.box(bpy, "frame", (0.5, d - 0.14, 1.0), (1.7, d - 0.1, 1.9), frame)
    sofa = p.principled(bpy, "velvet", (0.35, 0.08, 0.1), 0.9, Sheen_Weight=1.0)
    p.box(bpy, "sofa", (-1.5, 1.6, 0.0), (1.0, 2.6, 0.45), sofa)
    p.box(bpy, "sofa_back", (-1.5, 2.4, 0.0), (1.0, 2.8, 0.9), sofa)
    p.world_color(bpy, (0.0, 0.0, 0.0), 0.0)
    p.camera(bpy, (1.8, -2.5, 1.4), (-0.5, 1.0, 0.6), lens=22.0)


def materials(bpy: Any) -> None:
    """Layered materials in a courtyard HDRI: skin-like subsurface, sheen cloth, car paint,
    anisotropic metal, thin glass."""
    floor = p.principled(bpy, "floor", (0.5, 0.5, 0.5), 0.4)
    p.texture(floor, "checker", 2.0, ((0.1, 0.1, 0.1), (0.6, 0.6, 0.6)))
    p.box(bpy, "floor", (-5, -5, -0.05), (5, 5, 0.0), floor)
    rng = random.Random(14)
    looks = (
        ("wax", (0.9, 0.6, 0.45), 0.4, {"Subsurface_Weight": 1.0, "Subsurface_Scale": 0.2}),
        ("cloth", (0.15, 0.2, 0.5), 0.9, {"Sheen_Weight": 1.0, "Sheen_Roughness": 0.3}),
        ("carpaint", (0.5, 0.02, 0.02), 0.35, {"Coat_Weight": 1.0, "Coat_Roughness": 0.02,
                                               "Metallic": 0.6}),
        ("anisotropic", (0.9, 0.85, 0.8), 0.25, {"Metallic": 1.0, "Anisotropic": 0.9}),
        ("thin_glass", (0.95, 1.0, 0.97), 0.0, {"Transmission_Weight": 1.0, "IOR": 1.45,
                                                "Thin_Film_Thickness": 400.0}),
    )
    for i, (name, color, roughness, inputs) in enumerate(looks):
        material = p.principled(bpy, name, color, roughness, **inputs)
        x = -1.6 + 0.8 * i
        operator = ("primitive_monkey_add" if i == 0 else "primitive_torus_add" if i == 3
                    else "primitive_uv_sphere_add")
        extra = {"major_radius": 0.3, "minor_radius": 0.1} if i == 3 else {}
        p.add(bpy, operator, material, (x, rng.uniform(-0.2, 0.2), 0.32), (0.3, 0, 0.2),
              scale=(0.3, 0.3, 0.3) if i == 0 else (1, 1, 1), subdivide=2 if i == 0 else 0,
              **({"radius": 0.3} if operator == "primitive_uv_sphere_add" else extra))
    p.world_hdri(bpy, p.blender_hdri(bpy, p.FIELD_HDRIS[1]), 1.5, rotation_deg=60.0)
    p.camera(bpy, (0.0, -4.8, 1.6), (0.0, 0.0, 0.3), lens=40.0)
