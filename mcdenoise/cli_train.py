"""The training side of the `mcdenoise` command line: `train`, `render` (training pairs from
Blender) and `experiment` (the Noise2Noise paper's runs on photographs); cli.py adds them to
the `mcdenoise` group. Validation and wiring only."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from mcdenoise import McdenoiseError
from mcdenoise.cli_params import parse_int_list, parse_size
from mcdenoise.config import CHOICES


def _flag_overrides(options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Explicit train flags as nested config overrides (flags left out are None)."""
    table = {
        "data": "data.path", "val_data": "data.val_path", "batch_size": "data.batch_size",
        "crop": "data.crop", "target": "data.target", "noise": "data.noise",
        "target_noise": "data.target_noise", "val_noise": "data.val_noise",
        "workers": "data.workers", "steps": "train.steps", "lr": "train.lr",
        "lr_step": "train.lr_step", "lr_gamma": "train.lr_gamma", "loss": "loss.name",
        "device": "train.device", "out": "train.out", "name": "train.name",
        "seed": "train.seed", "init_from": "train.init_from", "arch": "model.arch",
    }
    nested: dict[str, dict[str, Any]] = {}
    for option, key in table.items():
        if options.get(option) is not None:
            section, name = key.split(".")
            nested.setdefault(section, {})[name] = options[option]
    if options.get("noise") is not None:
        nested.setdefault("data", {})["kind"] = "images"
    features = "none" if options.get("no_features") else options.get("features")
    if features is not None:
        nested.setdefault("input", {})["features"] = [] if features == "none" else features
    return nested


def _noise_config(spec: str) -> str:
    """The shipped ``noise-<kind>`` config for a --noise spec: image data, no features, the
    noise's own loss and network (Bernoulli's masked L2, impulse's L0, ...)."""
    from mcdenoise.noise import NoiseSpec

    kind = NoiseSpec.parse(spec).kind
    if kind == "clean":
        raise click.BadParameter("the input noise cannot be 'clean'", param_hint="--noise")
    return f"noise-{kind}"


def resolve_train_config(options: dict[str, Any]):
    """defaults (or, with --noise and no --config, the noise's shipped noise-* config) <
    --config < presets (--hdr) < explicit flags < --set."""
    from mcdenoise.config import Config, apply_hdr_preset, load_config, merge, set_value

    if options.get("config"):
        config = load_config(options["config"])
    elif options.get("noise") is not None:
        config = load_config(_noise_config(options["noise"]))
    else:
        config = Config()
    if options.get("hdr") is not None:
        apply_hdr_preset(config, options["hdr"])
    merge(config, _flag_overrides(options), "command line")
    for assignment in options.get("sets") or ():
        set_value(config, assignment)
    return config


def _default(key: str) -> str:
    """'[default: V]' for a config key: train flags default to None so that --config and
    presets can set them, so click cannot show the value itself."""
    from mcdenoise.config import Config

    section, name = key.split(".")
    return f"[default: {getattr(getattr(Config(), section), name)}]"


@click.command()
@click.option("--config", metavar="NAME|FILE", help="A shipped config name or a YAML file.")
@click.option("--hdr/--no-hdr", default=None,
              help="Preset: relative L2 loss on linear HDR with a tonemapped input (N2N §3.3); "
                   "--no-hdr: L2 on the raw input.")
@click.option("--features", is_flag=False, flag_value="albedo,normal,depth", default=None,
              metavar="[LIST]", help="Feature buffers fed to the network: bare = albedo,normal,"
                                     "depth; or e.g. albedo,normal; or none.")
@click.option("--no-features", is_flag=True, default=None, help="Color only.")
@click.option("--data", type=click.Path(), help="Training data folder (several: "
              "comma-separated, e.g. data/a,data/b).")
@click.option("--val-data", type=click.Path(), help="Validation data folder.")
@click.option("--target", type=click.Choice(["noisy", "clean", "both"]),
              help="Monte Carlo targets: another seed (Noise2Noise), the reference, or both.")
@click.option("--batch-size", type=click.IntRange(min=1),
              help=f"Crops per step. {_default('data.batch_size')}")
@click.option("--crop", type=click.IntRange(min=8),
              help=f"Training crop size in pixels. {_default('data.crop')}")
@click.option("--steps", type=click.IntRange(min=1),
              help=f"Training steps; with --resume, a larger total extends the run. "
                   f"{_default('train.steps')}")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True),
              help=f"Adam learning rate. {_default('train.lr')}")
@click.option("--lr-step", type=click.IntRange(min=0),
              help=f"Decay the LR every N steps (0: never). {_default('train.lr_step')}")
@click.option("--lr-gamma", type=click.FloatRange(min=0, min_open=True),
              help=f"LR factor at each decay. {_default('train.lr_gamma')}")
@click.option("--loss", type=click.Choice(CHOICES["loss.name"]), help=_default("loss.name"))
@click.option("--arch", type=click.Choice(CHOICES["model.arch"]),
              help="The network: the U-Net (default), RED30 or SRResNet (model.arch).")
@click.option("--noise", metavar="SPEC", help="Synthetic input noise on image folders, "
                                              "e.g. gaussian,0,50 (implies LDR images).")
@click.option("--target-noise", metavar="SPEC", help="Target noise; 'clean' = clean targets.")
@click.option("--val-noise", metavar="SPEC", help="Fixed validation noise, e.g. gaussian,25.")
@click.option("--workers", type=click.IntRange(min=0),
              help=f"Data loader processes. {_default('data.workers')}")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]),
              help=_default("train.device"))
@click.option("--seed", type=int, help=_default("train.seed"))
@click.option("--out", type=click.Path(),
              help=f"Folder holding the numbered run folders. {_default('train.out')}")
@click.option("--name", help="Run name (the folder is NNNNN-NAME).")
@click.option("--init-from", type=click.Path(), metavar="MODEL",
              help="Start from these weights (fine-tuning).")
@click.option("--resume", type=click.Path(), metavar="RUN_DIR",
              help="Continue a run exactly where its last checkpoint left it (with --steps "
                   "N: extend it to N steps).")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override any config key, e.g. --set train.lr_step=20000.")
@click.option("--nproc", type=click.IntRange(min=1), default=1, show_default=True,
              help="Processes on this machine (one per GPU, or CPU processes with gloo): "
                   "starts torchrun --standalone for you.")
@click.option("--dry-run", is_flag=True, help="Print the resolved config and exit.")
def train(**options: Any) -> None:
    """Train a denoiser (Noise2Noise on rendered EXR pairs, or synthetic noise on images)."""
    nproc = options.pop("nproc")
    if nproc > 1 and not options["dry_run"]:
        _relaunch_with_torchrun(nproc)
    resume = options.pop("resume")
    if resume is not None:
        given = [k for k, v in options.items()
                 if v not in (None, False, ()) and k not in ("dry_run", "steps")]
        if given:
            raise click.UsageError(f"--resume continues a run with its own config (only "
                                   f"--steps may extend it); drop "
                                   f"--{given[0].replace('_', '-')}")
        config = _resumable_config(Path(resume), options.get("steps"))
    else:
        config = resolve_train_config(options)
    if options["dry_run"]:
        import yaml

        click.echo(yaml.safe_dump(config.to_dict(), sort_keys=False), nl=False)
        return
    from mcdenoise.train import train as run_training

    try:
        run_dir = run_training(config, resume_dir=resume)
    except KeyboardInterrupt:
        click.echo("Interrupted: the last checkpoint was saved.", err=True)
        sys.exit(130)
    from mcdenoise.device import torchrun_ranks

    if torchrun_ranks().main:
        click.echo(f"run folder: {run_dir}")


def _resumable_config(run: Path, steps: int | None):
    """The run's own config.yaml (the checkpoint itself is read once, by train()), with
    ``steps`` as the new total when extending a run."""
    from mcdenoise.config import load_saved_config

    saved = run / "config.yaml"
    if not saved.is_file():
        raise McdenoiseError(f"{run}: not a run folder (no config.yaml)")
    config = load_saved_config(saved)
    if not (run / "checkpoints" / "last.pt").is_file():
        raise McdenoiseError(f"{run}: the run stopped before its first checkpoint (every "
                             f"{config.train.ckpt_every} steps): nothing to resume; start it "
                             "again without --resume")
    if steps is not None:
        if steps < config.train.steps:
            raise click.BadParameter(f"the run is set to {config.train.steps} steps; --steps "
                                     "can only extend it", param_hint="--steps")
        config.train.steps = steps
    return config


def _relaunch_with_torchrun(nproc: int) -> None:
    """``mcdenoise train --nproc N ...`` = ``torchrun --standalone --nproc_per_node N -m
    mcdenoise train ...``; exits with torchrun's status."""
    import os
    import subprocess

    if "WORLD_SIZE" in os.environ:
        raise McdenoiseError("--nproc starts torchrun itself; under torchrun, leave it out")
    args = sys.argv[1:]
    if "train" not in args:
        raise McdenoiseError("--nproc works from the command line only")
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            kept.append(arg)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", "-m", "mcdenoise", *kept]
    sys.exit(subprocess.call(command))


def _render_options(function):
    options = [
        click.option("--spp", default="16", show_default=True, metavar="LIST",
                     help="Samples per pixel, e.g. 4,16,64 (one set of seeds each)."),
        click.option("--seeds", type=click.IntRange(min=1), default=2, show_default=True,
                     help="Independent renders per scene and spp (2 = one N2N pair)."),
        click.option("--out", type=click.Path(file_okay=False), required=True),
        click.option("--reference-spp", type=click.IntRange(min=0), default=0,
                     help="Also render a reference at this spp (0: none)."),
        click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Blender processes; CPU threads are shared among them."),
        click.option("--device", type=click.Choice(["cpu", "gpu", "auto"]), default="cpu",
                     show_default=True, help="auto: a GPU when Blender sees one."),
        click.option("--float", "full_float", is_flag=True,
                     help="32-bit float files instead of half."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.group()
def render() -> None:
    """Render Noise2Noise training pairs with Blender Cycles (needs the `blender` extra)."""


def _run_render(jobs, out: str, settings: dict[str, Any], workers: int) -> None:
    from mcdenoise.render.dataset import run_jobs

    manifest = run_jobs(jobs, Path(out), settings, workers=workers)
    count = sum(len(s["renders"]) for s in manifest["scenes"].values())
    click.echo(f"{len(manifest['scenes'])} scene(s), {count} render(s) in {out}")


@render.command("procedural")
@click.option("--scenes", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--first", type=click.IntRange(min=0), default=0, help="First scene index.")
@click.option("--size", default="256", show_default=True, metavar="SIZE|WxH")
@click.option("--scene-seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="The generator's seed: another seed gives other scenes (validation).")
@click.option("--generator", type=click.Choice(["1", "2", "3"]), default="1",
              show_default=True,
              help="1: the five layouts (the shipped models' data); 2: other scenes with HDRI "
                   "light, photographs, layered materials, fog, hair, motion blur, small lamps; "
                   "3: boxes of flat walls lit indirectly by one small light, and caustics.")
@click.option("--spp-per-scene", is_flag=True,
              help="Each scene renders at one of the --spp counts (drawn per scene) instead "
                   "of all of them: more scenes for the same time.")
@click.option("--animated", type=click.IntRange(min=2), metavar="FRAMES",
              help="Render each scene as a moving shot of this many frames (camera and "
                   "objects move; Vector pass; two seeds per frame) and write a training "
                   "pair per frame: one seed's frame averaged with its aligned neighbours, "
                   "against the other seed's frame (sequence denoising).")
@_render_options
def render_procedural(scenes: int, first: int, size: str, scene_seed: int, generator: str,
                      spp_per_scene: bool, animated: int | None, spp: str, seeds: int,
                      out: str, reference_spp: int, workers: int, device: str,
                      full_float: bool) -> None:
    """Varied procedural scenes (interiors, exteriors, studio, clutter, emitters)."""
    from mcdenoise.render.dataset import RenderJob, cycles_seed
    from mcdenoise.render.procedural import scene_name

    width, height = parse_size(size)
    spp_list, version = parse_int_list(spp), int(generator)

    def counts(name: str) -> list[int]:
        if not spp_per_scene:
            return spp_list
        return [spp_list[cycles_seed("spp", name) % len(spp_list)]]

    names = [scene_name(index, scene_seed, version) for index in range(first, first + scenes)]
    jobs = [RenderJob(scene=name, out=out, spp=counts(name), seeds=seeds, width=width,
                      height=height, reference_spp=reference_spp, scene_seed=scene_seed,
                      index=index, generator=version, device=device, half=not full_float,
                      shot_frames=animated or 0)
            for index, name in zip(range(first, first + scenes), names, strict=False)]
    if animated and reference_spp:
        raise click.UsageError("--animated renders noisy pairs only: drop --reference-spp")
    settings = {"source": "procedural", "scenes": scenes, "first": first, "spp": spp_list,
                "seeds": seeds, "size": [width, height], "reference_spp": reference_spp,
                "scene_seed": scene_seed, "generator": version,
                "spp_per_scene": spp_per_scene, "animated": animated}
    _run_render(jobs, out, settings, workers)


@render.command("field")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Default: data/field, data/field-moving with --moving.")
@click.option("--scenes", "names", metavar="LIST", help="Only these scenes, e.g. "
                                                        "cornell,hair (default: all; with "
                                                        "--moving: cornell,textures,"
                                                        "motion_blur).")
@click.option("--spp", default=None, metavar="LIST",
              help="Sample counts of the noisy inputs (default: 4,16,64; with --moving: 16).")
@click.option("--moving", type=click.IntRange(min=2), metavar="FRAMES",
              help="Render moving shots of this many frames instead (the camera trucks, "
                   "objects move; Vector pass, a reference per frame): the flicker "
                   "benchmark of evaluate --shots.")
@click.option("--seeds", type=click.IntRange(min=1), default=1, show_default=True,
              help="Noisy renders per scene and spp.")
@click.option("--reference-spp", type=click.IntRange(min=0), default=None,
              help="Render references up to this spp (default: each scene's own, 2048-8192; "
                   "0: none yet). Chunks already rendered are always used.")
@click.option("--reference-chunk", type=click.IntRange(min=1), default=256, show_default=True,
              help="Render references in chunks of this spp (resumable).")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Blender processes; CPU threads are shared among them.")
@click.option("--device", type=click.Choice(["cpu", "gpu", "auto"]), default="cpu",
              show_default=True, help="auto: a GPU when Blender sees one.")
@click.option("--scale", type=click.FloatRange(min=0.01, max=4.0), default=1.0,
              show_default=True, help="Render at this fraction of each scene's size (quick "
                                      "looks; scores are only comparable at 1).")
@click.option("--list", "list_only", is_flag=True, help="List the scenes and exit.")
def render_field(out: str | None, names: str | None, spp: str | None, moving: int | None,
                 seeds: int, reference_spp: int | None, reference_chunk: int, workers: int,
                 device: str, scale: float, list_only: bool) -> None:
    """The field benchmark: fixed scenes of the kinds users render, built apart from the
    training generator, with chunked references. Rerun to resume or to add samples."""
    from mcdenoise.render.dataset import RenderJob
    from mcdenoise.render.field import FIELD_SCENES

    if list_only:
        for name, scene in FIELD_SCENES.items():
            click.echo(f"{name:16s} {scene.size[0]}x{scene.size[1]}  reference "
                       f"{scene.reference_spp} spp  {scene.what}")
        return
    from mcdenoise.render.moving import MOVING_REFERENCE_SPP, MOVING_SCENES

    chosen = names.split(",") if names else list(MOVING_SCENES if moving else FIELD_SCENES)
    out = out or ("data/field-moving" if moving else "data/field")
    spp = spp or ("16" if moving else "4,16,64")
    if moving and reference_spp is None:
        reference_spp = MOVING_REFERENCE_SPP
    unknown = [n for n in chosen if n not in FIELD_SCENES]
    if unknown:
        raise click.BadParameter(f"unknown scene(s) {', '.join(unknown)} (see --list)",
                                 param_hint="--scenes")
    spp_list = parse_int_list(spp)
    jobs = [RenderJob(scene=name, out=out, spp=spp_list, seeds=seeds,
                      width=max(8, round(FIELD_SCENES[name].size[0] * scale)),
                      height=max(8, round(FIELD_SCENES[name].size[1] * scale)),
                      reference_spp=FIELD_SCENES[name].reference_spp if reference_spp is None
                      else min(reference_spp, FIELD_SCENES[name].reference_spp),
                      reference_chunk=reference_chunk, field_scene=name, device=device,
                      half=True, shot_frames=moving or 0) for name in chosen]
    settings = {"source": "field", "spp": spp_list, "seeds": seeds,
                "reference_chunk": reference_chunk, "scale": scale}
    if moving:
        settings = {"source": "field-moving", "spp": spp_list, "frames": moving,
                    "reference_spp": reference_spp, "scale": scale}
    _run_render(jobs, out, settings, workers)


@render.command("blend")
@click.argument("blend_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--frames", default=None, metavar="LIST", help="e.g. 1-50 (default: the "
                                                             "current frame).")
@click.option("--size", default=None, metavar="SIZE|WxH", help="Default: the file's own.")
@click.option("--camera-jitter", type=float, is_flag=False, flag_value=0.1, default=0.0,
              metavar="[AMOUNT]", help="Move the camera a little per frame (scene units).")
@_render_options
def render_blend(blend_file: str, frames: str | None, size: str | None, camera_jitter: float,
                 spp: str, seeds: int, out: str, reference_spp: int, workers: int, device: str,
                 full_float: bool) -> None:
    """Training pairs from your own scene, frame by frame; no clean reference needed."""
    from mcdenoise.render.dataset import RenderJob

    if not blend_file.lower().endswith(".blend"):
        raise click.BadParameter(f"{blend_file} is not a .blend file", param_hint="BLEND_FILE")
    width, height = parse_size(size)
    frame_list = parse_int_list(frames) if frames else [1]
    stem, spp_list = Path(blend_file).stem, parse_int_list(spp)
    jobs = [RenderJob(scene=f"{stem}-f{frame:04d}", out=out, spp=spp_list, seeds=seeds,
                      width=width, height=height, reference_spp=reference_spp,
                      blend=str(Path(blend_file).resolve()), frame=frame,
                      camera_jitter=camera_jitter, device=device, half=not full_float)
            for frame in frame_list]
    settings = {"source": str(Path(blend_file).resolve()), "frames": frame_list,
                "spp": spp_list, "seeds": seeds, "size": [width, height],
                "reference_spp": reference_spp, "camera_jitter": camera_jitter}
    _run_render(jobs, out, settings, workers)


@click.group()
def experiment() -> None:
    """The Noise2Noise paper's experiments on photographs."""


@experiment.command("sample-images")
@click.argument("out", type=click.Path(file_okay=False))
def experiment_sample_images(out: str) -> None:
    """Copy the photographs that ship with scikit-image (CC0 / public domain) into OUT/train
    and OUT/val: images for the experiments that need no download."""
    from mcdenoise.experiment import copy_sample_images

    counts = copy_sample_images(out)
    click.echo(f"{counts['train']} training and {counts['val']} validation images in "
               f"{Path(out) / 'train'} and {Path(out) / 'val'}")


@experiment.command("n2n-table")
@click.option("--data", type=click.Path(exists=True, file_okay=False), required=True,
              help="Folder of clean images (PNG / JPEG / TIFF) to train on.")
@click.option("--val-data", type=click.Path(exists=True, file_okay=False),
              help="Folder of validation images (default: hold out the last --holdout of "
                   "--data).")
@click.option("--holdout", type=click.IntRange(min=1), default=2, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default="runs/n2n-table",
              show_default=True, help="Folder for the runs, table.json, table.md, curves.png.")
@click.option("--noises", default=",".join(("gaussian", "poisson", "bernoulli", "text",
                                            "impulse")), show_default=True,
              help="Which noises (comma-separated).")
@click.option("--minutes", type=click.FloatRange(min=0, min_open=True), default=2.0,
              show_default=True, help="Budget per run, turned into one step count for all.")
@click.option("--steps", type=click.IntRange(min=1), help="Steps per run (instead of "
                                                          "--minutes).")
@click.option("--crop", type=click.IntRange(min=16), default=64, show_default=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--arch", type=click.Choice(CHOICES["model.arch"]), default="unet",
              show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto",
              show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
              help="Override a config key in every run, e.g. --set model.enc_width=32.")
def experiment_n2n_table(data: str, val_data: str | None, holdout: int, out: str, noises: str,
                         minutes: float, steps: int | None, crop: int, batch_size: int,
                         arch: str, device: str, seed: int, sets: tuple[str, ...]) -> None:
    """Train each noise with clean and with noisy targets on one budget; print the PSNR table
    (input, clean targets, noisy targets) next to the paper's, and plot the curves."""
    from mcdenoise.experiment import (
        TableSettings,
        check_plotting,
        format_table,
        run_config,
        run_table,
    )

    check_plotting()
    chosen = tuple(n.strip().lower() for n in noises.split(",") if n.strip())
    settings = TableSettings(data=data, val_data=val_data, holdout=holdout, out=out,
                             noises=chosen, minutes=minutes, steps=steps, crop=crop,
                             batch_size=batch_size, arch=arch, device=device, seed=seed,
                             sets=sets)
    for noise in chosen:  # every config checked before hours of training
        run_config(settings, noise, "noisy", 1)
    table = run_table(settings)
    click.echo(format_table(table))
    click.echo(f"written: {Path(out) / 'table.json'}, {Path(out) / 'table.md'}, "
               f"{Path(out) / 'curves.png'}")
