"""Denoising speed and peak memory, mcdenoise side by side with Intel Open Image Denoise.

    python bench/denoise.py [--sizes 1080p,4k,8k] [--precisions fp32,bf16] [--model PATH]
                            [--device cpu] [--repeat 2] [--no-oidn]

Each measurement runs in a fresh process (so peak memory is that of one job): the frame is
the shipped sample render tiled up to the size, with albedo, normal and depth. mcdenoise
time covers features, network and output (not EXR I/O); OIDN (pyoidn, quality high, HDR,
albedo + normal prefiltered as Blender's "Accurate") covers its prefilters and main filter.
Peak memory is the process's maximum resident set size. Numbers go to docs/benchmarks.md.
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
    if args.one == "oidn":
        from mcdenoise.oidn import oidn_denoise

        def run():
            return oidn_denoise(frame["color"], frame["albedo"], frame["normal"])
    else:
        import torch

        from mcdenoise.denoise import load_model

        torch.set_num_threads(os.cpu_count() or 1)
        denoiser = load_model(args.model, device=args.device, precision=args.precision)

        def run():
            return denoiser.denoise(**frame)
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
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--model")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--no-oidn", action="store_true", help="mcdenoise only (e.g. at 8K, "
                        "where OIDN needs ~16 GB)")
    parser.add_argument("--one", choices=["mcdenoise", "oidn"], help=argparse.SUPPRESS)
    parser.add_argument("--size", help=argparse.SUPPRESS)
    parser.add_argument("--precision", default="fp32", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _one(args)
        return
    print(f"{'size':6} {'denoiser':18} {'s/frame':>8} {'peak MB':>8} {'vs OIDN':>8}")
    for size in args.sizes.split(","):
        results = {}
        for name, precision in [("oidn", "fp32")] * (not args.no_oidn) + [
                ("mcdenoise", p) for p in args.precisions.split(",")]:
            command = [sys.executable, __file__, "--one", name, "--size", size, "--precision",
                       precision, "--device", args.device, "--repeat", str(args.repeat)]
            if args.model:
                command += ["--model", args.model]
            done = subprocess.run(command, capture_output=True, text=True)
            if done.returncode != 0:
                print(f"{size:6} {name} {precision}: failed: {done.stderr.strip()[-300:]}")
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            label = "oidn (high)" if name == "oidn" else f"mcdenoise {precision}"
            results[label] = result
            ratio = (f"{results['oidn (high)']['seconds'] / result['seconds']:7.2f}x"
                     if "oidn (high)" in results else "       -")
            print(f"{size:6} {label:18} {result['seconds']:8.2f} {result['peak_mb']:8.0f} "
                  f"{ratio}", flush=True)


if __name__ == "__main__":
    main()
