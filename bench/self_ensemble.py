"""A flip / rotation self-ensemble, measured (a prototype; not in the package): each noisy
render is denoised once per transform (one of the 8 flips and quarter turns, applied to
the color and every feature pass, normals turned with the picture), each result is turned
back, and the results are averaged. Scored beside the plain model on every noisy render of
DATA that has a reference.

    python bench/self_ensemble.py data/field [--model M] [--spp 16] [--ensembles 0,4 0,4,1,5]

Each ensemble costs its number of transforms times the model's time. Numbers:
docs/benchmarks.md ("Session 27"): two transforms bought +0.05 dB at 16 spp for twice the
time, which is why it is not shipped.
"""

from __future__ import annotations

import argparse

import numpy as np

import mcdenoise
from mcdenoise.data import augment
from mcdenoise.evaluate import evaluate, means, table


def transform(image: np.ndarray | None, code: int, normal: bool = False) -> np.ndarray | None:
    """(H, W, C) or (H, W) planes turned by ``code`` as training augments them."""
    if image is None:
        return None
    planes = image[None] if image.ndim == 2 else image.transpose(2, 0, 1)
    out = augment(np.asarray(planes, np.float32), code, slice(0, 3) if normal else None)
    return out[0] if image.ndim == 2 else out.transpose(1, 2, 0)


def untransform(color: np.ndarray, code: int) -> np.ndarray:
    """The inverse of ``transform`` for an (H, W, 3) color."""
    planes = np.rot90(color.transpose(2, 0, 1), -(code % 4), axes=(1, 2))
    if code >= 4:
        planes = planes[:, :, ::-1]
    return np.ascontiguousarray(planes.transpose(1, 2, 0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--model", default=None, help="default: the bundled model")
    parser.add_argument("--spp", default="", help="only these sample counts, e.g. 4,16")
    parser.add_argument("--ensembles", nargs="+", default=["0,4"],
                        help="transform codes averaged (0: none, 4: mirror, 1-3 and 5-7: "
                             "quarter turns of each)")
    args = parser.parse_args()
    denoiser = mcdenoise.load_model(args.model, device="cpu", precision="auto")

    def ensemble(codes: list[int]):
        def run(frame):
            outs = [untransform(denoiser.denoise(
                transform(frame.color, code), transform(frame.albedo, code),
                transform(frame.normal, code, normal=True), transform(frame.depth, code)),
                code) for code in codes]
            return np.mean(outs, axis=0)
        return run

    methods = {"mcdenoise": lambda f: denoiser.denoise(f.color, f.albedo, f.normal, f.depth)}
    for spec in args.ensembles:
        codes = [int(c) for c in spec.split(",")]
        if any(not 0 <= c < 8 for c in codes):
            parser.error(f"--ensembles {spec}: codes are 0 to 7")
        methods[f"ensemble {spec}"] = ensemble(codes)
    spp = tuple(int(s) for s in args.spp.split(",") if s)
    scores, _ = evaluate(args.data, methods, use_flip=True, spp=spp, progress=False)
    print(table(means(scores), ("spp", "method"), seconds=False))


if __name__ == "__main__":
    main()
