"""The field benchmark: fixed scenes of the kinds users render, built apart from the training
generator, that no model is ever trained or selected on.

Each entry of ``FIELD_SCENES`` builds one scene from scratch (plain bpy through
``field_parts``; nothing from ``builder.py`` or ``layouts.py``, and photographs and HDRIs
that the training generator never sees) and says its size and reference sample count.
`mcdenoise render field` renders the inputs and chunked references (render/dataset.py).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcdenoise.render import field_parts as p


@dataclass(frozen=True)
class FieldScene:
    build: Callable[[Any], None]
    size: tuple[int, int]
    reference_spp: int
    what: str


def _cornell_shell(bpy: Any, light_size: float, power: float) -> None:
    """The classic box (2 units, open towards -Y) with a square ceiling light."""
    white = p.principled(bpy, "white", (0.73, 0.73, 0.73), 0.9)
    red = p.principled(bpy, "red", (0.63, 0.065, 0.05), 0.9)
    green = p.principled(bpy, "green", (0.14, 0.45, 0.091), 0.9)
    t = 0.05
    p.box(bpy, "floor", (-1 - t, -1, -t), (1 + t, 1 + t, 0), white)
    p.box(bpy, "ceiling", (-1 - t, -1, 2), (1 + t, 1 + t, 2 + t), white)
    p.box(bpy, "back", (-1 - t, 1, 0), (1 + t, 1 + t, 2), white)
    p.box(bpy, "left", (-1 - t, -1, 0), (-1, 1, 2), red)
    p.box(bpy, "right", (1, -1, 0), (1 + t, 1, 2), green)
    p.light(bpy, "AREA", (0.0, 0.0, 1.999), (0.0, 0.0, 0.0), power, (1.0, 0.85, 0.6),
            size=light_size)
    p.world_color(bpy, (0.0, 0.0, 0.0), 0.0)
    p.camera(bpy, (0.0, -3.9, 1.0), (0.0, 0.0, 1.0), lens=38.0)


def cornell(bpy: Any) -> None:
    _cornell_shell(bpy, 0.5, 60.0)
    white = bpy.data.materials["white"]
    tall = p.box(bpy, "tall", (-0.3, -0.3, 0.0), (0.3, 0.3, 1.2), white)
    tall.location, tall.rotation_euler[2] = (-0.35, 0.3, 0.6), math.radians(17)
    short = p.box(bpy, "short", (-0.3, -0.3, 0.0), (0.3, 0.3, 0.6), white)
    short.location, short.rotation_euler[2] = (0.35, -0.3, 0.3), math.radians(-18)


def caustics(bpy: Any) -> None:
    _cornell_shell(bpy, 0.25, 40.0)
    glass = p.principled(bpy, "glass", (1.0, 1.0, 1.0), 0.0, Transmission_Weight=1.0, IOR=1.5)
    mirror = p.principled(bpy, "mirror", (0.95, 0.93, 0.88), 0.03, Metallic=1.0)
    p.add(bpy, "primitive_uv_sphere_add", glass, (0.4, -0.25, 0.4), radius=0.4,
          segments=64, ring_count=32)
    p.add(bpy, "primitive_uv_sphere_add", mirror, (-0.4, 0.35, 0.4), radius=0.4,
          segments=64, ring_count=32)


def sky_exterior(bpy: Any) -> None:
    ground = p.principled(bpy, "gravel", roughness=0.9)
    p.photo(bpy, ground, p.skimage_photo(p.FIELD_PHOTOS[0]), scale=40.0, bump=0.3)
    p.box(bpy, "ground", (-60, -60, -0.1), (60, 60, 0.0), ground)
    rng = random.Random(1)
    stone = p.principled(bpy, "stone", (0.45, 0.42, 0.38), 0.8)
    p.texture(stone, "noise", 6.0, ((0.25, 0.23, 0.2), (0.55, 0.52, 0.47)), bump=0.4,
              Detail=6.0)
    for _i in range(7):
        x, y, r = rng.uniform(-3, 3), rng.uniform(-1, 5), rng.uniform(0.2, 0.6)
        rock = p.add(bpy, "primitive_ico_sphere_add", stone, (x, y, r * 0.5),
                     scale=(r, r * 0.8, r * 0.7), subdivisions=2, subdivide=1)
        rock.rotation_euler[2] = rng.uniform(0, 6.28)
    plaster = p.principled(bpy, "plaster", (0.8, 0.75, 0.65), 0.7)
    for x in (-1.5, 1.5):
        p.add(bpy, "primitive_cylinder_add", plaster, (x, 3.0, 1.5), radius=0.25, depth=3.0,
              vertices=48)
    p.box(bpy, "lintel", (-2.0, 2.6, 3.0), (2.0, 3.4, 3.4), plaster)
    p.world_sky(bpy, 28.0, 120.0, 0.04)
    p.camera(bpy, (1.2, -6.0, 1.4), (0.0, 2.0, 1.0), lens=30.0)


def window_room(bpy: Any) -> None:
    """A closed room whose only light is the sun and sky through one small window, set up
    as users light interiors: a sun lamp, the sky without its disc, a portal in the window
    (the sky's own sun disc through a small opening does not converge in 4096 samples)."""
    wall = p.principled(bpy, "wall", (0.75, 0.72, 0.68), 0.9)
    floor = p.principled(bpy, "floor", (0.4, 0.25, 0.12), 0.35)
    p.texture(floor, "wave", 3.0, ((0.25, 0.13, 0.06), (0.5, 0.32, 0.16)), Distortion=6.0,
              bands_direction="X")
    t, w, d, h = 0.15, 2.5, 3.0, 2.6
    p.box(bpy, "floor", (-w - t, -d - t, -t), (w + t, d + t, 0.0), floor)
    p.box(bpy, "ceiling", (-w - t, -d - t, h), (w + t, d + t, h + t), wall)
    p.box(bpy, "south", (-w - t, -d - t, 0), (w + t, -d, h), wall)
    p.box(bpy, "west", (-w - t, -d, 0), (-w, d, h), wall)
    p.box(bpy, "east", (w, -d, 0), (w + t, d, h), wall)
    # the north wall, around a 0.8 x 1.0 window
    x0, x1, z0, z1 = 0.2, 1.0, 0.9, 1.9
    for low, high in (((-w - t, d, 0), (x0, d + t, h)), ((x1, d, 0), (w + t, d + t, h)),
                      ((x0, d, 0), (x1, d + t, z0)), ((x0, d, z1), (x1, d + t, h))):
        p.box(bpy, "north", low, high, wall)
    sofa = p.principled(bpy, "fabric", (0.25, 0.3, 0.45), 0.95, Sheen_Weight=0.5)
    p.box(bpy, "sofa", (-2.3, -1.0, 0.0), (-1.5, 1.2, 0.45), sofa)
    p.box(bpy, "back", (-2.5, -1.0, 0.0), (-2.3, 1.2, 0.9), sofa)
    table = p.principled(bpy, "table", (0.6, 0.58, 0.55), 0.15)
    p.add(bpy, "primitive_cylinder_add", table, (0.0, 0.5, 0.4), radius=0.5, depth=0.05)
    p.add(bpy, "primitive_cylinder_add", table, (0.0, 0.5, 0.2), radius=0.05, depth=0.4)
    p.world_sky(bpy, 30.0, 10.0, 0.6, sun_disc=False)
    to_sun = (math.cos(math.radians(30)) * math.sin(math.radians(10)),
              math.cos(math.radians(30)) * math.cos(math.radians(10)), math.sin(math.radians(30)))
    p.light(bpy, "SUN", to_sun, (0.0, 0.0, 0.0), 4.0, (1.0, 0.93, 0.85),
            angle=math.radians(0.6))
    portal = p.light(bpy, "AREA", ((x0 + x1) / 2, d + t, (z0 + z1) / 2),
                     ((x0 + x1) / 2, 0.0, (z0 + z1) / 2), 0.0, shape="RECTANGLE",
                     size=x1 - x0, size_y=z1 - z0)
    portal.data.cycles.is_portal = True
    p.camera(bpy, (1.9, -2.7, 1.6), (-0.4, 1.0, 0.5), lens=18.0)


def textures(bpy: Any) -> None:
    """A grid of objects wearing fine procedural patterns, under a key light and a sky."""
    ground = p.principled(bpy, "ground", roughness=0.8)
    p.texture(ground, "checker", 40.0, ((0.05, 0.05, 0.05), (0.7, 0.7, 0.7)))
    p.box(bpy, "ground", (-8, -8, -0.05), (8, 8, 0.0), ground)
    kinds = (("noise", 40.0, {"Detail": 10.0}), ("voronoi", 30.0, {}),
             ("wave", 25.0, {"Distortion": 4.0}), ("magic", 12.0, {}), ("brick", 18.0, {}),
             ("checker", 30.0, {}), ("noise", 80.0, {"Detail": 4.0}), ("wave", 60.0, {}),
             ("voronoi", 70.0, {}))
    shapes = ("primitive_uv_sphere_add", "primitive_cube_add", "primitive_monkey_add")
    for i, (kind, scale, settings) in enumerate(kinds):
        hue = i / len(kinds)
        material = p.principled(bpy, f"pattern{i}", roughness=0.4 + 0.05 * i)
        light_color = tuple(0.2 + 0.6 * abs(math.sin(math.pi * (hue + k / 3))) for k in range(3))
        p.texture(material, kind, scale, ((0.03, 0.03, 0.03), light_color),
                  bump=0.2 if i % 2 else 0.0, **settings)
        x, y = (i % 3 - 1) * 1.3, (i // 3) * 1.3
        p.add(bpy, shapes[i % 3], material, (x, y, 0.5), scale=(0.5, 0.5, 0.5),
              smooth=i % 3 != 1, subdivide=1 if i % 3 == 2 else 0)
    p.light(bpy, "AREA", (-3.0, -3.0, 4.0), (0.0, 1.3, 0.0), 600.0, size=1.5)
    p.world_color(bpy, (0.6, 0.7, 0.9), 0.4)
    p.camera(bpy, (0.0, -4.2, 3.6), (0.0, 1.0, 0.3), lens=32.0)


def dof_bokeh(bpy: Any) -> None:
    """Shallow depth of field: a sharp subject, string lights far behind it as bokeh."""
    subject = p.principled(bpy, "ceramic", (0.7, 0.2, 0.15), 0.2, Coat_Weight=0.6)
    p.add(bpy, "primitive_monkey_add", subject, (0.0, 0.0, 0.14), (0.0, 0.0, 0.4),
          scale=(0.12, 0.12, 0.12), subdivide=2)
    table = p.principled(bpy, "table", (0.35, 0.22, 0.12), 0.3)
    p.texture(table, "wave", 4.0, ((0.2, 0.1, 0.05), (0.45, 0.28, 0.15)), Distortion=8.0)
    p.box(bpy, "table", (-4, -2, -0.05), (4, 8, 0.0), table)
    rng = random.Random(6)
    for i in range(40):
        color = (1.0, 0.6 + 0.3 * rng.random(), 0.3 + 0.4 * rng.random())
        glow = p.emission(bpy, f"bulb{i}", color, 15.0)
        x, z = -3.0 + 6.0 * i / 39, 1.2 + 0.4 * math.sin(i * 0.7) + rng.uniform(-0.1, 0.1)
        p.add(bpy, "primitive_uv_sphere_add", glow, (x, 6.0, z), radius=0.05,
              segments=12, ring_count=6)
    shelf = p.principled(bpy, "shelf", (0.5, 0.5, 0.55), 0.6)
    for i in range(5):
        p.box(bpy, f"book{i}", (-1.5 + 0.7 * i, 3.0, 0.0), (-1.1 + 0.7 * i, 3.3, 0.6 + 0.2 * i),
              shelf)
    p.light(bpy, "AREA", (-1.5, -1.5, 1.5), (0.0, 0.0, 0.15), 40.0, (1.0, 0.9, 0.8), size=0.8)
    p.world_color(bpy, (0.02, 0.025, 0.04), 1.0)
    p.camera(bpy, (0.3, -1.6, 0.35), (0.0, 0.0, 0.15), lens=70.0, fstop=1.4)


def neon(bpy: Any) -> None:
    """Neon tubes over a wet, dark glossy floor at night."""
    floor = p.principled(bpy, "wet", (0.05, 0.05, 0.06), 0.05)
    p.texture(floor, "noise", 3.0, ((0.02, 0.02, 0.02), (0.08, 0.08, 0.09)),
              socket="Base Color", Detail=8.0)
    p.box(bpy, "floor", (-10, -10, -0.05), (10, 10, 0.0), floor)
    brick = p.principled(bpy, "brick", (0.3, 0.3, 0.3), 0.9)
    p.texture(brick, "brick", 6.0, ((0.12, 0.05, 0.04), (0.3, 0.14, 0.1)), bump=0.3)
    p.box(bpy, "wall", (-10, 3.0, 0.0), (10, 3.3, 6.0), brick)
    for name, color, location, rotation, scale in (
            ("pink", (1.0, 0.1, 0.5), (-1.2, 2.9, 1.8), (math.pi / 2, 0, 0), (0.6, 0.6, 0.6)),
            ("cyan", (0.1, 0.8, 1.0), (1.3, 2.9, 2.2), (0, math.pi / 2, 0), (0.04, 0.04, 1.0)),
            ("amber", (1.0, 0.5, 0.05), (0.3, 2.9, 1.0), (0, math.pi / 2, 0), (0.03, 0.03, 0.8))):
        glow = p.emission(bpy, name, color, 40.0)
        op = "primitive_torus_add" if name == "pink" else "primitive_cylinder_add"
        extra = {"major_radius": 1.0, "minor_radius": 0.05} if name == "pink" else {}
        p.add(bpy, op, glow, location, rotation, scale, **extra)
    p.world_color(bpy, (0.01, 0.012, 0.02), 1.0)
    p.camera(bpy, (0.4, -4.0, 0.6), (0.0, 2.5, 1.3), lens=28.0)


def glossy_lights(bpy: Any) -> None:
    """A polished floor under coloured point, spot and area lights."""
    floor = p.principled(bpy, "marble", (0.8, 0.8, 0.8), 0.12)
    p.texture(floor, "noise", 2.0, ((0.55, 0.55, 0.55), (0.9, 0.88, 0.85)), Detail=12.0,
              Distortion=2.0)
    p.box(bpy, "floor", (-10, -10, -0.05), (10, 10, 0.0), floor)
    gold = p.principled(bpy, "gold", (1.0, 0.76, 0.33), 0.25, Metallic=1.0)
    plastic = p.principled(bpy, "plastic", (0.1, 0.2, 0.6), 0.3)
    p.add(bpy, "primitive_torus_add", gold, (-0.6, 0.5, 0.3), (0.3, 0, 0),
          major_radius=0.4, minor_radius=0.15)
    p.add(bpy, "primitive_cylinder_add", plastic, (0.7, 0.8, 0.5), radius=0.3, depth=1.0,
          vertices=64)
    p.add(bpy, "primitive_uv_sphere_add", plastic, (0.1, -0.3, 0.25), radius=0.25)
    p.light(bpy, "POINT", (-1.5, -0.5, 1.2), power=80.0, color=(1.0, 0.3, 0.2),
            shadow_soft_size=0.05)
    p.light(bpy, "SPOT", (1.8, -1.0, 2.5), (0.5, 0.5, 0.0), 400.0, (0.3, 0.5, 1.0),
            spot_size=0.6, spot_blend=0.2, shadow_soft_size=0.05)
    p.light(bpy, "AREA", (0.0, 2.5, 2.0), (0.0, 0.0, 0.0), 120.0, (0.5, 1.0, 0.4), size=0.6)
    p.world_color(bpy, (0.02, 0.02, 0.025), 1.0)
    p.camera(bpy, (0.3, -3.5, 1.4), (0.0, 0.4, 0.3), lens=35.0)


def _registry() -> dict[str, FieldScene]:
    from mcdenoise.render import field_advanced as a

    small, large, wide = (256, 256), (512, 512), (640, 360)
    return {
        "cornell": FieldScene(cornell, large, 4096, "diffuse Cornell box, ceiling light"),
        "caustics": FieldScene(caustics, small, 8192, "Cornell box, glass and mirror spheres"),
        "sky_exterior": FieldScene(sky_exterior, small, 4096, "sun and sky, gravel photo, "
                                                              "rocks, columns"),
        "window_room": FieldScene(window_room, large, 4096, "room lit through one small "
                                                            "window"),
        "textures": FieldScene(textures, small, 4096, "fine procedural patterns, bump"),
        "dof_bokeh": FieldScene(dof_bokeh, small, 4096, "f/1.4 depth of field, bokeh lights"),
        "neon": FieldScene(neon, small, 4096, "neon tubes over a wet floor"),
        "glossy_lights": FieldScene(glossy_lights, small, 4096, "polished floor, coloured "
                                                                "point, spot and area lights"),
        "hdri_exterior": FieldScene(a.hdri_exterior, large, 2048, "sunset HDRI, chrome, clay, "
                                                                  "coated paint"),
        "motion_blur": FieldScene(a.motion_blur, small, 4096, "spinning and rolling objects, "
                                                              "motion blur"),
        "hair": FieldScene(a.hair, (384, 384), 2048, "particle fur and long hair"),
        "volume_fog": FieldScene(a.volume_fog, small, 4096, "haze, spot beam, smoke"),
        "night_interior": FieldScene(a.night_interior, wide, 4096, "living room at night, "
                                                                    "small bright lamps"),
        "materials": FieldScene(a.materials, small, 4096, "subsurface, sheen, coat, "
                                                          "anisotropic, thin film; HDRI"),
    }


FIELD_SCENES: dict[str, FieldScene] = _registry()


def build_field_scene(bpy: Any, name: str) -> dict:
    """Replace the open file with field scene ``name``; describe it (JSON-serialisable)."""
    scene = FIELD_SCENES[name]
    p.new_scene(bpy)
    scene.build(bpy)
    return {"kind": "field", "name": name, "what": scene.what}
