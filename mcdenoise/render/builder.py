"""Building blocks of the procedural scenes: materials and textures, primitives, lights,
sky and camera, all drawn from the scene's one random stream."""

from __future__ import annotations

import colorsys
import math
import random
from typing import Any

TEXTURES = ("noise", "voronoi", "checker", "brick", "wave")
_TEXTURE_NODES = {"noise": "ShaderNodeTexNoise", "voronoi": "ShaderNodeTexVoronoi",
                  "checker": "ShaderNodeTexChecker", "brick": "ShaderNodeTexBrick",
                  "wave": "ShaderNodeTexWave"}
# operator, its arguments (shapes about 2 units across), height of the centre when resting
# on the ground at scale 1, smooth shading
SHAPES = {
    "cube": ("primitive_cube_add", {"size": 2.0}, 1.0, False),
    "uv_sphere": ("primitive_uv_sphere_add", {"segments": 32, "ring_count": 16}, 1.0, True),
    "ico_sphere": ("primitive_ico_sphere_add", {"subdivisions": 3}, 1.0, True),
    "cylinder": ("primitive_cylinder_add", {"vertices": 32, "depth": 2.0}, 1.0, False),
    "cone": ("primitive_cone_add", {"vertices": 32, "depth": 2.0}, 1.0, False),
    "torus": ("primitive_torus_add", {"major_radius": 1.0, "minor_radius": 0.3}, 0.3, True),
    "monkey": ("primitive_monkey_add", {"size": 2.0}, 0.8, True),
}
# Sky strength that gives each sky model roughly the same irradiance (measured in Blender 5.0:
# a white plane under the Nishita-style skies is ~20x brighter than under Hosek-Wilkie).
_SKY_STRENGTH = {"SINGLE_SCATTERING": 0.15, "MULTIPLE_SCATTERING": 0.1, "PREETHAM": 0.9,
                 "HOSEK_WILKIE": 6.0}
_STYLES = ("diffuse", "glossy", "metal", "glass")


def _look_rotation(direction: tuple[float, float, float]) -> tuple[float, float, float]:
    """XYZ Euler angles turning -Z (where cameras look and lights shine) along ``direction``,
    with local +Y kept upwards."""
    dx, dy, dz = direction
    norm = math.sqrt(dx * dx + dy * dy + dz * dz)
    return (math.acos(max(-1.0, min(1.0, -dz / norm))), 0.0, math.atan2(-dx, dy))


def _sub(a, b) -> tuple[float, float, float]:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def _length(v) -> float:
    return math.sqrt(sum(c * c for c in v))


class Builder:
    """The scene being built, its one random stream, and what the description will report."""

    def __init__(self, bpy: Any, rng: random.Random) -> None:
        self.bpy, self.rng = bpy, rng
        self.scene = bpy.context.scene
        self.lights: list[str] = []
        self.materials: list[str] = []
        self.textures: list[str] = []
        self.info: dict[str, Any] = {"portals": 0}

    def color(self, saturation=(0.1, 0.8), value=(0.3, 0.9)) -> tuple[float, float, float]:
        """A random albedo, drawn in display space and made linear (≈ sRGB decoding)."""
        rgb = colorsys.hsv_to_rgb(self.rng.random(), self.rng.uniform(*saturation),
                                  self.rng.uniform(*value))
        return tuple(c ** 2.2 for c in rgb)

    def material(self, style: str, color=None, texture: str | None = None,
                 scale: float = 4.0, emission: float = 0.0, second=None) -> Any:
        """A Principled BSDF material; ``texture`` drives its base colour (object space),
        between ``color`` and ``second`` (random when None)."""
        rng = self.rng
        mat = self.bpy.data.materials.new(f"{style}.{len(self.materials):03d}")
        if self.bpy.app.version < (5, 0, 0):  # always on (and deprecated) from Blender 5
            mat.use_nodes = True
        bsdf = mat.node_tree.nodes["Principled BSDF"]
        color = color or self.color()
        roughness = {"diffuse": (0.5, 1.0), "glossy": (0.02, 0.25), "metal": (0.05, 0.4),
                     "glass": (0.0, 0.08), "emissive": (0.5, 1.0)}[style]
        bsdf.inputs["Base Color"].default_value = (*color, 1.0)
        bsdf.inputs["Roughness"].default_value = rng.uniform(*roughness)
        bsdf.inputs["Metallic"].default_value = 1.0 if style == "metal" else 0.0
        if style == "glass":
            bsdf.inputs["Transmission Weight"].default_value = 1.0
            bsdf.inputs["IOR"].default_value = rng.uniform(1.33, 1.6)
        if style == "emissive":
            bsdf.inputs["Base Color"].default_value = (0.05, 0.05, 0.05, 1.0)
            bsdf.inputs["Emission Color"].default_value = (*color, 1.0)
            bsdf.inputs["Emission Strength"].default_value = emission
        if texture:
            self._texture(mat.node_tree, bsdf, texture, color, scale, second)
            self.textures.append(texture)
        self.materials.append(style)
        return mat

    def _texture(self, tree: Any, bsdf: Any, kind: str, color, scale: float,
                 second=None) -> None:
        rng, nodes, links = self.rng, tree.nodes, tree.links
        if second is None:
            second = self.color() if rng.random() < 0.5 else tuple(c * rng.uniform(0.15, 0.5)
                                                                    for c in color)
        coords = nodes.new("ShaderNodeTexCoord")
        tex = nodes.new(_TEXTURE_NODES[kind])
        links.new(coords.outputs["Object"], tex.inputs["Vector"])
        tex.inputs["Scale"].default_value = scale
        if kind in ("checker", "brick"):
            tex.inputs["Color1"].default_value = (*color, 1.0)
            tex.inputs["Color2"].default_value = (*second, 1.0)
            links.new(tex.outputs["Color"], bsdf.inputs["Base Color"])
            factor = tex.outputs["Factor"]
        else:
            if kind == "noise":
                tex.inputs["Detail"].default_value = rng.uniform(1.0, 8.0)
            elif kind == "wave":
                tex.wave_type = rng.choice(("BANDS", "RINGS"))
                tex.inputs["Distortion"].default_value = rng.uniform(0.0, 10.0)
            factor = tex.outputs["Distance" if kind == "voronoi" else "Factor"]
            ramp = nodes.new("ShaderNodeValToRGB")
            low, high = ramp.color_ramp.elements
            low.position, high.position = rng.uniform(0.0, 0.4), rng.uniform(0.6, 1.0)
            low.color, high.color = (*color, 1.0), (*second, 1.0)
            links.new(factor, ramp.inputs["Factor"])
            links.new(ramp.outputs["Color"], bsdf.inputs["Base Color"])
        if rng.random() < 0.3:  # relief too, so the normal buffer carries detail as well
            bump = nodes.new("ShaderNodeBump")
            bump.inputs["Strength"].default_value = rng.uniform(0.1, 0.5)
            links.new(factor, bump.inputs["Height"])
            links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])

    def random_material(self, textured: float = 0.5, scale=(2.0, 8.0),
                        styles=_STYLES, weights=(5, 2, 2, 1)) -> Any:
        style = self.rng.choices(styles, weights)[0]
        texture = None
        if style != "glass" and self.rng.random() < textured:
            texture = self.rng.choice(TEXTURES)
        return self.material(style, texture=texture, scale=self.rng.uniform(*scale))

    def mesh(self, shape: str, material: Any, location, scale=(1.0, 1.0, 1.0),
             rotation=(0.0, 0.0, 0.0), modifiers: bool = True) -> Any:
        """A primitive (about 2 units across before ``scale``), sometimes modified."""
        operator, kwargs, _, smooth = SHAPES[shape]
        getattr(self.bpy.ops.mesh, operator)(location=location, rotation=rotation, **kwargs)
        obj = self.bpy.context.active_object
        obj.name = f"{shape}.{len(self.scene.objects):03d}"
        obj.scale = scale
        obj.data.materials.append(material)
        if modifiers:
            smooth = self._modify(obj, shape) or smooth
        if smooth:
            obj.data.shade_smooth()
        return obj

    def _modify(self, obj: Any, shape: str) -> bool:
        """Subdivision, bevel or displacement now and then; True when the result is smooth."""
        roll = self.rng.random()
        if shape in ("cube", "cylinder", "cone") and roll < 0.3:
            bevel = obj.modifiers.new("bevel", "BEVEL")
            bevel.width, bevel.segments = self.rng.uniform(0.05, 0.25), 3
            bevel.harden_normals = True
            return True
        if shape in ("cube", "ico_sphere", "monkey", "torus") and roll < 0.55:
            subsurf = obj.modifiers.new("subdivision", "SUBSURF")
            subsurf.levels = subsurf.render_levels = self.rng.choice((1, 2))
            return True
        if shape in ("uv_sphere", "ico_sphere") and roll > 0.85:
            subsurf = obj.modifiers.new("subdivision", "SUBSURF")
            subsurf.levels = subsurf.render_levels = 1
            texture = self.bpy.data.textures.new(f"{obj.name}.clouds", "CLOUDS")
            texture.noise_scale = self.rng.uniform(0.3, 1.0)
            displace = obj.modifiers.new("displace", "DISPLACE")
            displace.texture, displace.strength = texture, self.rng.uniform(0.1, 0.4)
            return True
        return False

    def boxes(self, name: str, corners: list, material: Any) -> Any:
        """One object made of axis-aligned boxes given as (low corner, high corner) in world
        space, so that object-space textures line up across them."""
        verts, faces = [], []
        quads = ((0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4),
                 (1, 5, 7, 3))  # corner i = 4 * x + 2 * y + z, faces wound outwards
        for low, high in corners:
            base = len(verts)
            verts += [(x, y, z) for x in (low[0], high[0]) for y in (low[1], high[1])
                      for z in (low[2], high[2])]
            faces += [tuple(base + i for i in quad) for quad in quads]
        return self.from_pydata(name, verts, faces, material)

    def from_pydata(self, name: str, verts: list, faces: list, material: Any) -> Any:
        mesh = self.bpy.data.meshes.new(name)
        mesh.from_pydata(verts, [], faces)
        mesh.materials.append(material)
        return self.link(self.bpy.data.objects.new(name, mesh))

    def link(self, obj: Any) -> Any:
        self.scene.collection.objects.link(obj)
        return obj

    def light(self, kind: str, location, target, power: float, color=(1.0, 1.0, 1.0),
              **settings: Any) -> Any:
        """A light at ``location`` shining at ``target``; ``power`` in Blender's units."""
        data = self.bpy.data.lights.new(f"{kind.lower()}.{len(self.lights):02d}", kind)
        data.energy, data.color = power, color
        for key, value in settings.items():
            setattr(data, key, value)
        obj = self.link(self.bpy.data.objects.new(data.name, data))
        obj.location = location
        obj.rotation_euler = _look_rotation(_sub(target, location))
        self.lights.append(kind)
        return obj

    def portal(self, location, inward, width: float, height: float) -> None:
        """An area light flagged as a portal: Cycles then samples the sky through it."""
        data = self.bpy.data.lights.new(f"portal.{self.info['portals']:02d}", "AREA")
        data.shape, data.size, data.size_y = "RECTANGLE", width, height
        data.cycles.is_portal = True
        obj = self.link(self.bpy.data.objects.new(data.name, data))
        obj.location, obj.rotation_euler = location, _look_rotation(inward)
        self.info["portals"] += 1

    def world(self, color=(0.0, 0.0, 0.0), strength: float = 1.0) -> Any:
        world = self.bpy.data.worlds.new("world")
        if self.bpy.app.version < (5, 0, 0):
            world.use_nodes = True
        background = world.node_tree.nodes["Background"]
        background.inputs["Color"].default_value = (*color, 1.0)
        background.inputs["Strength"].default_value = strength
        self.scene.world = world
        self.info["world"] = {"type": "color", "strength": strength}
        return world

    def sky(self, to_sun, exposure: float = 1.0) -> None:
        """A sky texture lit by a sun in direction ``to_sun`` (unit vector, z > 0); its sun disc
        is off because a sun lamp, which Cycles samples far better, stands in for it."""
        rng = self.rng
        tree = self.world().node_tree
        sky = tree.nodes.new("ShaderNodeTexSky")
        sky.sky_type = rng.choice(tuple(_SKY_STRENGTH))
        sky.sun_disc = False
        sky.sun_elevation = math.asin(to_sun[2])
        sky.sun_rotation = math.atan2(to_sun[0], to_sun[1]) % (2 * math.pi)  # 0 is +Y
        sky.sun_direction = to_sun
        if sky.sky_type in ("PREETHAM", "HOSEK_WILKIE"):
            sky.turbidity = rng.uniform(2.0, 6.0)
        else:
            sky.air_density, sky.aerosol_density = rng.uniform(0.8, 1.5), rng.uniform(0.5, 3.0)
        strength = _SKY_STRENGTH[sky.sky_type] * rng.uniform(0.6, 1.5) * exposure
        background = tree.nodes["Background"]
        background.inputs["Strength"].default_value = strength
        tree.links.new(sky.outputs["Color"], background.inputs["Color"])
        # Without its sun disc the sky is smooth: a coarse importance map samples it as well,
        # and building the automatic (large) one costs over a second per render on 2 cores.
        self.scene.world.cycles.sampling_method = "MANUAL"
        self.scene.world.cycles.sample_map_resolution = 256
        self.info["world"] = {"type": "sky", "sky_type": sky.sky_type, "strength": strength}
        self.lights.append("SKY")

    def sun(self, to_sun, irradiance: float) -> None:
        data = self.bpy.data.lights.new(f"sun.{len(self.lights):02d}", "SUN")
        data.energy, data.angle = irradiance, math.radians(self.rng.uniform(0.5, 3.0))
        obj = self.link(self.bpy.data.objects.new(data.name, data))
        obj.rotation_euler = _look_rotation(tuple(-c for c in to_sun))
        self.lights.append("SUN")

    def camera(self, location, target, lens: float, dof: float = 0.0,
               fstop=(1.4, 5.6), clip_end: float = 200.0) -> None:
        """The scene camera at ``location`` looking at ``target``; depth of field focused on
        the target with probability ``dof``."""
        data = self.bpy.data.cameras.new("camera")
        data.lens, data.clip_start, data.clip_end = lens, 0.05, clip_end
        obj = self.link(self.bpy.data.objects.new("camera", data))
        obj.location = location
        obj.rotation_euler = _look_rotation(_sub(target, location))
        data.dof.use_dof = self.rng.random() < dof
        if data.dof.use_dof:
            data.dof.focus_distance = _length(_sub(target, location))
            data.dof.aperture_fstop = self.rng.uniform(*fstop)
        self.scene.camera = obj
        self.info["camera"] = {"location": [round(c, 4) for c in location],
                               "target": [round(c, 4) for c in target], "lens": round(lens, 3),
                               "fstop": round(data.dof.aperture_fstop, 3)
                               if data.dof.use_dof else None}
        self.info["dof"] = bool(data.dof.use_dof)
