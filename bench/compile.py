"""Does torch.compile pay for CPU inference? Eager (BatchNorm folded, channels-last, what
`mcdenoise denoise` runs) against the same network through torch.compile (inductor).

    python bench/compile.py [--model PATH] [--size 512] [--repeat 5] [--freezing]

One network input of size x size (the shipped sample's features tiled up), timed after a
warm-up; the compiled model's first call (its compile time) is reported apart, and the
largest difference between the two outputs; --freezing turns on inductor's freezing (weights
as constants, prepacked for oneDNN), its mode for CPU inference. Numbers go to
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch


def _best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--freezing", action="store_true")
    args = parser.parse_args()
    if args.freezing:
        from torch._inductor import config as inductor_config

        inductor_config.freezing = True
    torch.set_num_threads(os.cpu_count() or 1)

    import importlib.resources

    from mcdenoise.denoiser import load_model
    from mcdenoise.features import build_input, frame_stats
    from mcdenoise.frame import load_frame

    denoiser = load_model(args.model, device="cpu", precision="fp32")
    sample = importlib.resources.files("mcdenoise.samples") / "sample_16spp.exr"
    frame = load_frame(str(sample))
    stats = frame_stats(frame.color, frame.depth)
    planes = build_input(frame.color, denoiser.config.input, stats, frame.albedo, frame.normal,
                         frame.depth)
    reps = (1, -(-args.size // planes.shape[1]), -(-args.size // planes.shape[2]))
    window = np.ascontiguousarray(np.tile(planes, reps)[:, :args.size, :args.size])
    x = torch.from_numpy(window)[None].contiguous(memory_format=torch.channels_last)

    eager = denoiser.model
    compiled = torch.compile(eager)
    with torch.inference_mode():
        reference = eager(x)
        eager_s = _best(lambda: eager(x), args.repeat)
        start = time.perf_counter()
        result = compiled(x)
        first_s = time.perf_counter() - start
        compiled_s = _best(lambda: compiled(x), args.repeat)
    print(json.dumps({
        "size": args.size, "model": denoiser.name, "eager_s": round(eager_s, 4),
        "compiled_s": round(compiled_s, 4), "speedup": round(eager_s / compiled_s, 3),
        "compile_first_call_s": round(first_s, 2), "freezing": args.freezing,
        "max_abs_diff": float((result - reference).abs().max()),
        "torch": torch.__version__}))


if __name__ == "__main__":
    main()
