"""The command line: `--version`, `info` (text and JSON), and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_raw

from mcdenoise import __version__
from mcdenoise.cli import main


def _blender5(tmp_path, name="render.exr"):
    rng = np.random.default_rng(0)
    parts = {}
    for pass_name, letters in (("Combined", "RGBA"), ("Denoising Albedo", "RGB"),
                               ("Denoising Normal", "XYZ"), ("Denoising Depth", "Z"),
                               ("Normal", "XYZ")):
        parts[f"ViewLayer.{pass_name}"] = {f"ViewLayer.{pass_name}.{c}":
                                           rng.random((6, 9), np.float32) for c in letters}
    return write_raw(tmp_path / name, {}, None, parts)


def _run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_version_and_help():
    assert _run("--version").output.strip() == f"mcdenoise, version {__version__}"
    assert "info" in _run("--help").output


def test_info_names_every_pass_and_the_chosen_buffers(tmp_path):
    result = _run("info", str(_blender5(tmp_path)))
    assert result.exit_code == 0
    out = result.output
    assert "size 9x6" in out and "multi-part, 5 parts" in out
    for pass_name in ("Combined", "Denoising Albedo", "Denoising Normal", "Denoising Depth",
                      "Normal"):
        assert f"'ViewLayer.{pass_name}'" in out
    assert "ViewLayer.Combined                       R:float G:float B:float A:float" in out
    assert "color   Combined [R,G,B]" in out
    assert "albedo  Denoising Albedo [R,G,B]" in out
    assert "normal  Denoising Normal [X,Y,Z] in render.exr (camera space)" in out
    assert "depth   Denoising Depth [Z]" in out
    assert "alpha   Combined [A]" in out


def test_info_json_for_several_files_globs_and_directories(tmp_path):
    _blender5(tmp_path, "a.exr")
    _blender5(tmp_path, "b.exr")
    (tmp_path / "notes.txt").write_text("not an image")
    by_dir = json.loads(_run("info", "--json", str(tmp_path)).output)
    by_glob = json.loads(_run("info", "--json", str(tmp_path / "*.exr")).output)
    assert [r["path"] for r in by_dir] == [r["path"] for r in by_glob]
    assert [r["path"].rsplit("/", 1)[-1] for r in by_dir] == ["a.exr", "b.exr"]
    report = by_dir[0]
    assert report["width"] == 9 and report["height"] == 6 and report["multipart"]
    uses = report["layers"][0]["uses"]
    assert uses["normal"]["channels"] == ["ViewLayer.Denoising Normal.X",
                                          "ViewLayer.Denoising Normal.Y",
                                          "ViewLayer.Denoising Normal.Z"]
    assert uses["normal"]["normal_space"] == "camera"
    channel = report["parts"][0]["channels"][0]
    assert channel["layer"] == "ViewLayer" and channel["pass"] == "Combined"
    assert channel["type"] == "float"


def test_info_channel_override(tmp_path):
    path = _blender5(tmp_path)
    result = _run("info", "--json", "--channel", "normal=ViewLayer.Normal", str(path))
    uses = json.loads(result.output)[0]["layers"][0]["uses"]
    assert uses["normal"]["pass"] == "Normal" and uses["normal"]["normal_space"] == "world"
    bad = CliRunner().invoke(main, ["info", "--channel", "normal", str(path)])
    assert bad.exit_code == 2 and "is not BUFFER=CHANNELS" in bad.output


def test_info_reports_bad_files_and_goes_on(tmp_path):
    good = _blender5(tmp_path)
    broken = tmp_path / "broken.exr"
    broken.write_bytes(good.read_bytes()[:300])
    result = CliRunner().invoke(main, ["info", "--json", str(broken), str(good)])
    assert result.exit_code == 1
    reports = json.loads(result.stdout)
    assert "corrupt" in reports[0]["error"] and "error" not in reports[1]


def test_glob_matching_nothing_is_an_error(tmp_path):
    result = CliRunner().invoke(main, ["info", str(tmp_path / "*.exr")])
    assert result.exit_code == 1 and "no file matches" in result.output


@pytest.mark.parametrize("content", [b"", b"plain text, not an image", None])
def test_cli_exits_non_zero_with_one_line_and_no_traceback(tmp_path, content):
    path = tmp_path / "bad.exr"
    if content is not None:
        path.write_bytes(content)
    done = subprocess.run([sys.executable, "-m", "mcdenoise", "info", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}: ")
    assert "Traceback" not in done.stderr
