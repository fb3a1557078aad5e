"""The Blender add-on: its zip, its bridge to mcdenoise, and (marked blender) the add-on
itself installed into real Blender, run in-process and through the external executable."""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from mcdenoise.blender_addon import bridge

from mcdenoise import __version__
from mcdenoise.addon import ZIP_FOLDER, build_addon, manifest_version
from mcdenoise.cli import main

DRIVER = Path(__file__).with_name("addon_driver.py")
EXTENSION_DRIVER = Path(__file__).with_name("extension_driver.py")


def test_build_writes_an_installable_zip(tmp_path):
    result = CliRunner().invoke(main, ["addon", "build", "--no-runtime", "-o",
                                       str(tmp_path / "dist")])
    assert result.exit_code == 0, result.output
    (archive,) = (tmp_path / "dist").glob("*.zip")
    assert archive.name == f"mcdenoise-blender-{__version__}.zip"
    names = zipfile.ZipFile(archive).namelist()
    expected = {"__init__.py", "blender_manifest.toml", "bridge.py", "operators.py",
                "panel.py", "settings.py", "work.py"}
    assert {f"{ZIP_FOLDER}/{name}" for name in expected} <= set(names)
    assert all(name.startswith(f"{ZIP_FOLDER}/") for name in names)
    assert not any("__pycache__" in name for name in names)
    init = zipfile.ZipFile(archive).read(f"{ZIP_FOLDER}/__init__.py").decode()
    assert "bl_info" in init and "import bpy" not in init.split("def ")[0]


def test_manifest_matches_the_package():
    assert manifest_version() == __version__
    text = (Path(__file__).parents[1] / "blender_addon" / "blender_manifest.toml").read_text()
    assert 'schema_version = "1.0.0"' in text and "[permissions]" in text


def test_build_into_a_file_is_an_error(tmp_path):
    blocker = tmp_path / "dist"
    blocker.write_text("")
    result = CliRunner().invoke(main, ["addon", "build", "--no-runtime", "-o", str(blocker)])
    assert result.exit_code != 0 and "Traceback" not in result.output


def test_request_arguments():
    request = bridge.Request("in.exr", "out.exr", model="m.safetensors", device="cpu",
                             layer="ViewLayer", beauty_only=True, keep_noisy=False)
    assert request.arguments() == ["denoise", "in.exr", "-o", "out.exr", "--device", "cpu",
                                   "--overwrite", "--model", "m.safetensors", "--layer",
                                   "ViewLayer", "--beauty-only", "--no-keep-noisy"]
    assert bridge.Request("a.exr", "b.exr").arguments() == [
        "denoise", "a.exr", "-o", "b.exr", "--device", "auto", "--overwrite"]
    blend = bridge.Request("2.exr", "o.exr", previous=("1.exr",), following=("3.exr",),
                           denoised="d2.exr", previous_denoised=("d1.exr",),
                           following_denoised=("d3.exr",))
    assert blend.arguments()[7:] == ["--denoised", "d2.exr", "--previous", "1.exr", "--next",
                                     "3.exr", "--previous-denoised", "d1.exr",
                                     "--next-denoised", "d3.exr"]


def test_choose_backend(tmp_path, monkeypatch):
    assert bridge.choose_backend("AUTO").mode == "IN_PROCESS"  # mcdenoise + torch import here
    with pytest.raises(bridge.BridgeError, match="not an executable file"):
        bridge.choose_backend("EXTERNAL", str(tmp_path / "nothing"))
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(bridge.BridgeError, match="mcdenoise not found"):
        bridge.choose_backend("EXTERNAL")
    fake = tmp_path / "mcdenoise"
    fake.write_text("#!/bin/sh\necho 'mcdenoise, version 9'\n")
    fake.chmod(0o755)
    backend = bridge.choose_backend("EXTERNAL")
    assert backend.mode == "EXTERNAL" and backend.executable == str(fake)
    assert bridge.check_external() == (True, f"external: {fake} (mcdenoise, version 9)")
    monkeypatch.setattr(bridge, "inprocess_importable", lambda: False)
    assert bridge.choose_backend("AUTO").mode == "BUNDLED"  # mcdenoise + onnxruntime here
    assert bridge.choose_backend("BUNDLED").describe().startswith("bundled runtime")
    monkeypatch.setattr(bridge, "bundled_importable", lambda: False)
    assert bridge.choose_backend("AUTO").mode == "EXTERNAL"
    with pytest.raises(bridge.BridgeError, match="not importable"):
        bridge.choose_backend("IN_PROCESS")
    with pytest.raises(bridge.BridgeError, match="no bundled runtime"):
        bridge.choose_backend("BUNDLED")


def test_process_task_reports_the_last_error_line(tmp_path):
    script = tmp_path / "fails"
    script.write_text("#!/bin/sh\necho progress >&2\necho 'Error: out.exr: disk full' >&2\n"
                      "exit 1\n")
    script.chmod(0o755)
    task = bridge.ProcessTask([str(script)])
    task.wait()
    assert task.done() and task.error == "out.exr: disk full"
    ok = bridge.ProcessTask(["true"])
    while not ok.done():
        pass
    assert ok.error is None
    with pytest.raises(bridge.BridgeError, match="cannot run"):
        bridge.ProcessTask([str(tmp_path / "absent")])


def test_thread_task_catches_errors():
    def boom():
        raise ValueError("bad\nthing")

    task = bridge.ThreadTask(boom)
    task.wait()
    assert task.done() and task.error == "bad thing"


def test_cancel_cleans_up_once_the_work_has_stopped(tmp_path):
    """A thread cannot be stopped: what it writes into is removed when its work returns
    (else a folder removed at cancel comes back with the thread's output), at once when the
    work has already returned; a process is killed, then cleaned up."""
    started, gate, calls = threading.Event(), threading.Event(), []
    folder = tmp_path / "shot"

    def work():
        started.set()
        gate.wait(30)
        folder.mkdir()
        (folder / "first.exr").write_bytes(b"late")

    task = bridge.ThreadTask(work)
    started.wait(30)
    task.cancel(then=lambda: (calls.append("then"), shutil.rmtree(folder)))
    assert calls == [] and not task.done()
    gate.set()
    task.wait()
    assert calls == ["then"] and not folder.exists()
    done = bridge.ThreadTask(lambda: None)
    done.wait()
    done.cancel(then=lambda: calls.append("at once"))
    assert calls == ["then", "at once"]
    slow = bridge.ProcessTask(["sleep", "30"])
    slow.cancel(then=lambda: calls.append(slow.done()))
    assert calls[-1] is True


def test_inprocess_request_denoises_a_file(tmp_path):
    from mcdenoise.frame import load_frame

    sample = importlib.resources.files("mcdenoise.samples") / "sample_16spp.exr"
    target = tmp_path / "out.exr"
    task = bridge.Backend("IN_PROCESS").start(
        bridge.Request(str(sample), str(target), device="cpu", beauty_only=True))
    task.wait()
    assert task.error is None
    frame = load_frame(target)
    assert sorted(n for _, n in frame.image.channel_names()) == ["A", "B", "G", "R"]
    assert frame.color.shape == (192, 256, 3)


# --- in real Blender ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def blender_run(tmp_path_factory, blender_env):
    work = tmp_path_factory.mktemp("addon")
    (archive,) = build_addon(work / "dist")
    executable = Path(sys.executable).with_name("mcdenoise")
    executable = str(executable) if executable.exists() else shutil.which("mcdenoise")
    assert executable, "the mcdenoise console script is not installed"
    return _run_driver(DRIVER, [archive, work, executable], blender_env), work


def _run_driver(driver: Path, args: list, env: dict, timeout: int = 1200) -> dict:
    """Run a Blender driver script; its one JSON line of results."""
    done = subprocess.run([sys.executable, str(driver), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULTS ")]
    assert lines, f"driver failed ({done.returncode}):\n{done.stdout[-3000:]}\n" \
                  f"{done.stderr[-3000:]}"
    return json.loads(lines[-1].removeprefix("RESULTS "))


def _scenario(blender_run, name):
    results, work = blender_run
    result = results[name]
    assert "error" not in result, result.get("error")
    return result, work


@pytest.mark.blender
def test_addon_installs_as_an_extension(blender_run):
    result, _ = _scenario(blender_run, "install")
    assert result == {"result": ["FINISHED"], "enabled": True, "operator": True}


@pytest.mark.blender
@pytest.mark.parametrize("mode", ["IN_PROCESS", "EXTERNAL"])
def test_denoise_button(blender_run, mode):
    result, _ = _scenario(blender_run, "button")
    run = result[mode]
    assert run["result"] == ["FINISHED"] and run["shape"] == [48, 64, 3] and run["finite"]
    assert run["mse_denoised"] < run["mse_noisy"]  # closer to the 256-spp render
    assert run["format_after"] == "PNG"  # the scene's output format is restored
    if mode == "EXTERNAL":  # save_result was on: a PNG beside the output, in its format
        assert run["saved"] == ["still_0001_denoised.png"]
    else:
        assert run["saved"] == []


@pytest.mark.blender
def test_interface_queue_polls_work_to_the_end(blender_run):
    result, _ = _scenario(blender_run, "interface_queue")
    assert result["held_while_rendering"] == [1.0, 2, True]  # nothing starts mid-render
    assert result["result"] and result["progress_seen"] and result["polls"] > 2
    assert result["interval_when_idle"] == 1.0  # the timer keeps waiting for more work
    assert "mcdenoise Result" in result["message"] and not result["last_error"]


@pytest.mark.blender
def test_auto_denoise_after_a_still(blender_run):
    result, _ = _scenario(blender_run, "auto_still")
    assert result["result"] and result["finite"]
    assert "mcdenoise Result" in result["message"]


@pytest.mark.blender
def test_auto_denoise_animation_frames(blender_run):
    result, _ = _scenario(blender_run, "auto_animation")
    frames = ["frame_0001.exr", "frame_0002.exr", "frame_0003.exr"]
    exr = result["exr_folder"]
    assert exr["rendered"] == frames and exr["denoised"] == frames and not exr["last_error"]
    assert "Noisy Image" in exr["layers"] and "Denoising Albedo" in exr["layers"]
    assert exr["noisy_kept"] and exr["changed"]
    # with its neighbours and the blend: what the CLI gives the frame pattern (to half
    # float rounding), unlike --no-blend or frame by frame
    assert exr["vs_cli_sequence"] < 2e-3 and exr["vs_cli_no_blend"] > 1e-2
    assert exr["vs_cli_single"] > 1e-3 and exr["shot_folders"] == []
    # the interface's queue: each frame's first pass, each blend once the first passes
    # after it exist, through the external executable
    ui = result["interface"]
    assert ui["waiting_while_rendering"] == 1 and not ui["last_error"]
    assert ui["steps"] == [[1, "first"], [2, "first"], [3, "first"], [1, "blend"],
                           [2, "blend"], [3, "blend"]]
    assert ui["vs_cli_sequence"] < 2e-3 and ui["shot_folders"] == []
    no_blend = result["exr_no_blend"]
    assert no_blend["denoised"] == frames and not no_blend["last_error"]
    assert no_blend["vs_cli_no_blend"] < 2e-3
    png = result["png_folder"]
    assert png["denoised"] == [f.replace(".exr", ".png") for f in frames]
    assert not png["last_error"]
    replaced = result["exr_replace"]
    assert replaced["rendered"] == frames and replaced["denoised"] == []
    assert "Noisy Image" in replaced["layers"] and not replaced["last_error"]
    assert replaced["vs_folder"] < 2e-3 and replaced["leftovers"] == []
    assert replaced["shot_folders"] == []


@pytest.mark.blender
def test_cancel_mid_shot_leaves_no_shot_folder(blender_run):
    result, _ = _scenario(blender_run, "cancel_mid_shot")
    assert result["running"] and result["queue"] == 0
    # kept while the cancelled thread can still write into it, gone once it has ended
    assert len(result["during"]) == 1 and result["shot_folders"] == []
    assert result["outputs"] == [] and result["task_error"] is None


@pytest.mark.blender
def test_errors_are_reported_not_raised(blender_run):
    before, _ = _scenario(blender_run, "errors_before_render")
    assert "no render to denoise yet" in before["no_render"]
    assert "Denoising Data" in before["no_passes"]
    assert before["passes_after_setup"] and not before["cycles_denoiser_after_setup"]
    assert before["vector_after_setup"] and before["animated_seed_after_setup"]
    paths, _ = _scenario(blender_run, "error_paths")
    assert "is not an executable file" in paths["missing_executable"]
    assert paths["failing_subprocess"].strip() == "Error: the GPU caught fire"
    assert "no such model" in paths["missing_model"]
    assert paths["check"] == ["FINISHED"] and "in use: in-process" in paths["status"]
    animation, _ = _scenario(blender_run, "auto_animation")
    broken = animation["no_passes"]  # the render goes on, frames kept, the error reported
    assert len(broken["rendered"]) == 3 and broken["denoised"] == []
    assert "Denoising Data" in broken["last_error"]


@pytest.mark.blender
def test_disable_leaves_nothing_behind(blender_run):
    result, _ = _scenario(blender_run, "unregister")
    assert result == {"leftover_classes": [], "scene_property": False, "handlers": [],
                      "enabled": False}


@pytest.mark.blender
def test_addon_installs_as_a_legacy_addon(blender_run):
    result, _ = _scenario(blender_run, "legacy_install")
    assert result == {"enabled": True, "operator": True, "disabled_clean": True}


# --- the self-contained extension -----------------------------------------------------------

def test_inference_wheel_carries_the_inference_code_and_onnx_models(tmp_path):
    import base64
    import hashlib

    from mcdenoise.runtime_wheels import INFERENCE_MODULES, inference_wheel

    wheel = inference_wheel(tmp_path)
    assert wheel.name == f"mcdenoise-{__version__}-py3-none-any.whl"
    archive = zipfile.ZipFile(wheel)
    names = set(archive.namelist())
    assert {f"mcdenoise/{m}.py" for m in INFERENCE_MODULES} <= names
    assert {"mcdenoise/weights/default.onnx", "mcdenoise/weights/color.onnx"} <= names
    assert not any(n.endswith(("train.py", "data.py", ".safetensors")) for n in names)
    record = archive.read(f"mcdenoise-{__version__}.dist-info/RECORD").decode().splitlines()
    for line in record:
        path, digest, size = line.rsplit(",", 2)
        if digest:
            data = archive.read(path)
            expected = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            assert digest == f"sha256={expected.decode()}" and int(size) == len(data)


def test_the_inference_wheel_lists_every_module_inference_imports():
    from mcdenoise.runtime_wheels import INFERENCE_MODULES

    script = ("import json, sys, mcdenoise.denoise, mcdenoise.temporal, mcdenoise.backends, "
              "mcdenoise.frame, mcdenoise.passes; print(json.dumps(sorted({m.split('.')[1] "
              "for m in sys.modules if m.startswith('mcdenoise.')})))")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    imported = set(json.loads(done.stdout))
    assert imported - {"weights"} <= set(INFERENCE_MODULES), imported - set(INFERENCE_MODULES)


def test_manifest_gains_the_platform_and_its_wheels():
    from mcdenoise.addon import _with_runtime

    text = (Path(__file__).parents[1] / "blender_addon" / "blender_manifest.toml").read_text()
    out = _with_runtime(text, "windows-x64", [Path("a-1.whl"), Path("b-2.whl")])
    head, _, tables = out.partition("\n[")
    assert 'platforms = ["windows-x64"]' in head
    assert 'wheels = ["./wheels/a-1.whl", "./wheels/b-2.whl"]' in head
    assert tables.startswith("permissions]")


def test_unknown_platform_is_refused(tmp_path):
    from mcdenoise import McdenoiseError

    with pytest.raises(McdenoiseError, match="unknown platform"):
        build_addon(tmp_path, ("amiga-68k",))


@pytest.fixture(scope="module")
def extension_run(tmp_path_factory, blender_env):
    """The linux-x64 zip (runtime wheels fetched from PyPI) installed into sandboxed user
    folders, in a Blender without torch and without an mcdenoise on PATH."""
    work = tmp_path_factory.mktemp("extension")
    (archive,) = build_addon(work / "dist", ("linux-x64",), work / "wheels")
    env = dict(blender_env)
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if p and p != venv_bin and not (Path(p) / "mcdenoise")
                                  .exists())
    for name in ("RESOURCES", "CONFIG", "SCRIPTS", "DATAFILES", "EXTENSIONS"):
        env[f"BLENDER_USER_{name}"] = str(work / "user" / name.lower())
    return _run_driver(EXTENSION_DRIVER, [archive, work], env), archive


def _extension(extension_run, name):
    results, _ = extension_run
    assert "error" not in results[name], results[name].get("error")
    return results[name]


@pytest.mark.blender
@pytest.mark.slow
def test_extension_installs_and_uses_its_own_runtime_without_torch(extension_run):
    installed = _extension(extension_run, "install")
    assert installed == {"result": ["FINISHED"], "enabled": True,
                         "mcdenoise_from_wheel": True, "torch_importable": False}
    status = _extension(extension_run, "check")["status"]
    assert "in use: bundled runtime" in status and "not found" in status
    _, archive = extension_run
    assert archive.stat().st_size < 64 << 20


@pytest.mark.blender
@pytest.mark.slow
def test_extension_button_and_auto_denoise_beat_the_noisy_render(extension_run):
    button = _extension(extension_run, "button")
    assert button["result"] == ["FINISHED"] and button["finite"]
    assert button["mse_denoised"] < 0.5 * button["mse_noisy"]
    still = _extension(extension_run, "auto_denoise")
    assert still["finite"] and not still["last_error"]
    assert still["mse_denoised"] < 0.5 * still["mse_noisy"]
    animation = _extension(extension_run, "auto_denoise_animation")
    assert animation["rendered"] == animation["denoised"] == ["frame_0001.exr",
                                                              "frame_0002.exr"]


@pytest.mark.blender
@pytest.mark.slow
def test_extension_disable_leaves_nothing_behind(extension_run):
    assert _extension(extension_run, "unregister") == {
        "leftover_classes": [], "scene_property": False, "handlers": [], "enabled": False,
        "torch_loaded": False}



def test_inprocess_and_bundled_take_an_onnx_model(tmp_path):
    from mcdenoise.checkpoint import default_model_path
    from mcdenoise.frame import load_frame

    onnx = tmp_path / "default.onnx"
    assert CliRunner().invoke(main, ["export", str(default_model_path()), "-o",
                                     str(onnx)]).exit_code == 0
    sample = importlib.resources.files("mcdenoise.samples") / "sample_16spp.exr"
    for mode in ("IN_PROCESS", "BUNDLED"):
        target = tmp_path / f"{mode}.exr"
        task = bridge.Backend(mode).start(bridge.Request(str(sample), str(target),
                                                         model=str(onnx), device="cpu",
                                                         beauty_only=True))
        task.wait()
        assert task.error is None, task.error
        assert load_frame(target).color.shape == (192, 256, 3)
