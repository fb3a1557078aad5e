"""Varied, deterministic procedural Cycles scenes of five kinds, for Noise2Noise training data.

Generator 1 is the five layouts alone (the data of the models shipped so far); generator 2
lays out other scenes from another random stream and adds ``ingredients.py``: HDRI light,
photographs, layered materials, fog, hair, motion blur, small lamps, windows without portals.
Generator 3 lays out two other kinds (``layouts3.py``): boxes of flat walls lit indirectly by
one small source, and caustics from glass, water and mirrors under a small hard light.
"""

from __future__ import annotations

import random
from typing import Any

from mcdenoise.render.builder import Builder
from mcdenoise.render.layouts import BUILDERS
from mcdenoise.render.layouts3 import BUILDERS3
from mcdenoise.render.layouts3 import KINDS as KINDS3

SCENE_KINDS = ("interior", "exterior", "studio", "clutter", "emitters")


def _rng(scene_seed: int, index: int, salt: str) -> random.Random:
    # A string seed is hashed with SHA-512: stable across runs, unlike hash() of a tuple.
    return random.Random(f"mcdenoise.procedural:{salt}:{scene_seed}:{index}")


def kinds(generator: int = 1) -> tuple[str, ...]:
    """The kinds of scene a generator lays out."""
    return KINDS3 if generator == 3 else SCENE_KINDS


def scene_kind(index: int, scene_seed: int = 0, generator: int = 1) -> str:
    """Kind of scene ``index``: every block of consecutive indices as long as the generator's
    kinds (0-4, 5-9, ... for five) holds each kind once, in an order shuffled per block."""
    found = kinds(generator)
    block, slot = divmod(index, len(found))
    order = list(found)
    salt = "kinds" if generator < 3 else f"kinds{generator}"
    _rng(scene_seed, block, salt).shuffle(order)
    return order[slot]


GENERATORS = (1, 2, 3)


def scene_name(index: int, scene_seed: int = 0, generator: int = 1) -> str:
    """The folder name of a procedural scene (generator 1 keeps its original names)."""
    prefix = "proc" if generator == 1 else f"gen{generator}-"
    return f"{prefix}{scene_seed}-{index:05d}"


def build_scene(bpy: Any, index: int, scene_seed: int = 0, generator: int = 1) -> dict:
    """Replace the open file with scene ``index`` of the generator seeded by ``scene_seed``,
    set its camera, and describe it (JSON-serialisable). Equal arguments give the same scene.
    Render settings (engine, resolution, samples, output) are left to the caller."""
    from mcdenoise.render.ingredients import apply_ingredients

    bpy.ops.wm.read_factory_settings(use_empty=True)
    kind = scene_kind(index, scene_seed, generator)
    salt = "scene" if generator == 1 else f"scene{generator}"
    builder = Builder(bpy, _rng(scene_seed, index, salt))
    {**BUILDERS, **BUILDERS3}[kind](builder)
    if generator == 2:
        apply_ingredients(bpy, _rng(scene_seed, index, f"ingredients{generator}"), kind,
                          builder.info)
    meshes = [obj for obj in builder.scene.objects if obj.type == "MESH"]
    return {"kind": kind, "index": index, "scene_seed": scene_seed, "generator": generator,
            "objects": len(meshes),
            "lights": builder.lights, "materials": builder.materials,
            "textures": builder.textures, "dof": builder.info.pop("dof", False),
            **builder.info}
