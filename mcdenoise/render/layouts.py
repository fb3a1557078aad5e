"""The five kinds of procedural scene (interior, exterior, studio, clutter, emitters), each
laid out by a function of the scene's Builder."""

from __future__ import annotations

import colorsys
import math
from typing import Any

from mcdenoise.render.builder import SHAPES, TEXTURES, Builder


def _on_ground(b: Builder, shape: str, x: float, y: float, size: float, material: Any,
               stretch: float = 1.0, z: float = 0.0) -> Any:
    """A primitive of half-size ``size`` standing on the plane at height ``z``."""
    rest = SHAPES[shape][2]
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


def _openings(b: Builder, span: float, height: float, count: int, door: bool) -> list:
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


def _room_shell(b: Builder, half: tuple[float, float], height: float, openings: dict) -> None:
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


def _free_spot(b: Builder, half, margin: float, avoid: list, spacing: float):
    """A random floor point ``margin`` inside the walls and ``spacing`` from those in
    ``avoid`` (None if the room is too full)."""
    for _ in range(40):
        x = b.rng.uniform(-half[0] + margin, half[0] - margin)
        y = b.rng.uniform(-half[1] + margin, half[1] - margin)
        if all(math.hypot(x - ax, y - ay) > spacing + r for ax, ay, r in avoid):
            return x, y
    return None


def _furnish(b: Builder, half, height: float, camera_xy, walls_free: list) -> None:
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
            _on_ground(b, rng.choice(tuple(SHAPES)), spot[0] + rng.uniform(-sx, sx) * 0.7,
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
            _on_ground(b, rng.choice(tuple(SHAPES)), *spot, size, b.random_material(),
                       stretch=rng.uniform(0.7, 1.6))


def _build_interior(b: Builder) -> None:
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


def _sun_direction(b: Builder, elevation=(12.0, 70.0)) -> tuple[float, float, float]:
    """Unit vector towards the sun."""
    return _spherical(1.0, math.radians(b.rng.uniform(*elevation)),
                      b.rng.uniform(0.0, 2 * math.pi))


def _tree(b: Builder, x: float, y: float) -> None:
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


def _build_exterior(b: Builder) -> None:
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
        _on_ground(b, rng.choice(tuple(SHAPES)), r * math.cos(a), r * math.sin(a),
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


def _cyclorama(b: Builder, material: Any, width: float, start: float, radius: float,
               height: float) -> None:
    """A seamless backdrop: floor up to y = ``start``, a quarter circle, then a wall."""
    profile = [(-20.0, 0.0), (start, 0.0)]
    profile += [(start + radius * math.sin(a), radius * (1.0 - math.cos(a)))
                for a in (math.pi / 2 * i / 10 for i in range(1, 11))]
    profile.append((start + radius, height))
    verts = [(x, y, z) for y, z in profile for x in (-width / 2, width / 2)]
    faces = [(2 * i, 2 * i + 1, 2 * i + 3, 2 * i + 2) for i in range(len(profile) - 1)]
    b.from_pydata("cyclorama", verts, faces, material).data.shade_smooth()


def _studio_heroes(b: Builder) -> tuple[float, float]:
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
        _on_ground(b, rng.choice(tuple(SHAPES)), x, rng.uniform(-0.3, 0.3), size,
                   b.random_material(0.5, weights=(3, 3, 3, 2)), z=base)
        top = max(top, base + 2 * size)
    return (heroes - 1) * spacing + 1.2, top


def _build_studio(b: Builder) -> None:
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


def _build_clutter(b: Builder) -> None:
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
    shapes = tuple(SHAPES)
    for _ in range(rng.randint(25, 60)):
        shape = rng.choices(shapes, (3, 3, 2, 3, 2, 2, 1))[0]
        obj = b.mesh(shape, rng.choice(palette), (0.0, 0.0, 0.0), modifiers=rng.random() < 0.3)
        size = rng.uniform(0.04, 0.14)
        stretch = rng.uniform(0.5, 2.0) if shape in ("cube", "cylinder") else 1.0
        obj.scale = (size, size * rng.uniform(0.6, 1.4), size * stretch)
        obj.location = (rng.uniform(-side, side), rng.uniform(-side, side),
                        SHAPES[shape][2] * size * stretch)
        obj.rotation_euler = (rng.gauss(0.0, 0.1), rng.gauss(0.0, 0.1),
                              rng.uniform(0.0, 2 * math.pi))
    _light_small_set(b, (0.0, 0.0, 0.0))
    distance = rng.uniform(2.2, 3.8)
    view = rng.uniform(-math.pi, 0.0) if rng.random() < 0.8 else rng.uniform(0.0, math.pi)
    camera = _spherical(distance, math.radians(rng.uniform(25.0, 70.0)), view)
    b.camera(camera, (rng.uniform(-0.3, 0.3), rng.uniform(-0.3, 0.3), 0.05),
             rng.uniform(30.0, 55.0), dof=0.5, fstop=(1.4, 4.0))


def _light_small_set(b: Builder, center) -> None:
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


def _emitter(b: Builder, spread: float) -> None:
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


def _build_emitters(b: Builder) -> None:
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
        _on_ground(b, rng.choice(tuple(SHAPES)), rng.uniform(-spread, spread),
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


BUILDERS = {"interior": _build_interior, "exterior": _build_exterior, "studio": _build_studio,
            "clutter": _build_clutter, "emitters": _build_emitters}
