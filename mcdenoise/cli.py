"""The `mcdenoise` command line: a click group whose subcommands validate and wire only."""

from __future__ import annotations

import glob
import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from mcdenoise import McdenoiseError, __version__


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


def expand_inputs(items: tuple[str, ...], suffixes: tuple[str, ...] = (".exr",)) -> list[Path]:
    """Files as given, glob patterns expanded, directories listed (their files with one of
    ``suffixes``, sorted). Names that match nothing are kept so the reader reports them."""
    paths: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            paths.extend(sorted(p for p in path.iterdir()
                                if p.is_file() and p.name.lower().endswith(suffixes)))
        elif not path.exists() and glob.has_magic(item):
            matches = sorted(glob.glob(item))
            if not matches:
                raise click.ClickException(f"{item}: no file matches this pattern")
            paths.extend(Path(m) for m in matches)
        else:
            paths.append(path)
    return paths


def _parse_overrides(values: tuple[str, ...]) -> dict[str, str]:
    overrides = {}
    for value in values:
        buffer, sep, spec = value.partition("=")
        if not sep or not spec:
            raise click.BadParameter(f"'{value}' is not BUFFER=CHANNELS", param_hint="--channel")
        overrides[buffer.strip()] = spec.strip()
    return overrides


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

    overrides = _parse_overrides(channels)
    reports, failed = [], 0
    for path in expand_inputs(inputs):
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
