"""Noise2Noise training sets rendered by Cycles: procedural scenes or the user's .blend files.

Layout (shared/DESIGN.md): ``OUT/<scene>/<scene>_<spp:04d>spp_s<seed:03d>.exr`` per noisy
render, ``OUT/<scene>/<scene>_ref.exr`` for an optional reference, ``OUT/manifest.json``.
Long references render in chunks (``OUT/<scene>/ref-chunks/``, each its own seed) that are
averaged into the reference: a killed run loses one chunk at most, a later run with a
higher ``--reference-spp`` adds chunks, and the spread between chunks measures how noisy
the reference itself still is.
Each job (one scene, or one frame of a .blend) runs in a worker process that imports bpy;
finished files are skipped, so a killed run resumes. Cycles seeds are derived from the
scene and the render number, with a separate domain for references, so no two renders
share a seed and a rerun renders the same images.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import multiprocessing
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mcdenoise import McdenoiseError, __version__
from mcdenoise.atomic import remove_stale_temporaries, replacing, write_text_atomic


@dataclass
class RenderJob:
    """One scene (procedural index or .blend frame) and every render it needs."""

    scene: str
    out: str
    spp: list[int]
    seeds: int
    width: int
    height: int
    reference_spp: int = 0
    scene_seed: int = 0
    index: int = 0  # procedural scene index
    generator: int = 1  # procedural generator (render/procedural.py)
    blend: str | None = None  # a user's .blend file, or None for procedural
    field_scene: str | None = None  # a field benchmark scene (render/field.py)
    reference_chunk: int = 0  # render the reference in chunks of this spp (0: in one go)
    frame: int = 0
    camera_jitter: float = 0.0
    threads: int = 0
    device: str = "cpu"
    half: bool = True
    shot_frames: int = 0  # a moving shot of a field scene (render/moving.py): its frames
    outputs: list[str] = field(default_factory=list)


def cycles_seed(*parts: Any) -> int:
    """A 31-bit seed from a tuple; 'ref' in the tuple keeps references apart from inputs."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def render_plan(job: RenderJob) -> list[tuple[Path, int, int]]:
    """(file, spp, Cycles seed) for every render of a job, references (or their chunks)
    last."""
    folder = Path(job.out) / job.scene
    plan = [(folder / f"{job.scene}_{spp:04d}spp_s{seed:03d}.exr", spp,
             cycles_seed(job.scene_seed, job.scene, spp, seed))
            for spp in job.spp for seed in range(job.seeds)]
    if job.reference_spp and job.reference_chunk and job.reference_spp > job.reference_chunk:
        chunks = -(-job.reference_spp // job.reference_chunk)
        plan += [(folder / "ref-chunks" / f"{job.scene}_ref{k:03d}_{job.reference_chunk}spp.exr",
                  job.reference_chunk, cycles_seed(job.scene_seed, job.scene, "ref", k))
                 for k in range(chunks)]
    elif job.reference_spp:
        plan.append((folder / f"{job.scene}_ref.exr", job.reference_spp,
                     cycles_seed(job.scene_seed, job.scene, "ref")))
    return plan


def assemble_reference(chunks: list[Path], path: Path) -> dict[str, Any]:
    """Average chunk renders (equal spp, own seeds) channel by channel into ``path`` (float),
    and estimate the result's own noise: the tonemapped PSNR between the mean of the even
    and of the odd chunks, corrected for their counts (MSE(ref) = E|A - B|^2 / (n (1/a +
    1/b)) for n chunks split a + b)."""
    import numpy as np
    import torch

    from mcdenoise.exr import read_exr, write_exr
    from mcdenoise.frame import load_frame
    from mcdenoise.metrics import psnr_tonemapped

    images = [read_exr(c) for c in chunks]
    out = images[0]
    for index, part in enumerate(out.parts):
        for name, channel in part.channels.items():
            if channel.pixels.dtype.kind == "f":
                stack = [img.parts[index].channels[name].pixels.astype(np.float64)
                         for img in images]
                channel.pixels = np.mean(stack, axis=0).astype(np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_exr(path, out, pixel_type="float")
    info: dict[str, Any] = {"chunks": len(chunks)}
    if len(chunks) >= 2:
        colors = [load_frame(c).color.astype(np.float64) for c in chunks]
        even, odd = np.mean(colors[0::2], axis=0), np.mean(colors[1::2], axis=0)
        a, b = (torch.from_numpy(x.astype(np.float32)).permute(2, 0, 1) for x in (even, odd))
        split = len(colors[0::2]), len(colors[1::2])
        correction = 10 * math.log10(len(chunks) * (1 / split[0] + 1 / split[1]))
        info["noise_psnr"] = round(psnr_tonemapped(a, b).item() + correction, 2)
    return info


def require_bpy() -> None:
    """Fail early, in the calling process, when Blender's Python module is absent."""
    if importlib.util.find_spec("bpy") is None:
        here = f"{sys.version_info.major}.{sys.version_info.minor}"
        raise McdenoiseError(f"rendering needs Blender's bpy module: pip install "
                             f"'mcdenoise[blender]' (bpy is built for Python 3.11; this is "
                             f"Python {here})")


def _jitter_camera(scene: Any, job: RenderJob) -> None:
    """Move the camera a little, the same way for every seed of this frame."""
    import random

    rng = random.Random(cycles_seed("jitter", job.scene))
    camera = scene.camera
    for axis in range(3):
        camera.location[axis] += rng.uniform(-1, 1) * job.camera_jitter
        camera.rotation_euler[axis] += rng.uniform(-1, 1) * job.camera_jitter * 0.05


def _prepare_scene(bpy: Any, job: RenderJob) -> tuple[Any, dict[str, Any]]:
    from mcdenoise.render.cycles import configure_cycles, set_multilayer_exr, use_gpu

    if job.field_scene is not None:
        from mcdenoise.render.field import build_field_scene

        description = build_field_scene(bpy, job.field_scene)
        scene = bpy.context.scene
    elif job.blend is None:
        from mcdenoise.render.procedural import build_scene

        description = build_scene(bpy, job.index, job.scene_seed, job.generator)
        scene = bpy.context.scene
    else:
        bpy.ops.wm.open_mainfile(filepath=job.blend)
        scene = bpy.context.scene
        if scene.camera is None:
            raise McdenoiseError(f"{job.blend}: the scene has no camera")
        scene.frame_set(job.frame)
        if job.camera_jitter:
            _jitter_camera(scene, job)
        description = {"kind": "blend", "blend": job.blend, "frame": job.frame}
    width = job.width or scene.render.resolution_x * scene.render.resolution_percentage // 100
    height = job.height or scene.render.resolution_y * scene.render.resolution_percentage // 100
    configure_cycles(scene, spp=1, seed=0, width=width, height=height, threads=job.threads)
    if job.device in ("gpu", "auto"):
        backend = use_gpu(bpy, scene)
        if backend is None and job.device == "gpu":
            raise McdenoiseError("--device gpu: Blender sees no GPU")
        description["device"] = backend or "CPU"
    set_multilayer_exr(scene, half=job.half)
    return scene, description


def _chunk_files(folder: Path, job: RenderJob) -> list[Path]:
    """Every reference chunk on disk at the job's chunk size, planned now or before."""
    pattern = f"{job.scene}_ref[0-9][0-9][0-9]_{job.reference_chunk}spp.exr"
    return sorted((folder / "ref-chunks").glob(pattern))


def render_job(job: RenderJob) -> dict[str, Any]:
    """Render what is missing of one job (in a worker process); returns its manifest entry.
    A chunked reference is (re)assembled from every chunk on disk whenever their number
    changed, so a later run with a lower ``reference_spp`` never makes it noisier."""
    from mcdenoise.render.cycles import import_bpy, render_still

    if job.shot_frames:
        from mcdenoise.render.moving import render_shot, render_training_shot

        return render_shot(job) if job.field_scene else render_training_shot(job)
    folder = Path(job.out) / job.scene
    record = folder / f"{job.scene}.json"
    plan = render_plan(job)
    previous = json.loads(record.read_text()) if record.exists() else None
    missing = [item for item in plan if not item[0].exists()]
    if missing or previous is None:
        bpy = import_bpy()
        scene, description = _prepare_scene(bpy, job)
        for path, spp, seed in missing:
            scene.cycles.samples, scene.cycles.seed = spp, seed
            path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(path)
            with replacing(path) as temporary:  # a killed render leaves nothing under its name
                render_still(scene, temporary)
        entry = {"scene": job.scene, **description, "width": scene.render.resolution_x,
                 "height": scene.render.resolution_y}
    else:
        entry = {k: v for k, v in previous.items() if k not in ("renders", "reference")}
    chunks = _chunk_files(folder, job) if job.reference_chunk else []
    entry["renders"] = [{"file": str(path.relative_to(folder)), "spp": spp, "cycles_seed": seed,
                         "reference": path.name.endswith("_ref.exr") or path.parent.name
                         == "ref-chunks"} for path, spp, seed in plan]
    if len(chunks) >= 2:
        reference = folder / f"{job.scene}_ref.exr"
        known = (previous or {}).get("reference", {})
        if known.get("chunks") == len(chunks) and reference.exists():
            entry["reference"] = known
        else:
            entry["reference"] = {"file": reference.name,
                                  "spp": len(chunks) * job.reference_chunk,
                                  **assemble_reference(chunks, reference)}
    if entry != previous:
        write_text_atomic(record, json.dumps(entry, indent=1))
    return entry


def _worker(job_dict: dict[str, Any]) -> dict[str, Any]:
    try:
        return render_job(RenderJob(**job_dict))
    except McdenoiseError as exc:
        return {"scene": job_dict["scene"], "error": str(exc)}


def run_jobs(jobs: list[RenderJob], out: Path, settings: dict[str, Any], workers: int = 1,
             progress: bool = True) -> dict[str, Any]:
    """Render every job in ``workers`` processes and write ``out/manifest.json``."""
    from tqdm import tqdm

    require_bpy()
    out.mkdir(parents=True, exist_ok=True)
    threads = max(1, (os.cpu_count() or 1) // max(workers, 1))
    payloads = [asdict(job) | {"threads": job.threads or threads} for job in jobs]
    context = multiprocessing.get_context("spawn")  # bpy must not be forked mid-state
    entries, errors = [], []
    with context.Pool(max(workers, 1), maxtasksperchild=16) as pool:
        results = pool.imap_unordered(_worker, payloads)
        for entry in tqdm(results, total=len(jobs), unit="scene", disable=not progress):
            (errors if "error" in entry else entries).append(entry)
    manifest = _write_manifest(out, settings, entries)
    if errors:
        raise McdenoiseError(f"{len(errors)} scene(s) failed; first: {errors[0]['error']}")
    return manifest


def _write_manifest(out: Path, settings: dict[str, Any], entries: list[dict]) -> dict[str, Any]:
    path = out / "manifest.json"
    previous = json.loads(path.read_text()) if path.exists() else {}
    scenes = {**previous.get("scenes", {}), **{e["scene"]: e for e in entries}}
    manifest = {"mcdenoise": __version__, "blender": _blender_version(), "settings": settings,
                "scenes": dict(sorted(scenes.items()))}
    write_text_atomic(path, json.dumps(manifest, indent=1))
    return manifest


def _blender_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("bpy")
    except Exception:  # not installed as a distribution
        return None
