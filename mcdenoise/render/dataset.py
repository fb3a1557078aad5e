"""Noise2Noise training sets rendered by Cycles: procedural scenes or the user's .blend files.

Layout (shared/DESIGN.md): ``OUT/<scene>/<scene>_<spp:04d>spp_s<seed:03d>.exr`` per noisy
render, ``OUT/<scene>/<scene>_ref.exr`` for an optional reference, ``OUT/manifest.json``.
Each job (one scene, or one frame of a .blend) runs in a worker process that imports bpy;
finished files are skipped, so a killed run resumes. Cycles seeds are derived from the
scene and the render number, with a separate domain for references, so no two renders
share a seed and a rerun renders the same images.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import multiprocessing
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mcdenoise import McdenoiseError, __version__


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
    blend: str | None = None  # a user's .blend file, or None for procedural
    frame: int = 0
    camera_jitter: float = 0.0
    threads: int = 0
    device: str = "cpu"
    half: bool = True
    outputs: list[str] = field(default_factory=list)


def cycles_seed(*parts: Any) -> int:
    """A 31-bit seed from a tuple; 'ref' in the tuple keeps references apart from inputs."""
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


def render_plan(job: RenderJob) -> list[tuple[Path, int, int]]:
    """(file, spp, Cycles seed) for every render of a job, references last."""
    folder = Path(job.out) / job.scene
    plan = [(folder / f"{job.scene}_{spp:04d}spp_s{seed:03d}.exr", spp,
             cycles_seed(job.scene_seed, job.scene, spp, seed))
            for spp in job.spp for seed in range(job.seeds)]
    if job.reference_spp:
        plan.append((folder / f"{job.scene}_ref.exr", job.reference_spp,
                     cycles_seed(job.scene_seed, job.scene, "ref")))
    return plan


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

    if job.blend is None:
        from mcdenoise.render.procedural import build_scene

        description = build_scene(bpy, job.index, job.scene_seed)
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


def render_job(job: RenderJob) -> dict[str, Any]:
    """Render what is missing of one job (in a worker process); returns its manifest entry."""
    from mcdenoise.render.cycles import import_bpy, render_still

    folder = Path(job.out) / job.scene
    record = folder / f"{job.scene}.json"
    plan = render_plan(job)
    if record.exists() and all(path.exists() for path, _, _ in plan):
        return json.loads(record.read_text())
    bpy = import_bpy()
    scene, description = _prepare_scene(bpy, job)
    renders = []
    for path, spp, seed in plan:
        if not path.exists():
            scene.cycles.samples, scene.cycles.seed = spp, seed
            temporary = path.with_name(f".{path.stem}.tmp.exr")
            render_still(scene, temporary)
            os.replace(temporary, path)  # a killed render never leaves a file under its name
        renders.append({"file": path.name, "spp": spp, "cycles_seed": seed,
                        "reference": path.name.endswith("_ref.exr")})
    entry = {"scene": job.scene, **description, "width": scene.render.resolution_x,
             "height": scene.render.resolution_y, "renders": renders}
    temporary = record.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(entry, indent=1))
    os.replace(temporary, record)
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
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(manifest, indent=1))
    os.replace(temporary, path)
    return manifest


def _blender_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("bpy")
    except Exception:  # not installed as a distribution
        return None
