"""The `mcdenoise` command line: a click group whose subcommands validate and wire only."""

from __future__ import annotations

import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from mcdenoise import McdenoiseError, __version__
from mcdenoise.cli_params import parse_int_list, parse_memory, parse_overrides
from mcdenoise.cli_train import experiment, render, train

log = logging.getLogger("mcdenoise")


class _Group(click.Group):
    """Turns expected failures (McdenoiseError) into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except McdenoiseError as exc:
            raise click.ClickException(str(exc)) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="mcdenoise")
@click.option("-v", "--verbose", count=True, help="More messages (-vv for debug).")
@click.option("-q", "--quiet", is_flag=True, help="Errors only.")
def main(verbose: int, quiet: bool) -> None:
    """mcdenoise: denoise Monte Carlo renders with a network trained on noisy renders only."""
    level = logging.ERROR if quiet else (logging.WARNING, logging.INFO, logging.DEBUG)[
        min(verbose, 2)]
    logging.basicConfig(level=level, format="mcdenoise: %(levelname)s: %(message)s",
                        stream=sys.stderr, force=True)


@main.command()
@click.argument("inputs", nargs=-1, required=True, metavar="FILE|DIR|GLOB...")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document for scripts.")
@click.option("--layer", metavar="NAME", help="Only this view layer (default: all).")
@click.option("--channel", "channels", multiple=True, metavar="BUFFER=CHANNELS",
              help="Override a buffer: 'albedo=MyAlbedo' (a pass) or "
                   "'depth=ViewLayer.Depth.Z' (channels, comma-separated).")
def info(inputs: tuple[str, ...], as_json: bool, layer: str | None,
         channels: tuple[str, ...]) -> None:
    """Describe EXR files: parts, layers, passes, channels, windows, compression, and which
    channels mcdenoise uses as color / albedo / normal / depth / alpha."""
    from mcdenoise.info import describe_file, format_description

    overrides = parse_overrides(channels)
    reports, failed = [], 0
    from mcdenoise.exr import expand_paths

    paths = expand_paths(inputs)
    if not paths:
        raise McdenoiseError(f"{' '.join(inputs)}: no EXR files")
    for path in paths:
        try:
            report = describe_file(path, layer=layer, overrides=overrides)
        except McdenoiseError as exc:
            failed += 1
            report = {"path": str(path), "error": str(exc)}
            click.echo(f"Error: {exc}", err=True)
        reports.append(report)
        if not as_json and "error" not in report:
            click.echo(format_description(report))
    if as_json:
        click.echo(json.dumps(reports, indent=2))
    if failed:
        sys.exit(1)


@main.command()
@click.argument("inputs", nargs=-1, required=True, metavar="IN...")
@click.option("-o", "--output", metavar="OUT", help="A file, a directory, or a pattern such "
                                                   "as clean/beauty.####.exr.")
@click.option("--frames", metavar="LIST", help="Frames of a pattern input, e.g. 1001-1100.")
@click.option("--model", type=click.Path(), help="A .safetensors or .onnx model or a training "
                                                 "checkpoint (default: the bundled model).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto",
              show_default=True)
@click.option("--precision", type=click.Choice(["auto", "fp32", "fp16", "bf16"]),
              default="auto", show_default=True,
              help="torch backend. auto: bf16 on CPUs with AVX-512 BF16 or AMX (about 1.5x "
                   "faster, the same scores), else fp32; fp16 needs a GPU.")
@click.option("--backend", type=click.Choice(["auto", "torch", "onnxruntime"]), default="auto",
              show_default=True, help="auto: torch when installed (GPUs; on the CPU less "
                                      "memory, while ONNX Runtime is faster), else ONNX "
                                      "Runtime.")
@click.option("--tile", type=click.IntRange(min=32), help="Tiles hold at most TILE x TILE "
                                                          "pixels (default: from --max-memory).")
@click.option("--overlap", type=click.IntRange(min=0), help="Band shared by neighbouring tiles "
                                                            "(default: the receptive field).")
@click.option("--max-memory", metavar="SIZE", help="Memory for the network's activations, "
                                                   "e.g. 2G (default 1G).")
@click.option("--layer", metavar="NAME", help="Only this view layer (default: all).")
@click.option("--no-keep-noisy", is_flag=True, help="Do not keep the noisy beauty as "
                                                    "'Noisy Image'.")
@click.option("--aov", "aovs", multiple=True, metavar="PASS",
              help="Denoise this AOV pass too (e.g. DiffDir, GlossInd, a light group); "
                   "repeatable. Its noisy copy is kept as 'PASS Noisy'.")
@click.option("--beauty-only", is_flag=True, help="Write only the denoised beauty as a one-part "
              "RGBA EXR (other layers, the noisy copy and AOVs are left out).")
@click.option("--overwrite", is_flag=True, help="Redo outputs that already exist.")
@click.option("--threads", type=click.IntRange(min=1), help="CPU threads for PyTorch.")
@click.option("--shard", metavar="K/N", help="Only the K-th of N parts of the frame list "
              "(K from 1): several machines share a sequence. Under torchrun each rank takes "
              "its own part automatically.")
@click.option("--shard-order", type=click.Choice(["contiguous", "interleaved"]),
              default="contiguous", show_default=True,
              help="Parts are runs of consecutive frames, or every N-th frame.")
@click.option("--add-noise", metavar="SPEC", help="PNG / JPEG / TIFF only: take the inputs "
              "as clean, corrupt them with this noise (e.g. gaussian,25) and write clean | "
              "noisy | denoised strips with their PSNR.")
@click.option("--noise-seed", type=int, default=0, show_default=True,
              help="Seed of --add-noise (with the file name).")
@click.option("--temporal/--no-temporal", default=True, show_default=True,
              help="Sequences (frame patterns): average each frame with its neighbours, "
                   "aligned by the Vector pass where the files have it, before the network.")
@click.option("--temporal-radius", type=click.IntRange(min=1, max=8), default=2,
              show_default=True, help="Neighbours on each side.")
@click.option("--blend/--no-blend", default=True, show_default=True,
              help="Sequences: also average each denoised frame with its neighbours' "
                   "denoised frames where they show the same surface (halves the flicker "
                   "of still shots; each output then waits for the frames 2 radius after it).")
@click.option("--previous", multiple=True, type=click.Path(dir_okay=False), metavar="EXR",
              help="With one input: a frame before it in its shot, nearest first "
                   "(repeatable); it is then denoised as a sequence's frame is. Frame "
                   "patterns find their neighbours themselves.")
@click.option("--next", "following", multiple=True, type=click.Path(dir_okay=False),
              metavar="EXR", help="With one input: a frame after it, nearest first "
                                  "(repeatable).")
@click.option("--denoised", type=click.Path(exists=True, dir_okay=False), metavar="EXR",
              help="With --previous/--next: what --no-blend wrote for this frame with them; "
                   "it is blended with --previous-denoised / --next-denoised instead of "
                   "being denoised again.")
@click.option("--previous-denoised", multiple=True, type=click.Path(dir_okay=False),
              metavar="EXR", help="What --no-blend wrote for a --previous frame, in the "
              "same order (repeatable): the output blends them as a sequence's frame does "
              "(a missing one is left out).")
@click.option("--next-denoised", "following_denoised", multiple=True,
              type=click.Path(dir_okay=False), metavar="EXR",
              help="... and for a --next frame.")
@click.option("--dry-run", is_flag=True, help="List what would be done.")
def denoise(inputs: tuple[str, ...], output: str | None, frames: str | None, model: str | None,
            device: str, precision: str, backend: str, tile: int | None,
            overlap: int | None,
            max_memory: str | None, layer: str | None, no_keep_noisy: bool,
            aovs: tuple[str, ...], beauty_only: bool, overwrite: bool, threads: int | None,
            shard: str | None, shard_order: str, add_noise: str | None, noise_seed: int,
            temporal: bool, temporal_radius: int, blend: bool, previous: tuple[str, ...],
            following: tuple[str, ...], denoised: str | None,
            previous_denoised: tuple[str, ...], following_denoised: tuple[str, ...],
            dry_run: bool) -> None:
    """Denoise EXR renders (single files or whole sequences; every other layer is kept), or
    PNG / JPEG / TIFF images with a model trained on LDR noise (by default the bundled
    gaussian-noise model)."""
    from mcdenoise.denoise import DenoiseOptions, denoise_jobs, frame_sequence, job_status
    from mcdenoise.device import torchrun_ranks
    from mcdenoise.jobs import (
        input_kind,
        parse_shard,
        plan_jobs,
        sequence_on_disk,
        shard_jobs,
    )
    from mcdenoise.noise import NoiseSpec

    noise = NoiseSpec.parse(add_noise) if add_noise is not None else None
    jobs = plan_jobs(list(inputs), output, parse_int_list(frames) if frames else None)
    # every frame of the shot on disk: a shard (or --frames) reads its frames' neighbours
    sequence = {**frame_sequence(jobs), **sequence_on_disk(list(inputs))}
    kind = input_kind(jobs)
    first_passes = None  # frame -> its first pass on disk (--denoised and the like)
    if previous or following:  # one frame and the neighbours named for it
        if len(jobs) != 1 or kind == "ldr":
            raise click.UsageError("--previous and --next go with one EXR input")
        jobs = [dataclasses.replace(jobs[0], frame=0, in_sequence=True)]
        sequence = {0: jobs[0].source, **{-k: Path(p) for k, p in enumerate(previous, 1)},
                    **{k: Path(p) for k, p in enumerate(following, 1)}}
        temporal_radius = max(len(previous), len(following))
        if len(previous_denoised) > len(previous) or len(following_denoised) > len(following):
            raise click.UsageError("--previous-denoised / --next-denoised name more frames "
                                   "than --previous / --next")
        # the blend needs the neighbours' first passes (and those their own neighbours):
        # only with the ones named
        named = {**{-k: Path(p) for k, p in enumerate(previous_denoised, 1)},
                 **{k: Path(p) for k, p in enumerate(following_denoised, 1)}}
        if denoised:
            named[0] = Path(denoised)
        blend, first_passes = bool(named), named or None
    elif denoised or previous_denoised or following_denoised:
        raise click.UsageError("--denoised, --previous-denoised and --next-denoised go with "
                               "--previous / --next")
    if noise is not None and kind != "ldr":
        raise click.UsageError("--add-noise corrupts PNG / JPEG / TIFF images; EXR renders "
                               "bring their own noise")
    ranks = torchrun_ranks()
    if shard is not None:
        if ranks.world > 1:
            raise click.UsageError("--shard and torchrun both split the frames: use one")
        index, count = parse_shard(shard)
        jobs = shard_jobs(jobs, index, count, shard_order)
    elif ranks.world > 1:  # one rank per GPU, each with its own frames
        jobs = shard_jobs(jobs, ranks.rank, ranks.world, shard_order)
        if device in ("auto", "cuda") and backend != "onnxruntime":
            import torch

            if torch.cuda.is_available():
                device = f"cuda:{ranks.local_rank % torch.cuda.device_count()}"
    if not jobs:
        click.echo("this shard has no frames to denoise", err=True)
        return
    denoiser = _load_denoiser(model, kind, device, precision, backend, threads)
    options = DenoiseOptions(layer=layer, keep_noisy=not no_keep_noisy, overwrite=overwrite,
                             tile=tile, overlap=overlap, aovs=aovs, beauty_only=beauty_only,
                             add_noise=noise, noise_seed=noise_seed, temporal=temporal,
                             temporal_radius=temporal_radius, blend=blend)
    options.max_memory = parse_memory(max_memory) or options.max_memory
    if dry_run:
        for job in jobs:
            try:
                status = job_status(job, denoiser, overwrite, options)
            except McdenoiseError as exc:
                status = f"error: {exc}"
            click.echo(f"{status:8} {job.source} -> {job.target}")
        return
    scores: list = []
    quiet = click.get_current_context().find_root().params.get("quiet", False)
    log.info("model %s (%s) on %s, %s", denoiser.name, denoiser.digest, denoiser.device,
             denoiser.precision)
    summary = denoise_jobs(jobs, denoiser, options, scores=scores,
                           report=None if quiet else click.echo, sequence=sequence,
                           denoised=first_passes)
    failures, missing = summary.failures, summary.missing
    if len(scores) > 1:
        click.echo(f"mean PSNR over {len(scores)} image(s): noisy "
                   f"{sum(s[1] for s in scores) / len(scores):.2f} dB, denoised "
                   f"{sum(s[2] for s in scores) / len(scores):.2f} dB", err=True)
    if len(jobs) > 1:
        seconds = sum(s for _, s in summary.denoised)
        click.echo(f"{len(summary.denoised)} of {len(jobs)} frame(s) denoised ({seconds:.1f} "
                   f"s), {len(summary.skipped)} skipped (already done), {len(missing)} "
                   f"missing, {len(failures)} failed", err=True)
    if len(jobs) == 1 and (failures or missing):
        raise McdenoiseError(failures[0][1] if failures else f"{jobs[0].source}: no such file")
    problems = [f"{len(group)} {what}: {_listed(group)}" for group, what in (
        (missing, "input file(s) missing"), ([job for job, _ in failures], "frame(s) failed"))
        if group]
    if problems:
        raise McdenoiseError("; ".join(problems))


def _listed(jobs) -> str:
    """Frame numbers as ranges (1001-1100), or the first file names."""
    from mcdenoise.denoise import frame_ranges

    numbered = [job.frame for job in jobs if job.frame is not None]
    if len(numbered) == len(jobs):
        return f"frames {frame_ranges(numbered)}"
    return ", ".join(job.source.name for job in jobs[:10]) + (" ..." if len(jobs) > 10 else "")


def _load_denoiser(model: str | None, kind: str, device: str, precision: str,
                   backend: str = "auto", threads: int | None = None):
    """The model for this kind of input: --model, or the bundled default (renders) or
    gaussian-noise model (LDR images); a model of the other kind is an error."""
    from mcdenoise.denoiser import choose_backend, default_model_file, load_model

    path = model
    if model is None and kind == "ldr":
        path = default_model_file("gaussian", choose_backend(backend, device, None))
    denoiser = load_model(path, device=device, precision=precision, backend=backend,
                          threads=threads)
    if kind == "ldr" and not denoiser.ldr:
        raise McdenoiseError(f"{denoiser.name}: this model denoises HDR renders (EXR); PNG / "
                             "JPEG / TIFF images need one trained on LDR noise (mcdenoise train "
                             "--noise ...), or leave out --model for the bundled one")
    if kind == "hdr" and denoiser.ldr:
        raise McdenoiseError(f"{denoiser.name}: this model was trained on LDR images; EXR "
                             "renders need an HDR model (leave out --model for the bundled one)")
    return denoiser


@main.command()
@click.argument("source", type=click.Path(exists=True), metavar="RUN_DIR|CHECKPOINT|MODEL")
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="The .safetensors or .onnx file to write.")
@click.option("--note", help="A line about how the model was trained, kept in its metadata.")
@click.option("--reproduce", metavar="COMMANDS", help="The commands that made the data and "
              "trained the model, kept in its metadata.")
@click.option("--prefilter", type=click.Path(exists=True, dir_okay=False), metavar="AUX",
              help="A prefilter trained with --config aux (checkpoint or model): the written "
                   ".safetensors color model carries it and cleans its albedo and normal with "
                   "it first.")
def export(source: str, output: str, note: str | None, reproduce: str | None,
           prefilter: str | None) -> None:
    """Turn a training run (its best checkpoint), a checkpoint or a model into a model file
    for `denoise --model`: .safetensors, or .onnx for ONNX Runtime (torch-free inference,
    dynamic height and width, config and provenance in its metadata)."""
    from mcdenoise.checkpoint import export_model

    suffix = Path(output).suffix.lower()
    if suffix not in (".safetensors", ".onnx"):
        raise click.BadParameter("the model file ends in .safetensors or .onnx", param_hint="-o")
    info = {key: value for key, value in (("note", note), ("reproduce", reproduce)) if value}
    if prefilter:
        if suffix == ".onnx":
            raise click.BadParameter("a prefilter is added to a .safetensors model (export "
                                     "that to .onnx next)", param_hint="--prefilter")
        path = export_model(source, output, info or None, prefilter=prefilter)
        click.echo(f"model written: {path}")
        return
    if suffix == ".onnx":
        from mcdenoise.checkpoint import export_onnx_model

        path = export_onnx_model(source, output, info or None)
    else:
        if source.lower().endswith(".safetensors"):
            raise click.BadParameter("a .safetensors model is already one; export it to "
                                     ".onnx, or give a run folder or checkpoint",
                                     param_hint="SOURCE")
        path = export_model(source, output, info or None)
    click.echo(f"model written: {path}")


@main.group()
def addon() -> None:
    """The Blender add-on: build its installable zip."""


@addon.command("build")
@click.option("-o", "--output", "out_dir", type=click.Path(file_okay=False), default="dist",
              show_default=True, help="Folder for the zips.")
@click.option("--platform", "platforms", multiple=True,
              type=click.Choice(["linux-x64", "windows-x64", "macos-arm64", "macos-x64"]),
              help="Build for these platforms only (repeatable; default: all four).")
@click.option("--no-runtime", is_flag=True, help="One plain zip without ONNX Runtime and "
              "models: it uses an mcdenoise installed in Blender's Python or elsewhere.")
@click.option("--wheels", "wheel_cache", type=click.Path(file_okay=False), metavar="DIR",
              help="Keep (and reuse) the downloaded runtime wheels here, one folder per "
                   "platform (default: ~/.cache/mcdenoise/wheels).")
def addon_build(out_dir: str, platforms: tuple[str, ...], no_runtime: bool,
                wheel_cache: str | None) -> None:
    """Build the Blender extension: one zip per platform that denoises right after Install
    from Disk (ONNX Runtime, OpenEXR, the inference code and the bundled models inside;
    fetched from PyPI once), or with --no-runtime one plain zip. Each also installs as a
    legacy add-on."""
    from mcdenoise.addon import PLATFORMS, build_addon

    chosen = () if no_runtime else (platforms or PLATFORMS)
    for path in build_addon(out_dir, chosen, wheel_cache, progress=lambda line: click.echo(
            line, err=True)):
        click.echo(f"add-on written: {path} ({path.stat().st_size / 2**20:.1f} MB)")


def _methods(denoiser, compare: tuple[str, ...]) -> dict:
    """The denoisers to score: mcdenoise, and OIDN when asked for and installed."""
    methods = {"mcdenoise": lambda f: denoiser.denoise(f.color, f.albedo, f.normal, f.depth)}
    if "oidn" in compare:
        from mcdenoise.oidn import oidn_available, oidn_denoise

        if oidn_available():
            methods["oidn"] = lambda f: oidn_denoise(f.color, f.albedo, f.normal)
        else:
            click.echo("OIDN comparison skipped: pyoidn is not installed "
                       "(pip install 'mcdenoise[compare]')", err=True)
    return methods


def _flip_or_note() -> bool:
    from mcdenoise.metrics import flip_available

    if not flip_available():
        click.echo("FLIP skipped: flip-evaluator is not installed "
                   "(pip install 'mcdenoise[compare]')", err=True)
        return False
    return True


@main.command()
@click.argument("data", type=click.Path(exists=True, file_okay=False))
@click.option("--model", type=click.Path(), help="A .safetensors model or a training "
              "checkpoint (default: the bundled model).")
@click.option("--compare", type=click.Choice(["oidn"]), multiple=True,
              help="Also score Intel Open Image Denoise (needs the compare extra).")
@click.option("--report", type=click.Path(file_okay=False), metavar="DIR",
              help="Write scores.csv, scores.json and report.html (crops, error maps, bar "
                   "charts) here.")
@click.option("--spp", metavar="LIST", help="Only renders with these sample counts, e.g. 4,16,64.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto",
              show_default=True)
@click.option("--precision", type=click.Choice(["auto", "fp32", "fp16", "bf16"]),
              default="fp32", show_default=True,
              help="As in denoise (whose default is auto: bf16 on CPUs with AVX-512 BF16 or "
                   "AMX); fp32 here, so scores compare across machines.")
@click.option("--backend", type=click.Choice(["auto", "torch", "onnxruntime"]), default="auto",
              show_default=True)
@click.option("--per-image/--means-only", default=True, show_default=True,
              help="Print every image's scores, or the means only.")
@click.option("--shots", is_flag=True, help="Also score flicker: a scene with 3 or more "
              "seeds at one spp is a still shot (its seeds are its frames), a folder from "
              "render field --moving holds moving shots; each denoised frame by frame and as "
              "a sequence; with --report, a contact strip per shot and shots.json.")
def evaluate(data: str, model: str | None, compare: tuple[str, ...], report: str | None,
             spp: str | None, device: str, precision: str, backend: str, per_image: bool,
             shots: bool) -> None:
    """Score denoised renders against their references (tonemapped PSNR, relMSE, SMAPE,
    SSIM, FLIP, seconds per image), beside the noisy input and optionally OIDN."""
    from dataclasses import asdict

    from mcdenoise.denoiser import load_model
    from mcdenoise.evaluate import evaluate as score_all
    from mcdenoise.evaluate import means, table, write_report

    denoiser = load_model(model, device=device, precision=precision, backend=backend)
    use_flip = _flip_or_note()
    methods = _methods(denoiser, compare)
    counts = tuple(parse_int_list(spp)) if spp else ()
    if shots:
        from mcdenoise.shots import moving_shots, still_shots

        if moving_shots(data, counts) and not still_shots(data, counts):
            _evaluate_shots(data, denoiser, methods, counts, use_flip, report)
            return  # a folder of moving shots: each frame's reference is scored there
    scores, panels = score_all(data, methods, use_flip, counts, panels=report is not None)
    if per_image:
        click.echo(table([asdict(s) for s in scores], ("image", "method")) + "\n")
    click.echo(f"means over {len(scores) // (len(methods) + 1)} image(s):")
    click.echo(table(means(scores), ("spp", "method", "images")))
    if report:
        settings = {"data": str(data), "model": denoiser.name, "model_sha256": denoiser.digest,
                    "device": str(denoiser.device), "precision": denoiser.precision,
                    "flip": use_flip, "methods": ["noisy", *methods]}
        files = write_report(report, scores, panels, settings)
        click.echo(f"report: {Path(report) / 'report.html'} ({len(files)} files)")
    if shots:
        _evaluate_shots(data, denoiser, methods, counts, use_flip, report)


def _evaluate_shots(data: str, denoiser, methods: dict, counts: tuple[int, ...],
                    use_flip: bool, report: str | None) -> None:
    from mcdenoise.shots import evaluate_shots, shot_table

    strips = Path(report) / "strips" if report else None
    found = evaluate_shots(data, denoiser, methods.get("oidn"), counts, use_flip=use_flip,
                           strips=strips)
    if not found:
        raise McdenoiseError(f"{data}: no shot (a scene with 3 or more seeds at one spp and "
                             "a reference, or a moving shot from render field --moving)")
    click.echo("\nshots (flicker: mean change between consecutive frames, tonemapped, of "
               "the frames on still shots and of their errors on moving ones; 0 = stable):")
    click.echo(shot_table(found))
    if report:
        from dataclasses import asdict

        from mcdenoise.atomic import write_text_atomic

        Path(report).mkdir(parents=True, exist_ok=True)
        write_text_atomic(Path(report) / "shots.json",
                          json.dumps([asdict(s) for s in found], indent=1))


@main.command()
@click.argument("first", type=click.Path(exists=True, dir_okay=False), metavar="A.exr")
@click.argument("second", type=click.Path(exists=True, dir_okay=False), metavar="B.exr")
@click.option("--ref", type=click.Path(exists=True, dir_okay=False), metavar="R.exr",
              help="Score A and B against this reference (else A is scored against B).")
@click.option("--error-map", type=click.Path(dir_okay=False), metavar="PNG",
              help="Write the error map(s) here (side by side with --ref).")
@click.option("--layer", metavar="NAME", help="View layer to score (default: the first).")
@click.option("--channel", "channels", multiple=True, metavar="BUFFER=CHANNELS",
              help="Score other channels: 'color=Noisy Image' (a pass) or "
                   "'color=ViewLayer.Combined.R,ViewLayer.Combined.G,ViewLayer.Combined.B'.")
def compare(first: str, second: str, ref: str | None, error_map: str | None,
            layer: str | None, channels: tuple[str, ...]) -> None:
    """Metrics between two EXR images, or of two images against a reference. A denoised
    file is scored by its denoised beauty (not the 'Noisy Image' copy it keeps)."""
    import numpy as np

    from mcdenoise.evaluate import colorize, save_png, scores_of, table
    from mcdenoise.frame import load_beauty

    overrides = parse_overrides(channels)
    frames = {name: load_beauty(path, layer, overrides) for name, path in
              (("A", first), ("B", second), ("R", ref)) if path}
    shapes = {name: image.shape for name, image in frames.items()}
    if len(set(shapes.values())) > 1:
        sizes = ", ".join(f"{n} {s[1]}x{s[0]}" for n, s in shapes.items())
        raise McdenoiseError(f"the images differ in size: {sizes}")
    use_flip = _flip_or_note()
    pairs = ([("A vs R", frames["A"], frames["R"]), ("B vs R", frames["B"], frames["R"])]
             if ref else [("A vs B", frames["A"], frames["B"])])
    rows, maps = [], []
    for label, image, reference in pairs:
        values, error = scores_of(image, reference, use_flip)
        rows.append({"pair": label, **values})
        maps.append(colorize(error))
    click.echo(table(rows, ("pair",), seconds=False))
    if error_map:
        path = Path(error_map)
        if path.suffix.lower() != ".png":
            raise click.BadParameter("the error map is a .png file", param_hint="--error-map")
        separator = np.ones((maps[0].shape[0], 4, 3), np.float32)
        save_png(path, np.concatenate([maps[0], *(x for m in maps[1:] for x in (separator, m))],
                                      axis=1))
        click.echo(f"error map: {path}" + (" (A | B)" if ref else ""))


# train, render and experiment live in cli_train.py
main.add_command(train)
main.add_command(render)
main.add_command(experiment)
