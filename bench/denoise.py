"""Denoising speed and peak memory, mcdenoise's backends side by side with Intel Open Image
Denoise.

    python bench/denoise.py [--sizes 1080p,4k,8k] [--backends torch,onnxruntime]
                            [--precisions fp32,bf16] [--model PATH] [--device cpu]
                            [--repeat 2] [--no-oidn]

Each measurement runs in a fresh process (so peak memory is that of one job), warm (the
best of --repeat runs after the model is loaded): the frame is the shipped sample render
tiled up to the size, with albedo, normal and depth. mcdenoise time covers features,
network and output (not EXR I/O), per backend (torch at each precision; ONNX Runtime
fp32); OIDN (pyoidn, quality high, HDR) runs as Blender's "Accurate" (albedo and normal
prefiltered: three filters per frame) and plain (one filter, noisy auxiliaries). Peak
memory is the process's maximum resident set size. Numbers go to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

SIZES = {"1080p": (1080, 1920), "4k": (2160, 3840), "8k": (4320, 7680)}


def _frame(height: int, width: int) -> dict[str, np.ndarray]:
    import importlib.resources

    from mcdenoise.frame import load_frame

    sample = importlib.resources.files("mcdenoise.samples") / "sample_16spp.exr"
    frame = load_frame(str(sample))

    def grow(a):
        reps = (-(-height // a.shape[0]), -(-width // a.shape[1])) + (1,) * (a.ndim - 2)
        return np.ascontiguousarray(np.tile(a, reps)[:height, :width])

    return {"color": grow(frame.color), "albedo": grow(frame.albedo),
            "normal": grow(frame.normal), "depth": grow(frame.depth)}


def _one(args: argparse.Namespace) -> None:
    """Child process: one (denoiser, size, precision) measurement, printed as JSON."""
    height, width = SIZES[args.size]
    frame = _frame(height, width)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if args.one in ("oidn", "oidn-plain"):
        from mcdenoise.oidn import oidn_denoise

        def run():
            return oidn_denoise(frame["color"], frame["albedo"], frame["normal"],
                                prefilter=args.one == "oidn")
    else:
        from mcdenoise.denoiser import load_model

        denoiser = load_model(args.model, device=args.device, precision=args.precision,
                              backend=args.backend, threads=os.cpu_count() or 1)
        run = lambda: denoiser.denoise(**frame)  # noqa: E731
        run()  # warm: first-run allocations and graph set-up are not a frame's time
    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        run()
        timings.append(time.perf_counter() - started)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": min(timings), "peak_mb": peak / 1024,
                      "frame_mb": base_rss / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1080p,4k")
    parser.add_argument("--precisions", default="fp32,bf16", help="torch precisions")
    parser.add_argument("--backends", default="torch,onnxruntime")
    parser.add_argument("--model")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-oidn", action="store_true", help="mcdenoise only (e.g. at 8K, "
                        "where OIDN needs ~16 GB)")
    parser.add_argument("--one", choices=["mcdenoise", "oidn", "oidn-plain"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--backend", default="torch", help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="fp32", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _one(args)
        return
    print(f"{'size':6} {'denoiser':24} {'s/frame':>8} {'peak MB':>8} {'vs OIDN':>8}")
    runs = [("oidn", "torch", "fp32"), ("oidn-plain", "torch", "fp32")] * (not args.no_oidn)
    for backend in args.backends.split(","):
        precisions = args.precisions.split(",") if backend == "torch" else ["fp32"]
        runs += [("mcdenoise", backend, p) for p in precisions]
    for size in args.sizes.split(","):
        results = {}
        for name, backend, precision in runs:
            command = [sys.executable, __file__, "--one", name, "--size", size, "--precision",
                       precision, "--device", args.device, "--repeat", str(args.repeat),
                       "--backend", backend]
            if args.model:
                command += ["--model", args.model]
            done = subprocess.run(command, capture_output=True, text=True)
            label = {"oidn": "oidn high, prefiltered", "oidn-plain": "oidn high, plain"}.get(
                name, f"mcdenoise {backend} {precision}")
            if done.returncode != 0:
                print(f"{size:6} {label}: failed: {done.stderr.strip()[-300:]}")
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            results[label] = result
            base = results.get("oidn high, prefiltered")
            ratio = f"{result['seconds'] / base['seconds']:7.2f}x" if base else "       -"
            print(f"{size:6} {label:24} {result['seconds']:8.2f} {result['peak_mb']:8.0f} "
                  f"{ratio}", flush=True)


if __name__ == "__main__":
    main()
