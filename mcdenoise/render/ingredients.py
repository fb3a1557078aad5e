"""Generator 2's ingredients: what users render that the five base layouts lack, applied
to a laid-out scene from its own random stream.

Each ingredient is drawn independently per scene (or per material): image-based light from
Blender's world HDRIs (rotated, tinted, scaled), photographs for base colour, roughness and
relief, layered materials (subsurface, sheen, coat, anisotropic metal, thin film), haze and
smoke, particle hair, motion blur, small intense lamps, thin glowing lines, windows without
light portals, and more depth of field. The field benchmark's own photographs and HDRIs
(``assets.FIELD_PHOTOS`` / ``FIELD_HDRIS``) are never used here.
"""

from __future__ import annotations

import colorsys
import math
import random
from typing import Any

from mcdenoise.render.assets import TRAIN_HDRIS, TRAIN_PHOTOS, blender_hdri, skimage_photo

# probability of each scene-level ingredient, by layout kind
_HDRI = {"exterior": 0.45, "studio": 0.45, "clutter": 0.4, "interior": 0.0, "emitters": 0.1}
_FOG = {"exterior": 0.1, "studio": 0.1, "clutter": 0.1, "interior": 0.2, "emitters": 0.3}
_HAIR, _MOTION, _LAMPS, _NO_PORTALS, _MORE_DOF = 0.15, 0.15, 0.25, 0.5, 0.2
# thin glowing lines (neon signs, LED strips, filaments): one to four pixels wide at 256 px
_GLOW_LINES = {"exterior": 0.1, "studio": 0.15, "clutter": 0.15, "interior": 0.15, "emitters": 0.4}
GLOW_WIDTH_PX = (0.7, 4.0)


def _hdri(bpy: Any, rng: random.Random, info: dict) -> None:
    """Replace sky, sun and plain world by one of the training HDRIs."""
    for obj in [o for o in bpy.context.scene.objects if o.type == "LIGHT"
                and o.data.type == "SUN"]:
        bpy.data.objects.remove(obj)
    name = rng.choice(TRAIN_HDRIS)
    world = bpy.data.worlds.new("hdri")
    if bpy.app.version < (5, 0, 0):
        world.use_nodes = True
    bpy.context.scene.world = world
    tree = world.node_tree
    coords = tree.nodes.new("ShaderNodeTexCoord")
    mapping = tree.nodes.new("ShaderNodeMapping")
    mapping.inputs["Rotation"].default_value = (0.0, 0.0, rng.uniform(0.0, 2 * math.pi))
    environment = tree.nodes.new("ShaderNodeTexEnvironment")
    environment.image = bpy.data.images.load(str(blender_hdri(bpy, name)), check_existing=True)
    tree.links.new(coords.outputs["Generated"], mapping.inputs["Vector"])
    tree.links.new(mapping.outputs["Vector"], environment.inputs["Vector"])
    tree.nodes["Background"].inputs["Strength"].default_value = rng.uniform(0.3, 2.5)
    tint = tree.nodes.new("ShaderNodeMix")
    tint.data_type, tint.blend_type = "RGBA", "MULTIPLY"
    tint.inputs["Factor"].default_value = 1.0
    hue = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.25), 1.0)
    tint.inputs["B"].default_value = (*hue, 1.0)
    background = tree.nodes["Background"]
    tree.links.new(environment.outputs["Color"], tint.inputs["A"])
    tree.links.new(tint.outputs["Result"], background.inputs["Color"])
    info["world"] = {"type": "hdri", "hdri": name,
                     "strength": round(background.inputs["Strength"].default_value, 3)}


def _layer(bsdf: Any, rng: random.Random) -> str:
    """Give a Principled BSDF one more layer or lobe; returns which."""
    look = rng.choice(("subsurface", "sheen", "coat", "anisotropic", "thin_film"))
    inputs = bsdf.inputs
    if look == "subsurface":
        inputs["Subsurface Weight"].default_value = rng.uniform(0.5, 1.0)
        inputs["Subsurface Scale"].default_value = rng.uniform(0.02, 0.3)
    elif look == "sheen":
        inputs["Sheen Weight"].default_value = rng.uniform(0.5, 1.0)
        inputs["Sheen Roughness"].default_value = rng.uniform(0.2, 0.6)
    elif look == "coat":
        inputs["Coat Weight"].default_value = rng.uniform(0.5, 1.0)
        inputs["Coat Roughness"].default_value = rng.uniform(0.0, 0.15)
    elif look == "anisotropic":
        inputs["Metallic"].default_value = 1.0
        inputs["Anisotropic"].default_value = rng.uniform(0.5, 1.0)
        inputs["Anisotropic Rotation"].default_value = rng.random()
    else:
        inputs["Transmission Weight"].default_value = 1.0
        inputs["Roughness"].default_value = rng.uniform(0.0, 0.05)
        inputs["Thin Film Thickness"].default_value = rng.uniform(100.0, 800.0)
    return look


def _photo(bpy: Any, material: Any, rng: random.Random) -> str:
    """A photograph (box-projected) as base colour, roughness or relief."""
    tree = material.node_tree
    bsdf = tree.nodes["Principled BSDF"]
    name = rng.choice(TRAIN_PHOTOS)
    image = bpy.data.images.load(str(skimage_photo(name)), check_existing=True)
    coords = tree.nodes.new("ShaderNodeTexCoord")
    mapping = tree.nodes.new("ShaderNodeMapping")
    scale = rng.uniform(0.3, 4.0)
    mapping.inputs["Scale"].default_value = (scale, scale, scale)
    mapping.inputs["Rotation"].default_value = (0.0, 0.0, rng.uniform(0.0, 6.3))
    node = tree.nodes.new("ShaderNodeTexImage")
    node.image, node.projection, node.projection_blend = image, "BOX", 0.2
    tree.links.new(coords.outputs["Object"], mapping.inputs["Vector"])
    tree.links.new(mapping.outputs["Vector"], node.inputs["Vector"])
    use = rng.choices(("color", "roughness", "bump"), (6, 2, 2))[0]
    if use == "color":
        tree.links.new(node.outputs["Color"], bsdf.inputs["Base Color"])
    elif use == "roughness":
        ramp = tree.nodes.new("ShaderNodeMapRange")
        ramp.inputs["To Min"].default_value = rng.uniform(0.0, 0.3)
        ramp.inputs["To Max"].default_value = rng.uniform(0.4, 1.0)
        tree.links.new(node.outputs["Color"], ramp.inputs["Value"])
        tree.links.new(ramp.outputs["Result"], bsdf.inputs["Roughness"])
    if use == "bump" or rng.random() < 0.3:
        bump = tree.nodes.new("ShaderNodeBump")
        bump.inputs["Strength"].default_value = rng.uniform(0.1, 0.6)
        tree.links.new(node.outputs["Color"], bump.inputs["Height"])
        tree.links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])
    return f"photo-{use}"


def _materials(bpy: Any, rng: random.Random, info: dict) -> None:
    for material in list(bpy.data.materials):
        tree = material.node_tree
        bsdf = tree.nodes.get("Principled BSDF") if tree else None
        if bsdf is None or bsdf.inputs["Emission Strength"].default_value > 0:
            continue
        glass = bsdf.inputs["Transmission Weight"].default_value > 0
        if not glass and rng.random() < 0.25:
            info["ingredients"].append(_photo(bpy, material, rng))
        if not glass and rng.random() < 0.25:
            info["ingredients"].append(_layer(bsdf, rng))


def _meshes(bpy: Any, small: bool = True) -> list:
    """Mesh objects; ``small``: only those at most 2 units across (props, not rooms)."""
    found = [o for o in bpy.context.scene.objects if o.type == "MESH"]
    if small:
        found = [o for o in found if max(o.dimensions) <= 2.0 and max(o.dimensions) > 0.05]
    return sorted(found, key=lambda o: o.name)


def _shader_material(bpy: Any, name: str, node_type: str, socket: str) -> tuple[Any, Any]:
    """A material whose output ``socket`` (Surface or Volume) is one new node, and that
    node (the Principled BSDF a new material starts with is removed)."""
    material = bpy.data.materials.new(name)
    if bpy.app.version < (5, 0, 0):
        material.use_nodes = True
    nodes = material.node_tree.nodes
    nodes.remove(nodes["Principled BSDF"])
    node = nodes.new(node_type)
    material.node_tree.links.new(node.outputs[0], nodes["Material Output"].inputs[socket])
    return material, node


def _fog(bpy: Any, rng: random.Random, info: dict) -> None:
    """Haze in the world (every ray scatters a little), sometimes a smoke puff too."""
    world = bpy.context.scene.world
    tree = world.node_tree
    scatter = tree.nodes.new("ShaderNodeVolumeScatter")
    scatter.inputs["Density"].default_value = rng.uniform(0.01, 0.12)
    scatter.inputs["Anisotropy"].default_value = rng.uniform(0.0, 0.7)
    tree.links.new(scatter.outputs[0], tree.nodes["World Output"].inputs["Volume"])
    info["ingredients"].append("fog")
    props = _meshes(bpy)
    if props and rng.random() < 0.5:
        target = rng.choice(props)
        smoke, volume = _shader_material(bpy, "smoke", "ShaderNodeVolumePrincipled", "Volume")
        nodes, links = smoke.node_tree.nodes, smoke.node_tree.links
        noise = nodes.new("ShaderNodeTexNoise")
        noise.inputs["Scale"].default_value = rng.uniform(1.5, 5.0)
        ramp = nodes.new("ShaderNodeMapRange")
        ramp.inputs["From Min"].default_value = rng.uniform(0.35, 0.5)
        ramp.inputs["To Max"].default_value = rng.uniform(1.0, 8.0)
        links.new(noise.outputs["Factor"], ramp.inputs["Value"])
        links.new(ramp.outputs["Result"], volume.inputs["Density"])
        target.data.materials.clear()
        target.data.materials.append(smoke)
        info["ingredients"].append("smoke")


def _hair(bpy: Any, rng: random.Random, info: dict) -> None:
    """Particle hair on one or two props (Principled Hair BSDF, melanin or a colour)."""
    props = _meshes(bpy)
    for obj in rng.sample(props, min(len(props), rng.randint(1, 2))):
        fur, node = _shader_material(bpy, "hair", "ShaderNodeBsdfHairPrincipled", "Surface")
        node.parametrization = "MELANIN"
        node.inputs["Melanin"].default_value = rng.random()
        node.inputs["Roughness"].default_value = rng.uniform(0.15, 0.5)
        obj.data.materials.append(fur)
        obj.modifiers.new("hair", "PARTICLE_SYSTEM")
        system = obj.particle_systems[0]
        system.seed = rng.randrange(1000)
        settings = system.settings
        size = max(obj.dimensions)
        settings.type, settings.count = "HAIR", rng.randint(800, 4000)
        settings.hair_length = size * rng.uniform(0.05, 0.5)
        settings.emit_from, settings.material = "FACE", len(obj.data.materials)
        settings.root_radius, settings.tip_radius = 1.0, rng.uniform(0.0, 0.5)
        settings.radius_scale = size * rng.uniform(0.002, 0.008)
        settings.child_type = "INTERPOLATED"
        settings.rendered_child_count = rng.randint(1, 4)
        settings.kink = rng.choice(("NO", "CURL", "WAVE"))
        settings.kink_amplitude = settings.hair_length * rng.uniform(0.05, 0.3)
        settings.roughness_1 = rng.uniform(0.0, 0.05)
    if props:
        info["ingredients"].append("hair")


def _motion(bpy: Any, rng: random.Random, info: dict) -> None:
    """One to three props move and turn over the shutter (camera motion blur)."""
    scene = bpy.context.scene
    props = _meshes(bpy)
    for obj in rng.sample(props, min(len(props), rng.randint(1, 3))):
        start, turn = tuple(obj.location), tuple(obj.rotation_euler)
        step = [rng.uniform(-0.4, 0.4) for _ in range(3)]
        obj.keyframe_insert("location", frame=1)
        obj.keyframe_insert("rotation_euler", frame=1)
        obj.location = tuple(a + b for a, b in zip(start, step, strict=False))
        obj.rotation_euler = tuple(a + rng.uniform(-1.5, 1.5) for a in turn)
        obj.keyframe_insert("location", frame=2)
        obj.keyframe_insert("rotation_euler", frame=2)
        obj.location, obj.rotation_euler = start, turn
    scene.frame_set(1)
    scene.render.use_motion_blur = True
    scene.render.motion_blur_shutter = rng.uniform(0.3, 1.0)
    if props:
        info["ingredients"].append("motion_blur")


def _lamps(bpy: Any, rng: random.Random, info: dict) -> None:
    """Small, intense lamps near the props: tiny point lights and glowing beads."""
    props = _meshes(bpy) or _meshes(bpy, small=False)
    for _ in range(rng.randint(1, 4)):
        anchor = rng.choice(props).location if props else (0.0, 0.0, 1.0)
        where = tuple(a + rng.uniform(-0.8, 0.8) for a in anchor)
        where = (where[0], where[1], max(0.1, where[2] + rng.uniform(0.2, 1.0)))
        hue = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.0, 0.6), 1.0)
        if rng.random() < 0.6:
            data = bpy.data.lights.new("lamp", "POINT")
            data.energy, data.color = rng.uniform(5.0, 80.0), hue
            data.shadow_soft_size = rng.uniform(0.0, 0.03)
            lamp = bpy.data.objects.new("lamp", data)
            bpy.context.scene.collection.objects.link(lamp)
            lamp.location = where
        else:
            glow = bpy.data.materials.new("bead")
            if bpy.app.version < (5, 0, 0):
                glow.use_nodes = True
            bsdf = glow.node_tree.nodes["Principled BSDF"]
            bsdf.inputs["Base Color"].default_value = (0.0, 0.0, 0.0, 1.0)
            bsdf.inputs["Emission Color"].default_value = (*hue, 1.0)
            bsdf.inputs["Emission Strength"].default_value = rng.uniform(50.0, 500.0)
            bpy.ops.mesh.primitive_uv_sphere_add(radius=rng.uniform(0.005, 0.03),
                                                 location=where, segments=12, ring_count=6)
            bpy.context.active_object.data.materials.append(glow)
    info["ingredients"].append("small_lamps")


def _glow_lines(bpy: Any, rng: random.Random, info: dict, width_px: int = 256) -> None:
    """One to three thin glowing lines in front of the props: straight strips, zigzags,
    rings and arcs, each seen face-on enough to show its shape, and as wide as
    ``GLOW_WIDTH_PX`` pixels of a ``width_px``-wide render, so the network meets emitters
    one or two pixels across next to the noise of the light they cast."""
    scene = bpy.context.scene
    camera = scene.camera
    eye = tuple(camera.matrix_basis.translation)
    ahead = tuple(-c for c in camera.matrix_basis.col[2][:3])
    right = tuple(camera.matrix_basis.col[0][:3])
    up = tuple(camera.matrix_basis.col[1][:3])
    half_view = math.tan(camera.data.angle / 2)  # the wider of the two axes
    props = _meshes(bpy) or _meshes(bpy, small=False)
    for _ in range(rng.randint(1, 3)):
        if props and rng.random() < 0.7:
            anchor = rng.choice(props).location
            offset = [a - e for a, e in zip(anchor, eye, strict=True)]
            distance = max(0.5, sum(o * f for o, f in zip(offset, ahead, strict=True)))
        else:
            distance = rng.uniform(1.5, 6.0)
        distance *= rng.uniform(0.6, 1.0)  # between the camera and the prop it is near
        across = distance * half_view  # half the view's width at that distance
        x, y = rng.uniform(-0.8, 0.8) * across, rng.uniform(-0.6, 0.6) * across
        center = tuple(e + distance * f + x * r + y * u
                       for e, f, r, u in zip(eye, ahead, right, up, strict=True))
        turn = rng.uniform(0.0, 2 * math.pi)
        tilt = rng.uniform(-0.6, 0.6)  # lean the shape's plane away from face-on
        axis_a = tuple(math.cos(turn) * r + math.sin(turn) * u
                       for r, u in zip(right, up, strict=True))
        axis_b = tuple(math.cos(tilt) * (-math.sin(turn) * r + math.cos(turn) * u)
                       + math.sin(tilt) * f for r, u, f in zip(right, up, ahead, strict=True))
        size = across * rng.uniform(0.15, 0.6)
        shape = rng.choice(("line", "zigzag", "ring", "arc"))
        if shape == "line":
            flat = [(-size, 0.0), (size, 0.0)]
        elif shape == "zigzag":
            count = rng.randint(3, 7)
            flat = [(size * (2 * i / (count - 1) - 1), size * 0.3 * (-1) ** i)
                    for i in range(count)]
        else:
            sweep = 2 * math.pi if shape == "ring" else rng.uniform(0.8, 4.5)
            count = 32 if shape == "ring" else 16
            radius = 0.6 * size
            flat = [(radius * math.cos(sweep * i / count), radius * math.sin(sweep * i / count))
                    for i in range(count + (shape == "arc"))]
        points = [tuple(c + a * p + b * q for c, a, b in zip(center, axis_a, axis_b, strict=True))
                  for p, q in flat]
        curve = bpy.data.curves.new("glow", "CURVE")
        curve.dimensions = "3D"
        spline = curve.splines.new("POLY")
        spline.points.add(len(points) - 1)
        for point, where in zip(spline.points, points, strict=True):
            point.co = (*where, 1.0)
        spline.use_cyclic_u = shape == "ring"
        pixel = 2 * across / width_px  # one pixel's width at that distance
        curve.bevel_depth = pixel * rng.uniform(*GLOW_WIDTH_PX) / 2
        curve.bevel_resolution = 2
        glow = bpy.data.materials.new("glow")
        if bpy.app.version < (5, 0, 0):
            glow.use_nodes = True
        bsdf = glow.node_tree.nodes["Principled BSDF"]
        bsdf.inputs["Base Color"].default_value = (0.02, 0.02, 0.02, 1.0)
        hue = colorsys.hsv_to_rgb(rng.random(), rng.uniform(0.3, 1.0), 1.0)
        bsdf.inputs["Emission Color"].default_value = (*hue, 1.0)
        bsdf.inputs["Emission Strength"].default_value = math.exp(rng.uniform(math.log(5.0),
                                                                              math.log(200.0)))
        curve.materials.append(glow)
        obj = bpy.data.objects.new("glow", curve)
        scene.collection.objects.link(obj)
    info["ingredients"].append("glow_lines")


def apply_ingredients(bpy: Any, rng: random.Random, kind: str, info: dict) -> None:
    """Draw and apply generator 2's ingredients to the laid-out scene of kind ``kind``."""
    info.setdefault("ingredients", [])
    scene = bpy.context.scene
    if rng.random() < _HDRI[kind]:
        _hdri(bpy, rng, info)
    if kind == "interior" and rng.random() < _NO_PORTALS:
        for obj in [o for o in scene.objects if o.type == "LIGHT" and o.data.type == "AREA"
                    and o.data.cycles.is_portal]:
            bpy.data.objects.remove(obj)
        info["ingredients"].append("no_portals")
    _materials(bpy, rng, info)
    if rng.random() < _FOG[kind]:
        _fog(bpy, rng, info)
    if rng.random() < _HAIR:
        _hair(bpy, rng, info)
    if rng.random() < _MOTION:
        _motion(bpy, rng, info)
    if rng.random() < _LAMPS:
        _lamps(bpy, rng, info)
    camera = scene.camera.data
    if not camera.dof.use_dof and rng.random() < _MORE_DOF:
        camera.dof.use_dof = True
        focus = rng.choice(_meshes(bpy) or _meshes(bpy, small=False))
        camera.dof.focus_distance = max(0.1, math.dist(scene.camera.location, focus.location))
        camera.dof.aperture_fstop = rng.uniform(1.2, 4.0)
        info["ingredients"].append("dof")
    # drawn last, so that adding it left every earlier draw (and the scenes without it) as
    # they were
    if rng.random() < _GLOW_LINES[kind]:
        _glow_lines(bpy, rng, info)
