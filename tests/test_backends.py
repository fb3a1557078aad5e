"""Inference backends: ONNX export of every kind of model, ONNX Runtime agreeing with torch
(tiled and untiled), and inference that imports neither training code nor torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import write_mc_render

from mcdenoise.checkpoint import default_model_path, save_checkpoint
from mcdenoise.cli import main
from mcdenoise.config import load_config
from mcdenoise.denoiser import DEFAULT_MAX_MEMORY, load_model
from mcdenoise.frame import load_beauty
from mcdenoise.model import build_model

pytest.importorskip("onnxruntime")


def _tonemap(x):
    x = np.maximum(x, 0.0)
    return (x / (1.0 + x)) ** (1 / 2.2)


def _frame(rng, height, width):
    color = (rng.random((height, width, 3)) ** 3 * 6).astype(np.float32)
    albedo = rng.random((height, width, 3)).astype(np.float32)
    normal = (rng.random((height, width, 3)) * 2 - 1).astype(np.float32)
    depth = (rng.random((height, width)) * 5).astype(np.float32)
    return color, albedo, normal, depth


@pytest.fixture(params=["nearest", "bilinear", "bilinear+albedo_kernel", "bilinear+prefilter",
                        "bilinear+prefilter+keep", "bilinear+residual"])
def checkpoint(tmp_path, request):
    config = load_config("tiny")
    config.model.output, config.model.kernel_scales = "kernel", 2
    config.model.kernel_upsample = request.param.split("+")[0]
    config.model.albedo_kernel = request.param.endswith("albedo_kernel")
    config.model.kernel_residual = request.param.endswith("residual")
    if "prefilter" in request.param:  # the prefilter travels inside the model
        config.model.prefilter_width, config.model.prefilter_depth = 4, 2
        config.model.prefilter_keep = request.param.endswith("keep")  # and the noisy ones
    path = tmp_path / "tiny.pt"
    model = build_model(config)
    if config.model.kernel_residual:  # a correction that is not zero, so it is exercised
        import torch

        with torch.no_grad():
            model.out.bias[-3:] = torch.tensor([0.3, -0.2, 0.1])
    save_checkpoint(path, model, config, step=3)
    return path


def test_onnx_runtime_matches_torch_tiled_and_untiled(tmp_path, checkpoint):
    onnx = tmp_path / "tiny.onnx"
    assert CliRunner().invoke(main, ["export", str(checkpoint), "-o", str(onnx)]).exit_code == 0
    torch_model = load_model(checkpoint, device="cpu", backend="torch", precision="fp32")
    import onnx as onnx_format

    # the kernels' softmax is normalised after filtering: no Softmax node, which ONNX Runtime
    # runs slowly over channels (a third of the color network's time)
    assert "Softmax" not in {node.op_type for node in onnx_format.load(onnx).graph.node}
    ort_model = load_model(onnx)  # an .onnx file picks ONNX Runtime
    assert ort_model.backend.name == "onnxruntime" and torch_model.backend.name == "torch"
    # a prefilter is a second graph, run as a stage of its own as in torch: each backend's
    # color network reaches only as far as itself
    assert (ort_model.prefilter is None) == (torch_model.prefilter is None)
    for a, b in [(ort_model, torch_model), (ort_model.prefilter, torch_model.prefilter)]:
        if a is not None:
            assert a.backend.geometry == b.backend.geometry
    if ort_model.prefilter is not None:
        assert ort_model.prefilter.backend.name == "onnxruntime"
        converted = load_model(checkpoint, backend="onnxruntime")  # exported in memory
        assert converted.prefilter.backend.geometry == ort_model.prefilter.backend.geometry
    rng = np.random.default_rng(0)
    frame = _frame(rng, 150, 171)  # not a multiple of the alignment
    for tile in (None, 64):
        a = torch_model.denoise(*frame, tile=tile)
        b = ort_model.denoise(*frame, tile=tile)
        assert np.abs(_tonemap(a) - _tonemap(b)).mean() < 1e-4, tile


def test_the_bundled_model_agrees_in_both_backends(tmp_path):
    onnx = tmp_path / "default.onnx"
    result = CliRunner().invoke(main, ["export", str(default_model_path()), "-o", str(onnx)])
    assert result.exit_code == 0, result.output
    rng = np.random.default_rng(1)
    frame = _frame(rng, 96, 120)
    a = load_model(backend="torch", device="cpu", precision="fp32").denoise(*frame)
    b = load_model(onnx).denoise(*frame)
    assert np.abs(_tonemap(a) - _tonemap(b)).mean() < 1e-4
    converted = load_model(default_model_path(), backend="onnxruntime")  # in memory
    np.testing.assert_allclose(converted.denoise(*frame), b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_the_prefilter_takes_half_the_memory_budget_in_onnx_runtime(monkeypatch, backend):
    # ONNX Runtime's arena keeps the color network's tiles while the prefilter runs, so the
    # two together stay near the budget only if the prefilter's tiles take half of it;
    # torch frees the color network's memory, and the prefilter takes all of it
    model = load_model(backend=backend, device="cpu", precision="fp32")
    assert model.prefilter is not None  # the bundled model carries one
    budgets, run_tiled = [], model.prefilter.run_tiled

    def spy(network_input, *args, max_memory, **kwargs):
        budgets.append(max_memory)
        return run_tiled(network_input, *args, max_memory=max_memory, **kwargs)

    monkeypatch.setattr(model.prefilter, "run_tiled", spy)
    frame = _frame(np.random.default_rng(2), 64, 80)
    model.denoise(*frame)
    model.denoise(*frame, max_memory=256 << 20)
    share = 2 if backend == "onnxruntime" else 1
    assert budgets == [DEFAULT_MAX_MEMORY // share, (256 << 20) // share]


@pytest.mark.parametrize("name", ["color", "gaussian"])
def test_every_shipped_kind_exports_with_its_provenance(tmp_path, name):
    from mcdenoise.backends import file_digest, read_onnx_metadata
    from mcdenoise.checkpoint import load_weights

    source = default_model_path(name)
    onnx = tmp_path / f"{name}.onnx"
    assert CliRunner().invoke(main, ["export", str(source), "-o", str(onnx)]).exit_code == 0
    meta = read_onnx_metadata(onnx)
    _, config, info = load_weights(source)
    assert meta["config"] == config and meta["source_sha256"] == file_digest(source)
    assert meta["info"]["note"] == info["note"]
    a, b = load_model(source, backend="torch", device="cpu",
                                                         precision="fp32"), load_model(onnx)
    rng = np.random.default_rng(2)
    color = rng.random((40, 56, 3)).astype(np.float32)
    assert np.abs(a.denoise(color) - b.denoise(color)).mean() < 1e-4
    assert b.ldr == (name == "gaussian")


def test_an_onnx_model_in_the_torch_backend_is_an_error(tmp_path, checkpoint):
    onnx = tmp_path / "m.onnx"
    CliRunner().invoke(main, ["export", str(checkpoint), "-o", str(onnx)])
    write_mc_render(tmp_path / "r.exr", np.ones((16, 16, 3), np.float32),
                    np.ones((16, 16, 3), np.float32), np.ones((16, 16, 3), np.float32),
                    np.ones((16, 16), np.float32))
    result = CliRunner().invoke(main, ["denoise", str(tmp_path / "r.exr"), "-o",
                                       str(tmp_path / "o.exr"), "--model", str(onnx),
                                       "--backend", "torch"])
    assert result.exit_code == 1 and "runs in the onnxruntime backend" in result.output


NO_TRAINING = textwrap.dedent("""
    import sys
    import mcdenoise.denoise, mcdenoise.frame, mcdenoise.backends, mcdenoise.jobs
    import mcdenoise.denoiser, mcdenoise.temporal
    training = ("train", "data", "loss", "checkpoint", "experiment", "model", "render",
                "metrics")
    found = sorted(m for m in sys.modules if m.startswith("mcdenoise.")
                   and m.split(".")[1] in training)
    print("FOUND=" + ",".join(found) + ";TORCH=" + str("torch" in sys.modules))
""")


def test_importing_inference_pulls_in_no_training_module_and_no_torch():
    done = subprocess.run([sys.executable, "-c", NO_TRAINING], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "FOUND=;TORCH=False"


WITHOUT_TORCH = textwrap.dedent("""
    import importlib.abc, sys
    class NoTorch(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError("torch is not installed here")
            return None
    sys.meta_path.insert(0, NoTorch())
    from mcdenoise.cli import main
    sys.argv = ["mcdenoise", "denoise", *sys.argv[1:]]
    main()
""")


def test_denoising_with_an_onnx_model_needs_no_torch(tmp_path, checkpoint):
    onnx = tmp_path / "m.onnx"
    CliRunner().invoke(main, ["export", str(checkpoint), "-o", str(onnx)])
    rng = np.random.default_rng(3)
    write_mc_render(tmp_path / "r.exr", *_frame(rng, 40, 48))
    done = subprocess.run([sys.executable, "-c", WITHOUT_TORCH, str(tmp_path / "r.exr"), "-o",
                           str(tmp_path / "o.exr"), "--model", str(onnx)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    expected = load_model(checkpoint, device="cpu", backend="torch",
                          precision="fp32").denoise(
        *(_frame(np.random.default_rng(3), 40, 48)))
    written = load_beauty(tmp_path / "o.exr")
    assert np.abs(_tonemap(written) - _tonemap(expected)).mean() < 1e-3  # half floats


def test_auto_backend_choice():
    from pathlib import Path

    from mcdenoise.denoiser import choose_backend

    assert choose_backend("torch", "auto", None) == "torch"
    assert choose_backend("auto", "auto", Path("m.onnx")) == "onnxruntime"
    assert choose_backend("auto", "cuda", None) == "torch"
    assert choose_backend("auto", "cpu", None) == "torch"  # the faster on the CPU, measured
