"""Varied, deterministic procedural Cycles scenes of five kinds, for Noise2Noise training data."""

from __future__ import annotations

import colorsys
import math
import random
from typing import Any

SCENE_KINDS = ("interior", "exterior", "studio", "clutter", "emitters")
TEXTURES = ("noise", "voronoi", "checker", "brick", "wave")
_TEXTURE_NODES = {"noise": "ShaderNodeTexNoise", "voronoi": "ShaderNodeTexVoronoi",
                  "checker": "ShaderNodeTexChecker", "brick": "ShaderNodeTexBrick",
                  "wave": "ShaderNodeTexWave"}
# operator, its arguments (shapes about 2 units across), height of the centre when resting
# on the ground at scale 1, smooth shading
_SHAPES = {
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


def _rng(scene_seed: int, index: int, salt: str) -> random.Random:
    # A string seed is hashed with SHA-512: stable across runs, unlike hash() of a tuple.
    return random.Random(f"mcdenoise.procedural:{salt}:{scene_seed}:{index}")


def scene_kind(index: int, scene_seed: int = 0) -> str:
    """Kind of scene ``index``: every block of five consecutive indices (0-4, 5-9, ...) holds
    each kind once, in an order shuffled per block, so any 9 consecutive indices cover all."""
    block, slot = divmod(index, len(SCENE_KINDS))
    order = list(SCENE_KINDS)
    _rng(scene_seed, block, "kinds").shuffle(order)
    return order[slot]


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


class _Builder:
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
        operator, kwargs, _, smooth = _SHAPES[shape]
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


def _on_ground(b: _Builder, shape: str, x: float, y: float, size: float, material: Any,
               stretch: float = 1.0, z: float = 0.0) -> Any:
    """A primitive of half-size ``size`` standing on the plane at height ``z``."""
    rest = _SHAPES[shape][2]
    return b.mesh(shape, material, (x, y, z + rest * size * stretch), (size, size, size * stretch),
                  (0.0, 0.0, b.rng.uniform(0.0, 2 * math.pi)))


def _spherical(radius: float, elevation: float, azimuth: float, center=(0.0, 0.0, 0.0)):
    """Point at ``radius`` from ``center`` at ``elevation`` and ``azimuth`` (radians)."""
    return (center[0] + radius * math.cos(elevation) * math.cos(azimuth),
            center[1] + radius * math.cos(elevation) * math.sin(azimuth),
            center[2] + radius * math.sin(elevation))


# Walls of a room centred on the origin: (axis the wall is normal to, side); inward is -side.
_WALLS = ((1, -1.0), (1, 1.0), (0, -1.0), (0, 1.0))
_WALL_THICKNESS = 0.2


def _wall_point(wall: int, u: float, w: float, z: float) -> tuple[float, float, float]:
    """World point at ``u`` along wall ``wall`` and ``w`` across it (x or y)."""
    return (u, w, z) if _WALLS[wall][0] == 1 else (w, u, z)


def _inward(wall: int) -> tuple[float, float, float]:
    axis, side = _WALLS[wall]
    return (0.0, -side, 0.0) if axis == 1 else (-side, 0.0, 0.0)


def _openings(b: _Builder, span: float, height: float, count: int, door: bool) -> list:
    """``count`` windows (and maybe a door) as (u0, u1, z0, z1) along a wall of length
    ``span`` centred on 0."""
    rng, found = b.rng, []
    if count + door == 0:
        return found
    slot = span / (count + door)
    for i in range(count + door):
        is_door = door and i == count
        width = rng.uniform(0.8, 1.0) if is_door else rng.uniform(0.7, min(2.2, slot - 0.5))
        center = -span / 2 + slot * (i + 0.5) + rng.uniform(-0.2, 0.2) * (slot - width)
        bottom = 0.0 if is_door else rng.uniform(0.4, 1.0)
        top = rng.uniform(2.0, 2.2) if is_door else rng.uniform(min(1.9, height - 0.5),
                                                               height - 0.25)
        found.append((center - width / 2, center + width / 2, bottom, top))
    return found


def _room_shell(b: _Builder, half: tuple[float, float], height: float, openings: dict) -> None:
    """Floor, ceiling and walls (slabs around the openings, with a sky portal in each)."""
    rng, t = b.rng, _WALL_THICKNESS
    floor = b.material("glossy" if rng.random() < 0.3 else "diffuse",
                       b.color(value=(0.3, 0.8)), rng.choice(TEXTURES), rng.uniform(0.5, 3.0))
    b.boxes("floor", [((-half[0] - t, -half[1] - t, -t), (half[0] + t, half[1] + t, 0.0))],
            floor)
    ceiling = b.material("diffuse", b.color((0.0, 0.15), (0.75, 0.95)))
    b.boxes("ceiling", [((-half[0] - t, -half[1] - t, height),
                         (half[0] + t, half[1] + t, height + t))], ceiling)
    slabs = []
    for wall, (axis, side) in enumerate(_WALLS):
        reach = half[0] + t if axis == 1 else half[1]  # walls along x cover the corners
        offset = side * (half[axis] + t / 2)
        u, pieces = -reach, []
        for u0, u1, z0, z1 in sorted(openings.get(wall, [])):
            pieces += [(u, u0, 0.0, height), (u0, u1, 0.0, z0), (u0, u1, z1, height)]
            u = u1
            b.portal(_wall_point(wall, (u0 + u1) / 2, side * (half[axis] + t), (z0 + z1) / 2),
                     _inward(wall), u1 - u0, z1 - z0)
        pieces.append((u, reach, 0.0, height))
        for u0, u1, z0, z1 in pieces:
            if u1 - u0 > 1e-3 and z1 - z0 > 1e-3:
                slabs.append((_wall_point(wall, u0, offset - t / 2, z0),
                              _wall_point(wall, u1, offset + t / 2, z1)))
    # Pale, low-contrast walls: they carry most of the light around the room.
    texture, color = rng.choice(("noise", "brick", "wave", None)), b.color((0.0, 0.4), (0.7, 0.95))
    walls = b.material("diffuse", color, texture, rng.uniform(0.5, 3.0),
                       second=tuple(c * rng.uniform(0.55, 0.85) for c in color))
    b.boxes("walls", slabs, walls)


def _free_spot(b: _Builder, half, margin: float, avoid: list, spacing: float):
    """A random floor point ``margin`` inside the walls and ``spacing`` from those in
    ``avoid`` (None if the room is too full)."""
    for _ in range(40):
        x = b.rng.uniform(-half[0] + margin, half[0] - margin)
        y = b.rng.uniform(-half[1] + margin, half[1] - margin)
        if all(math.hypot(x - ax, y - ay) > spacing + r for ax, ay, r in avoid):
            return x, y
    return None


def _furnish(b: _Builder, half, height: float, camera_xy, walls_free: list) -> None:
    """A rug, a table with things on it, a cabinet and a few objects, clear of the camera."""
    rng = b.rng
    avoid = [(*camera_xy, 0.9)]
    if rng.random() < 0.6:
        rug = b.material("diffuse", texture=rng.choice(TEXTURES), scale=rng.uniform(1.0, 5.0))
        rx, ry = rng.uniform(0.6, half[0] * 0.6), rng.uniform(0.6, half[1] * 0.6)
        b.boxes("rug", [((-rx, -ry, 0.0), (rx, ry, 0.015))], rug)
    spot = _free_spot(b, half, 1.0, avoid, 0.9)
    if spot:
        avoid.append((*spot, 0.6))
        top = rng.uniform(0.7, 0.8)
        sx, sy = rng.uniform(0.35, 0.8), rng.uniform(0.35, 0.5)
        legs = [((spot[0] + i * (sx - 0.06) - 0.03, spot[1] + j * (sy - 0.06) - 0.03, 0.0),
                 (spot[0] + i * (sx - 0.06) + 0.03, spot[1] + j * (sy - 0.06) + 0.03, top))
                for i in (-1, 1) for j in (-1, 1)]
        wood = b.material(rng.choice(("diffuse", "glossy")), b.color((0.3, 0.7), (0.2, 0.6)),
                          rng.choice(("wave", "noise")), rng.uniform(1.0, 6.0))
        b.boxes("table", [((spot[0] - sx, spot[1] - sy, top - 0.05),
                           (spot[0] + sx, spot[1] + sy, top))] + legs, wood)
        for _ in range(rng.randint(1, 3)):
            _on_ground(b, rng.choice(tuple(_SHAPES)), spot[0] + rng.uniform(-sx, sx) * 0.7,
                       spot[1] + rng.uniform(-sy, sy) * 0.7, rng.uniform(0.06, 0.15),
                       b.random_material(), z=top)
    if walls_free:
        wall = rng.choice(walls_free)
        axis, side = _WALLS[wall]
        u, length = rng.uniform(-0.5, 0.5), rng.uniform(0.8, 1.8)
        w0, w1 = side * half[axis], side * (half[axis] - rng.uniform(0.35, 0.6))
        low = _wall_point(wall, u - length / 2, min(w0, w1), 0.0)
        high = _wall_point(wall, u + length / 2, max(w0, w1), rng.uniform(0.5, 1.9))
        b.boxes("cabinet", [(low, high)], b.random_material(0.6, (1.0, 4.0), weights=(4, 2, 1, 0)))
    for _ in range(rng.randint(2, 5)):
        spot = _free_spot(b, half, 0.5, avoid, 0.4)
        if spot:
            size = rng.uniform(0.15, 0.4)
            avoid.append((*spot, size))
            _on_ground(b, rng.choice(tuple(_SHAPES)), *spot, size, b.random_material(),
                       stretch=rng.uniform(0.7, 1.6))


def _build_interior(b: _Builder) -> None:
    """A closed room lit by the sun and sky through its windows and door."""
    rng = b.rng
    half = (rng.uniform(2.0, 3.5), rng.uniform(2.0, 3.5))
    height = rng.uniform(2.6, 3.4)
    sun_wall = rng.randrange(4)
    openings = {sun_wall: _openings(b, 2 * half[_WALLS[sun_wall][0] ^ 1], height,
                                    rng.randint(1, 2), False)}
    for wall in range(4):
        if wall != sun_wall and rng.random() < 0.45:
            openings[wall] = _openings(b, 2 * half[_WALLS[wall][0] ^ 1], height,
                                       rng.randint(0, 1), rng.random() < 0.4)
    _room_shell(b, half, height, openings)
    # The sun shines in through the sun wall's windows, onto the floor inside.
    inward, elevation = _inward(sun_wall), math.radians(rng.uniform(20.0, 50.0))
    turn = math.radians(rng.uniform(-40.0, 40.0))
    heading = (inward[0] * math.cos(turn) - inward[1] * math.sin(turn),
               inward[0] * math.sin(turn) + inward[1] * math.cos(turn))
    to_sun = (-heading[0] * math.cos(elevation), -heading[1] * math.cos(elevation),
              math.sin(elevation))
    # A photographer opens up indoors, and more so when the windows are small.
    window_area = sum((u1 - u0) * (z1 - z0) for found in openings.values()
                      for u0, u1, z0, z1 in found)
    exposure = rng.uniform(3.0, 6.0) * min(3.0, max(1.0, 4.0 / window_area))
    b.sky(to_sun, exposure)
    b.sun(to_sun, rng.uniform(2.5, 5.0) * exposure)
    camera_wall = rng.randrange(4)
    axis, side = _WALLS[camera_wall]
    along = rng.uniform(-0.6, 0.6) * half[axis ^ 1]
    camera = _wall_point(camera_wall, along, side * (half[axis] - rng.uniform(0.3, 0.7)),
                         rng.uniform(1.1, 1.7))
    target = _wall_point(camera_wall, rng.uniform(-0.5, 0.5) * half[axis ^ 1],
                         -side * rng.uniform(0.0, 0.6) * half[axis], rng.uniform(0.6, 1.3))
    free = [w for w in range(4) if w not in (camera_wall, sun_wall)]
    _furnish(b, half, height, camera[:2], free)
    if rng.random() < 0.3:
        lamp = b.material("emissive", b.color((0.0, 0.3), (0.8, 1.0)), emission=5.0)
        b.mesh("uv_sphere", lamp, (0.0, 0.0, height - 0.4), (0.12, 0.12, 0.12), modifiers=False)
        b.lights.append("EMISSION")
    b.camera(camera, target, rng.uniform(14.0, 22.0), dof=0.1, fstop=(2.0, 5.6))


def _sun_direction(b: _Builder, elevation=(12.0, 70.0)) -> tuple[float, float, float]:
    """Unit vector towards the sun."""
    return _spherical(1.0, math.radians(b.rng.uniform(*elevation)),
                      b.rng.uniform(0.0, 2 * math.pi))


def _tree(b: _Builder, x: float, y: float) -> None:
    """A trunk under a cone or a lumpy ball of leaves."""
    rng = b.rng
    bark = b.material("diffuse", b.color((0.3, 0.6), (0.15, 0.4)), "noise", rng.uniform(2, 8))
    trunk = rng.uniform(1.0, 2.0)
    b.mesh("cylinder", bark, (x, y, trunk / 2), (0.1, 0.1, trunk / 2), modifiers=False)
    leaves = b.material("diffuse", colorsys.hsv_to_rgb(rng.uniform(0.2, 0.4),
                                                       rng.uniform(0.4, 0.8),
                                                       rng.uniform(0.05, 0.3)),
                        rng.choice(("noise", "voronoi")), rng.uniform(2.0, 6.0))
    crown = rng.uniform(0.6, 1.2)
    shape = rng.choice(("cone", "ico_sphere"))
    b.mesh(shape, leaves, (x, y, trunk + crown * 0.8), (crown, crown, crown * 1.3))


def _build_exterior(b: _Builder) -> None:
    """Open ground under a sky (and usually the sun): props, rocks, trees and buildings."""
    rng = b.rng
    ground = b.material("diffuse", b.color((0.1, 0.5), (0.3, 0.7)), rng.choice(TEXTURES),
                        rng.uniform(0.2, 1.5))
    b.boxes("ground", [((-300.0, -300.0, -0.1), (300.0, 300.0, 0.0))], ground)
    to_sun = _sun_direction(b)
    overcast = rng.random() < 0.2
    b.sky(to_sun, 3.0 if overcast else 1.0)
    if not overcast:
        b.sun(to_sun, rng.uniform(2.5, 5.0))
    spread = rng.uniform(2.5, 5.0)
    view = rng.uniform(0.0, 2 * math.pi)  # where the camera stands, seen from the props
    for _ in range(rng.randint(6, 14)):
        r, a = spread * math.sqrt(rng.random()), rng.uniform(0.0, 2 * math.pi)
        _on_ground(b, rng.choice(tuple(_SHAPES)), r * math.cos(a), r * math.sin(a),
                   rng.uniform(0.2, 0.7), b.random_material(), stretch=rng.uniform(0.6, 1.8))
    for _ in range(rng.randint(0, 4)):  # trees and buildings behind the props
        x, y, _z = _spherical(spread + rng.uniform(1.0, 6.0), 0.0,
                              view + math.pi + rng.uniform(-1.2, 1.2))
        if rng.random() < 0.5:
            _tree(b, x, y)
        else:
            sx, sy, sz = rng.uniform(0.8, 2.5), rng.uniform(0.8, 2.5), rng.uniform(1.5, 6.0)
            facade = b.material("diffuse", texture=rng.choice(("brick", "checker", "noise")),
                                scale=rng.uniform(0.5, 2.0))
            b.boxes(f"building.{len(b.scene.objects):03d}",
                    [((x - sx, y - sy, 0.0), (x + sx, y + sy, sz))], facade)
    distance = spread * rng.uniform(1.4, 2.5)
    camera = _spherical(distance, math.radians(rng.uniform(5.0, 30.0)), view,
                        (0.0, 0.0, rng.uniform(0.8, 1.5)))
    target = (rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), rng.uniform(0.3, 0.9))
    b.camera(camera, target, rng.uniform(24.0, 50.0), dof=0.2, fstop=(2.0, 8.0), clip_end=1000)


def _cyclorama(b: _Builder, material: Any, width: float, start: float, radius: float,
               height: float) -> None:
    """A seamless backdrop: floor up to y = ``start``, a quarter circle, then a wall."""
    profile = [(-20.0, 0.0), (start, 0.0)]
    profile += [(start + radius * math.sin(a), radius * (1.0 - math.cos(a)))
                for a in (math.pi / 2 * i / 10 for i in range(1, 11))]
    profile.append((start + radius, height))
    verts = [(x, y, z) for y, z in profile for x in (-width / 2, width / 2)]
    faces = [(2 * i, 2 * i + 1, 2 * i + 3, 2 * i + 2) for i in range(len(profile) - 1)]
    b.from_pydata("cyclorama", verts, faces, material).data.shade_smooth()


def _studio_heroes(b: _Builder) -> tuple[float, float]:
    """One to three hero objects, some on pedestals; returns their total width and height."""
    rng = b.rng
    heroes, spacing = rng.randint(1, 3), rng.uniform(0.9, 1.3)
    top = 0.0
    for i in range(heroes):
        x = (i - (heroes - 1) / 2) * spacing
        size, base = rng.uniform(0.3, 0.6), 0.0
        if rng.random() < 0.3:  # a pedestal
            base = rng.uniform(0.2, 0.6)
            b.mesh("cylinder", b.material("diffuse", b.color((0.0, 0.2), (0.4, 0.9))),
                   (x, 0.0, base / 2), (size * 1.2, size * 1.2, base / 2), modifiers=False)
        _on_ground(b, rng.choice(tuple(_SHAPES)), x, rng.uniform(-0.3, 0.3), size,
                   b.random_material(0.5, weights=(3, 3, 3, 2)), z=base)
        top = max(top, base + 2 * size)
    return (heroes - 1) * spacing + 1.2, top


def _build_studio(b: _Builder) -> None:
    """A product shot: a seamless backdrop, one to three hero objects, area lights."""
    rng = b.rng
    texture = "noise" if rng.random() < 0.3 else None
    backdrop = b.material("diffuse", b.color((0.0, 0.35), (0.5, 0.95)), texture, 1.0)
    _cyclorama(b, backdrop, 14.0, rng.uniform(1.2, 2.5), rng.uniform(1.5, 3.0), 8.0)
    width, top = _studio_heroes(b)
    center = (0.0, 0.0, top / 2)
    view = math.radians(-90.0 + rng.uniform(-35.0, 35.0))
    for role, power, elevation, offset in (("key", 1.0, (25, 60), (-80, -20)),
                                           ("fill", rng.uniform(0.1, 0.5), (10, 40), (30, 90)),
                                           ("rim", rng.uniform(0.4, 1.5), (50, 70), (150, 210))):
        if role == "fill" and rng.random() < 0.3:
            continue
        distance = rng.uniform(2.0, 3.5) if role != "rim" else rng.uniform(1.8, 2.4)
        where = _spherical(distance, math.radians(rng.uniform(*elevation)),
                           view + math.radians(rng.uniform(*offset)), center)
        # power for an irradiance E at the hero: E = P / (pi d^2) along an area light's axis
        irradiance = power * rng.uniform(2.0, 5.0)
        b.light("AREA", where, center, irradiance * math.pi * distance ** 2,
                b.color((0.0, 0.3), (1.0, 1.0)), size=rng.uniform(0.5, 2.0))
    b.world(b.color((0.0, 0.2), (0.8, 1.0)), rng.uniform(0.02, 0.2))
    lens = rng.uniform(35.0, 90.0)
    framing = max(width, top) * rng.uniform(1.3, 2.0)  # metres across the 36 mm frame
    camera = _spherical(framing * lens / 36.0, math.radians(rng.uniform(3.0, 35.0)), view,
                        center)
    b.camera(camera, (0.0, 0.0, top * rng.uniform(0.35, 0.55)), lens, dof=0.4,
             fstop=(1.8, 8.0))


def _build_clutter(b: _Builder) -> None:
    """Dozens of small textured objects strewn over a table top or floor."""
    rng = b.rng
    surface = b.material(rng.choice(("diffuse", "glossy")), b.color((0.0, 0.5), (0.3, 0.8)),
                         rng.choice(TEXTURES), rng.uniform(1.0, 6.0))
    b.boxes("surface", [((-4.0, -4.0, -0.05), (4.0, 4.0, 0.0))], surface)
    if rng.random() < 0.5:
        b.boxes("wall", [((-4.0, 1.6, 0.0), (4.0, 1.7, 3.0))],
                b.material("diffuse", texture=rng.choice(TEXTURES), scale=rng.uniform(1, 4)))
    palette = [b.random_material(0.7, (3.0, 12.0)) for _ in range(rng.randint(6, 10))]
    side = rng.uniform(0.8, 1.3)
    shapes = tuple(_SHAPES)
    for _ in range(rng.randint(25, 60)):
        shape = rng.choices(shapes, (3, 3, 2, 3, 2, 2, 1))[0]
        obj = b.mesh(shape, rng.choice(palette), (0.0, 0.0, 0.0), modifiers=rng.random() < 0.3)
        size = rng.uniform(0.04, 0.14)
        stretch = rng.uniform(0.5, 2.0) if shape in ("cube", "cylinder") else 1.0
        obj.scale = (size, size * rng.uniform(0.6, 1.4), size * stretch)
        obj.location = (rng.uniform(-side, side), rng.uniform(-side, side),
                        _SHAPES[shape][2] * size * stretch)
        obj.rotation_euler = (rng.gauss(0.0, 0.1), rng.gauss(0.0, 0.1),
                              rng.uniform(0.0, 2 * math.pi))
    _light_small_set(b, (0.0, 0.0, 0.0))
    distance = rng.uniform(2.2, 3.8)
    view = rng.uniform(-math.pi, 0.0) if rng.random() < 0.8 else rng.uniform(0.0, math.pi)
    camera = _spherical(distance, math.radians(rng.uniform(25.0, 70.0)), view)
    b.camera(camera, (rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), 0.05),
             rng.uniform(30.0, 55.0), dof=0.5, fstop=(1.4, 4.0))


def _light_small_set(b: _Builder, center) -> None:
    """Sun and sky, or one or two area lights under a dim uniform world."""
    rng = b.rng
    if rng.random() < 0.35:
        to_sun = _sun_direction(b, (25.0, 70.0))
        b.sky(to_sun)
        b.sun(to_sun, rng.uniform(2.5, 5.0))
        return
    for _ in range(rng.randint(1, 2)):
        distance = rng.uniform(2.0, 4.0)
        where = _spherical(distance, math.radians(rng.uniform(30.0, 75.0)),
                           rng.uniform(0.0, 2 * math.pi), center)
        b.light("AREA", where, center, rng.uniform(2.0, 4.0) * math.pi * distance ** 2,
                b.color((0.0, 0.3), (1.0, 1.0)), size=rng.uniform(0.3, 2.0))
    b.world(b.color((0.0, 0.4), (0.6, 1.0)), rng.uniform(0.05, 0.3))


def _emitter(b: _Builder, spread: float) -> None:
    """A glowing sphere, panel, tube or ring whose strength gives about the same irradiance
    two metres away whatever its size (strength = E d^2 / projected area)."""
    rng = b.rng
    shape = rng.choice(("uv_sphere", "cube", "cylinder", "torus"))
    where = (rng.uniform(-spread, spread), rng.uniform(-spread, spread), rng.uniform(0.3, 2.2))
    rotation = (rng.uniform(0.0, math.pi), rng.uniform(0.0, math.pi), 0.0)
    if shape == "uv_sphere":
        r = rng.uniform(0.04, 0.2)
        scale, area = (r, r, r), math.pi * r * r
    elif shape == "cube":
        w, h = rng.uniform(0.1, 0.5), rng.uniform(0.2, 0.8)
        scale, area = (w, h, 0.01), 4 * w * h
    elif shape == "cylinder":
        r, length = rng.uniform(0.01, 0.03), rng.uniform(0.3, 1.0)
        scale, area = (r, r, length), 4 * r * length
    else:
        r = rng.uniform(0.15, 0.4)
        scale, area = (r, r, r), 2 * math.pi * r * 0.6 * r
    strength = rng.uniform(0.5, 2.0) * 4.0 / area
    glow = b.material("emissive", b.color((0.0, 0.9), (0.9, 1.0)), emission=strength)
    b.mesh(shape, glow, where, scale, rotation, modifiers=False)
    b.lights.append("EMISSION")


def _build_emitters(b: _Builder) -> None:
    """A dark scene lit by glowing meshes, and sometimes a point or spot light."""
    rng = b.rng
    b.world(b.color((0.0, 0.5), (0.5, 1.0)), rng.uniform(0.0, 0.01))
    floor = b.material(rng.choice(("diffuse", "glossy")), b.color((0.0, 0.5), (0.3, 0.8)),
                       rng.choice(TEXTURES), rng.uniform(0.5, 4.0))
    b.boxes("floor", [((-10.0, -10.0, -0.05), (10.0, 10.0, 0.0))], floor)
    # walls behind the content, so the frame is dim rather than black where nothing glows
    corner = rng.uniform(2.5, 4.0)
    b.boxes("corner", [((-10.0, corner, 0.0), (10.0, corner + 0.1, 6.0)),
                       ((corner, -10.0, 0.0), (corner + 0.1, corner, 6.0))],
            b.material("diffuse", b.color(value=(0.4, 0.9)), rng.choice(TEXTURES),
                       rng.uniform(0.5, 3.0)))
    spread = rng.uniform(1.0, 2.0)
    for _ in range(rng.randint(3, 8)):
        _on_ground(b, rng.choice(tuple(_SHAPES)), rng.uniform(-spread, spread),
                   rng.uniform(-spread, spread), rng.uniform(0.15, 0.5),
                   b.random_material(0.5, weights=(3, 3, 2, 2)))
    for _ in range(rng.randint(2, 5)):
        _emitter(b, spread)
    for kind in ("POINT", "SPOT"):
        if rng.random() < 0.35:
            distance = rng.uniform(1.5, 3.0)
            where = _spherical(distance, math.radians(rng.uniform(30.0, 80.0)),
                               rng.uniform(0.0, 2 * math.pi))
            # a point light's intensity is P / (4 pi) W/sr; Blender's spots keep it
            b.light(kind, where, (0.0, 0.0, 0.0), rng.uniform(0.5, 2.0) * 4 * math.pi *
                    distance ** 2, b.color((0.3, 0.9), (1.0, 1.0)),
                    shadow_soft_size=rng.uniform(0.02, 0.3),
                    **({"spot_size": rng.uniform(0.5, 1.4), "spot_blend": rng.uniform(0.05, 0.5)}
                       if kind == "SPOT" else {}))
    distance = spread * rng.uniform(2.0, 3.5)
    camera = _spherical(distance, math.radians(rng.uniform(10.0, 45.0)),
                        math.radians(rng.uniform(-170.0, -100.0)), (0.0, 0.0, 0.3))
    b.camera(camera, (0.0, 0.0, rng.uniform(0.3, 0.7)), rng.uniform(24.0, 50.0), dof=0.3)


_BUILDERS = {"interior": _build_interior, "exterior": _build_exterior, "studio": _build_studio,
             "clutter": _build_clutter, "emitters": _build_emitters}


def build_scene(bpy: Any, index: int, scene_seed: int = 0) -> dict:
    """Replace the open file with scene ``index`` of the generator seeded by ``scene_seed``,
    set its camera, and describe it (JSON-serialisable). Equal arguments give the same scene.
    Render settings (engine, resolution, samples, output) are left to the caller."""
    bpy.ops.wm.read_factory_settings(use_empty=True)
    kind = scene_kind(index, scene_seed)
    builder = _Builder(bpy, _rng(scene_seed, index, "scene"))
    _BUILDERS[kind](builder)
    meshes = [obj for obj in builder.scene.objects if obj.type == "MESH"]
    return {"kind": kind, "index": index, "scene_seed": scene_seed, "objects": len(meshes),
            "lights": builder.lights, "materials": builder.materials,
            "textures": builder.textures, "dof": builder.info.pop("dof", False),
            **builder.info}
