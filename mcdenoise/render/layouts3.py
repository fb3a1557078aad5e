"""Generator 3's two layouts: light that the first two generators rarely make.

``box``: a closed or open-fronted box of flat diffuse walls (often two saturated side walls),
lit by one small source (a ceiling lamp, a glowing panel, a small sphere light, or the sun
through a skylight or a small window), so that most of the frame is lit indirectly and the
noise left is smooth and low in frequency, on walls with no texture to hide it.

``caustics``: glass, water and mirrors over a pale floor, lit by a small hard light (spot,
small point or sun) under a dim world, so that light focused through and off them makes
caustics and sharp shadows on flat surfaces.
"""

from __future__ import annotations

import math
from typing import Any

from mcdenoise.render.builder import SHAPES, TEXTURES, Builder
from mcdenoise.render.layouts import _on_ground, _spherical

KINDS = ("box", "caustics")
_OBJECT_SHAPES = ("cube", "uv_sphere", "cylinder", "monkey", "torus", "ico_sphere", "cone")


def _polish(material: Any, roughness: float) -> Any:
    material.node_tree.nodes["Principled BSDF"].inputs["Roughness"].default_value = roughness
    return material


def _object_material(b: Builder, weights=(5, 2, 2, 2)) -> Any:
    """Diffuse (pale or saturated), glass, mirror or glossy, mostly untextured."""
    rng = b.rng
    style = rng.choices(("diffuse", "glass", "mirror", "glossy"), weights)[0]
    if style == "glass":
        return b.material("glass", b.color((0.0, 0.5), (0.8, 1.0)))
    if style == "mirror":
        return _polish(b.material("metal", b.color((0.0, 0.5), (0.7, 1.0))),
                       rng.uniform(0.0, 0.1))
    texture = rng.choice(TEXTURES) if rng.random() < 0.2 else None
    return b.material(style, b.color((0.0, 0.9), (0.3, 0.9)), texture, rng.uniform(1.0, 6.0))


def _hole(low, high, axes: tuple[int, int], hole) -> list:
    """The slab from ``low`` to ``high`` less the rectangle ``hole`` = (u0, u1, v0, v1) on its
    two in-plane ``axes``, as up to four boxes."""
    (a, c), (u0, u1, v0, v1) = axes, hole
    pieces = [(low[a], u0, low[c], high[c]), (u1, high[a], low[c], high[c]),
              (u0, u1, low[c], v0), (u0, u1, v1, high[c])]
    found = []
    for p0, p1, q0, q1 in pieces:
        if p1 - p0 > 1e-4 and q1 - q0 > 1e-4:
            lo, hi = list(low), list(high)
            lo[a], hi[a], lo[c], hi[c] = p0, p1, q0, q1
            found.append((tuple(lo), tuple(hi)))
    return found


def _build_box(b: Builder) -> None:
    """A Cornell-style box: five or six flat walls, a few objects, one small light."""
    rng, t = b.rng, 0.05
    size = rng.uniform(1.5, 3.0)
    hx, hy, h = (size * rng.uniform(0.4, 0.65), size * rng.uniform(0.4, 0.65),
                 size * rng.uniform(0.8, 1.2))
    closed = rng.random() < 0.35  # a sixth wall behind the camera, which stands inside
    if rng.random() < 0.55:  # two saturated side walls, the rest pale
        sides = [b.color((0.6, 1.0), (0.45, 0.85)) for _ in range(2)]
        pale = [b.color((0.0, 0.12), (0.6, 0.9)) for _ in range(4)]
        colors = {"left": sides[0], "right": sides[1], "floor": pale[0], "ceiling": pale[1],
                  "back": pale[2], "front": pale[3]}
    else:
        colors = {name: b.color((0.0, 0.8), (0.35, 0.9))
                  for name in ("left", "right", "floor", "ceiling", "back", "front")}
    light = rng.choices(("area", "panel", "sphere", "skylight", "window"), (3, 2, 2, 2, 2))[0]
    slabs = {"floor": [((-hx - t, -hy - t, -t), (hx + t, hy + t, 0.0))],
             "ceiling": [((-hx - t, -hy - t, h), (hx + t, hy + t, h + t))],
             "left": [((-hx - t, -hy - t, 0.0), (-hx, hy + t, h))],
             "right": [((hx, -hy - t, 0.0), (hx + t, hy + t, h))],
             "back": [((-hx, hy, 0.0), (hx, hy + t, h))]}
    if closed:
        slabs["front"] = [((-hx, -hy - t, 0.0), (hx, -hy, h))]
    to_sun = None
    if light == "skylight":
        w, d = hx * rng.uniform(0.15, 0.5), hy * rng.uniform(0.15, 0.5)
        cx, cy = rng.uniform(-hx + w, hx - w), rng.uniform(-hy + d, hy - d)
        slabs["ceiling"] = _hole(*slabs["ceiling"][0], (0, 1), (cx - w, cx + w, cy - d, cy + d))
        azimuth = rng.uniform(0.0, 2 * math.pi)
        to_sun = _spherical(1.0, math.radians(rng.uniform(55.0, 85.0)), azimuth)
    elif light == "window":
        side = rng.choice(("left", "right"))
        w, z0 = hy * rng.uniform(0.15, 0.5), h * rng.uniform(0.3, 0.6)
        z1 = min(h - 0.1, z0 + h * rng.uniform(0.15, 0.35))
        cy = rng.uniform(-hy + w, hy - w)
        slabs[side] = _hole(*slabs[side][0], (1, 2), (cy - w, cy + w, z0, z1))
        outward = 1.0 if side == "right" else -1.0
        elevation, turn = math.radians(rng.uniform(15.0, 50.0)), rng.uniform(-0.6, 0.6)
        to_sun = (outward * math.cos(elevation) * math.cos(turn),
                  math.cos(elevation) * math.sin(turn), math.sin(elevation))
    for name, boxes in slabs.items():
        glossy = name == "floor" and rng.random() < 0.15
        textured = rng.random() < {"floor": 0.25, "back": 0.15}.get(name, 0.03)
        material = b.material("glossy" if glossy else "diffuse", colors[name],
                              rng.choice(TEXTURES) if textured else None, rng.uniform(1.0, 4.0))
        b.boxes(name, boxes, material)
    # one to four objects on the floor, clear of each other
    placed: list[tuple[float, float, float]] = []
    for _ in range(rng.randint(1, 4)):
        shape = rng.choice(_OBJECT_SHAPES)
        radius = min(hx, hy) * rng.uniform(0.15, 0.35)
        for _ in range(20):
            x = rng.uniform(-hx + radius, hx - radius)
            y = rng.uniform(-hy + radius, hy * 0.8 - radius)
            if all(math.hypot(x - px, y - py) > radius + pr for px, py, pr in placed):
                placed.append((x, y, radius))
                stretch = rng.uniform(1.0, 2.5) if shape in ("cube", "cylinder") else 1.0
                _on_ground(b, shape, x, y, radius / 1.4, _object_material(b), stretch)
                break
    # the light: an irradiance of E on the floor below it
    irradiance = rng.uniform(3.0, 8.0)
    tint = b.color((0.0, 0.25), (1.0, 1.0))
    if light == "area":
        b.light("AREA", (rng.uniform(-0.3, 0.3) * hx, rng.uniform(-0.3, 0.3) * hy, h - 0.01),
                (0.0, 0.0, 0.0), irradiance * math.pi * h * h, tint,
                size=min(hx, hy) * rng.uniform(0.2, 0.7))
    elif light == "panel":
        w = min(hx, hy) * rng.uniform(0.15, 0.4)
        strength = irradiance * h * h / (4 * w * w)
        panel = b.material("emissive", tint, emission=strength)
        b.boxes("panel", [((-w, -w, h - 0.02), (w, w, h - 0.005))], panel)
        b.lights.append("EMISSION")
    elif light == "sphere":  # hung lower than the ceiling lamps: 0.7 of their power
        b.light("POINT", (rng.uniform(-0.4, 0.4) * hx, rng.uniform(-0.4, 0.4) * hy,
                          h * rng.uniform(0.75, 0.9)),
                (0.0, 0.0, 0.0), irradiance * 4 * math.pi * h * h * 0.7, tint,
                shadow_soft_size=rng.uniform(0.02, 0.2) * size)
    else:
        exposure = rng.uniform(2.0, 5.0)
        b.sky(to_sun, exposure)
        b.sun(to_sun, rng.uniform(3.0, 6.0) * exposure)
    if to_sun is None:
        b.world(b.color((0.0, 0.3), (0.5, 1.0)), rng.uniform(0.0, 0.05))
    b.info["box"] = {"light": light, "closed": closed}
    target = (rng.uniform(-0.15, 0.15) * hx, rng.uniform(-0.2, 0.3) * hy,
              h * rng.uniform(0.3, 0.55))
    if closed:
        camera = (rng.uniform(-0.4, 0.4) * hx, -hy + rng.uniform(0.1, 0.3),
                  h * rng.uniform(0.35, 0.7))
        lens = rng.uniform(14.0, 22.0)
    else:  # outside the open front, framing the box's width
        lens = rng.uniform(28.0, 60.0)
        distance = 2 * hx * rng.uniform(0.8, 1.2) * lens / 36.0
        camera = (rng.uniform(-0.3, 0.3) * hx, -hy - distance, h * rng.uniform(0.35, 0.65))
    b.camera(camera, target, lens, dof=0.15, fstop=(2.0, 5.6))


def _water(b: Builder, half: float) -> None:
    """A rippled water surface a little above the floor."""
    rng = b.rng
    water = _polish(b.material("glass", b.color((0.0, 0.3), (0.85, 1.0))), 0.0)
    water.node_tree.nodes["Principled BSDF"].inputs["IOR"].default_value = 1.33
    depth = rng.uniform(0.05, 0.1)
    obj = b.mesh("cube", water, (0.0, 0.0, depth), (half, half, depth), modifiers=False)
    subsurf = obj.modifiers.new("subdivision", "SUBSURF")
    subsurf.subdivision_type = "SIMPLE"
    subsurf.levels = subsurf.render_levels = 6
    texture = b.bpy.data.textures.new("ripples", rng.choice(("CLOUDS", "VORONOI")))
    texture.noise_scale = rng.uniform(0.15, 0.5)
    displace = obj.modifiers.new("displace", "DISPLACE")
    displace.texture, displace.strength = texture, rng.uniform(0.01, 0.05)
    displace.direction = "Z"
    obj.data.shade_smooth()


def _build_caustics(b: Builder) -> None:
    """Glass, water and mirrors on a pale floor under one small hard light."""
    rng = b.rng
    floor = b.material("diffuse", b.color((0.0, 0.3), (0.55, 0.9)),
                       rng.choice(TEXTURES) if rng.random() < 0.3 else None,
                       rng.uniform(1.0, 4.0))
    b.boxes("floor", [((-8.0, -8.0, -0.05), (8.0, 8.0, 0.0))], floor)
    backdrop = rng.random() < 0.5
    if backdrop:
        wall = b.material("diffuse", b.color((0.0, 0.6), (0.4, 0.9)))
        b.boxes("wall", [((-8.0, rng.uniform(1.2, 2.5), 0.0), (8.0, 3.0, 4.0))], wall)
    spread = rng.uniform(0.6, 1.2)
    water = rng.random() < 0.2
    if water:  # (no glass standing in it: overlapping glass volumes refract wrongly)
        _water(b, spread * 1.5)
    for _ in range(rng.randint(2, 6)):
        shape = rng.choices(_OBJECT_SHAPES, (2, 4, 3, 1, 2, 2, 1))[0]
        stretch = rng.uniform(1.0, 2.5) if shape == "cylinder" else 1.0
        _on_ground(b, shape, rng.uniform(-spread, spread), rng.uniform(-spread, spread),
                   rng.uniform(0.12, 0.35), _object_material(b, (3, 0, 3, 1) if water
                                                               else (2, 5, 3, 1)), stretch)
    # the light, small and hard, from 25-70 degrees up
    elevation = math.radians(rng.uniform(25.0, 70.0))
    azimuth = rng.uniform(0.0, 2 * math.pi)
    tint = b.color((0.0, 0.3), (1.0, 1.0))
    irradiance = rng.uniform(3.0, 10.0)
    kind = rng.choice(("SPOT", "POINT", "SUN"))
    if kind == "SUN":
        b.sun(_spherical(1.0, elevation, azimuth), irradiance)
    else:
        distance = rng.uniform(2.0, 4.0)
        where = _spherical(distance, elevation, azimuth)
        settings = {"shadow_soft_size": rng.uniform(0.0, 0.08)}
        if kind == "SPOT":
            settings.update(spot_size=rng.uniform(0.6, 1.5), spot_blend=rng.uniform(0.05, 0.4))
        b.light(kind, where, (0.0, 0.0, 0.0), irradiance * 4 * math.pi * distance ** 2, tint,
                **settings)
    b.world(b.color((0.0, 0.4), (0.5, 1.0)), rng.uniform(0.01, 0.15))
    b.info["caustics"] = {"light": kind, "water": water}
    if backdrop:  # in front of the wall
        view = -math.pi / 2 + rng.uniform(-1.2, 1.2)
    else:  # facing the light or not
        view = azimuth + math.pi + rng.uniform(-1.8, 1.8)
    distance = spread * rng.uniform(3.0, 5.0) + 0.5
    camera = _spherical(distance, math.radians(rng.uniform(15.0, 60.0)), view)
    b.camera(camera, (rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2), 0.1),
             rng.uniform(30.0, 60.0), dof=0.2, fstop=(2.0, 5.6))


BUILDERS3 = {"box": _build_box, "caustics": _build_caustics}
assert set(BUILDERS3) == set(KINDS) and set(_OBJECT_SHAPES) <= set(SHAPES)
