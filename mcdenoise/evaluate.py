"""Scoring against references, side by side with the noisy input and Intel OIDN.

``evaluate`` walks a data folder in the training layout (``<scene>/<scene>_<spp>spp_s<seed>.exr``
plus ``<scene>/<scene>_ref.exr``), denoises every noisy render that has a reference and
scores each method with the metrics of ``metrics.py``. ``write_report`` turns the scores
into CSV, JSON and an HTML page with crops, error maps and bar charts.
"""

from __future__ import annotations

import csv
import html
import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from mcdenoise import McdenoiseError
from mcdenoise import metrics as m

METRICS = ("psnr", "relmse", "smape", "ssim", "flip")
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "relmse": False, "smape": False, "flip": False}
LABELS = {"psnr": "PSNR (dB)", "relmse": "relMSE", "smape": "SMAPE", "ssim": "SSIM",
          "flip": "FLIP"}
CROP = 128  # side of the report's crops


@dataclass
class Score:
    image: str
    scene: str
    spp: int
    method: str  # noisy, mcdenoise, oidn
    psnr: float
    relmse: float
    smape: float
    ssim: float
    flip: float  # nan when flip-evaluator is not installed
    seconds: float  # denoising time (0 for the noisy input)


@dataclass
class Panel:
    """One image of the report: crops (display values, H x W x 3 in [0, 1]) per method."""

    image: str
    crops: dict[str, np.ndarray] = field(default_factory=dict)
    errors: dict[str, np.ndarray] = field(default_factory=dict)  # (H, W) in [0, 1]


def scores_of(pred: np.ndarray, reference: np.ndarray, use_flip: bool
              ) -> tuple[dict[str, float], np.ndarray]:
    """Every metric of (H, W, 3) linear ``pred`` against ``reference``, and an error map:
    FLIP's when available, else the per-pixel relative squared error squashed into [0, 1]."""
    a, b = (torch.from_numpy(np.ascontiguousarray(x, np.float32)).permute(2, 0, 1)
            for x in (pred, reference))
    values = {"psnr": m.psnr_tonemapped(a, b).item(), "relmse": m.relmse(a, b).item(),
              "smape": m.smape(a, b).item(),
              "ssim": m.ssim(a, b).item() if min(pred.shape[:2]) >= 11 else math.nan,
              "flip": math.nan}
    if use_flip:
        values["flip"], error = m.flip(pred, reference)
    else:
        rel = ((pred - reference) ** 2 / (reference**2 + 0.01)).mean(axis=-1)
        error = rel / (1.0 + rel)
    return values, error


def _display(linear: np.ndarray) -> np.ndarray:
    return m.tonemap(torch.from_numpy(np.ascontiguousarray(linear))).numpy()


def _crop_window(error: np.ndarray, size: int) -> tuple[int, int]:
    """Top-left corner of the size x size window with the most error (the interesting one)."""
    height, width = error.shape
    if height <= size and width <= size:
        return 0, 0
    integral = np.pad(error.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sh, sw = min(size, height), min(size, width)
    sums = (integral[sh:, sw:] - integral[:-sh, sw:] - integral[sh:, :-sw]
            + integral[:-sh, :-sw])
    y, x = np.unravel_index(np.argmax(sums), sums.shape)
    return int(y), int(x)


Denoise = Callable[[object], np.ndarray]  # a Frame -> its denoised (H, W, 3) color


def evaluate(data: str | Path, methods: dict[str, Denoise], use_flip: bool,
             spp: tuple[int, ...] = (), panels: bool = False, progress: bool = True
             ) -> tuple[list[Score], list[Panel]]:
    """Score the noisy input and each of ``methods`` on every noisy render of ``data`` that
    has a reference. Each method is run once untimed first (warm-up)."""
    from tqdm import tqdm

    from mcdenoise.data import find_renders
    from mcdenoise.frame import load_beauty, load_frame

    pairs = []
    for scene, renders in find_renders(data, spp).items():
        reference = next((r for r in renders if r.seed < 0), None)
        if reference is not None:
            pairs += [(scene, r, reference) for r in renders if r.seed >= 0]
    if not pairs:
        raise McdenoiseError(f"{data}: no noisy render with a reference (<scene>_ref.exr); "
                             "render some with `mcdenoise render procedural ... "
                             "--reference-spp 1024`")
    scores: list[Score] = []
    report: list[Panel] = []
    warmed, ref_path, ref = False, None, None
    for scene, render, reference in tqdm(pairs, unit="image", disable=not progress):
        if reference.path != ref_path:  # a scene's renders come together: read its once
            ref_path, ref = reference.path, load_beauty(reference.path)
        frame = load_frame(render.path)
        if frame.color.shape != ref.shape:
            raise McdenoiseError(f"{render.path}: {frame.width}x{frame.height} but its "
                                 f"reference is {ref.shape[1]}x{ref.shape[0]}")
        if not warmed:
            for denoise in methods.values():
                denoise(frame)
            warmed = True
        outputs = {"noisy": (frame.color, 0.0)}
        for name, denoise in methods.items():
            start = time.perf_counter()
            result = denoise(frame)
            outputs[name] = (result, time.perf_counter() - start)
        panel = Panel(render.path.name)
        for name, (image, seconds) in outputs.items():
            values, error = scores_of(image, ref, use_flip)
            scores.append(Score(render.path.name, scene, render.spp, name, **values,
                                seconds=seconds))
            panel.errors[name] = error
        if panels:
            worst = panel.errors.get("mcdenoise", panel.errors["noisy"])
            y, x = _crop_window(worst, CROP)
            window = (slice(y, y + CROP), slice(x, x + CROP))
            for name, (image, _) in outputs.items():
                panel.crops[name] = _display(image[window])
                panel.errors[name] = panel.errors[name][window]
            panel.crops["reference"] = _display(ref[window])
            report.append(panel)
    return scores, report


def means(scores: list[Score]) -> list[dict]:
    """Mean of every metric per (spp, method), in the order first seen."""
    groups: dict[tuple[int, str], list[Score]] = {}
    for score in scores:
        groups.setdefault((score.spp, score.method), []).append(score)
    rows = []
    for (spp, method), group in groups.items():
        row = {"spp": spp, "method": method, "images": len(group)}
        for key in (*METRICS, "seconds"):
            values = [getattr(s, key) for s in group]
            row[key] = float(np.mean(values)) if not all(map(math.isnan, values)) else math.nan
        rows.append(row)
    return rows


def _fmt(key: str, value: float) -> str:
    if isinstance(value, float) and math.isnan(value):
        return "-"
    if key == "psnr":
        return f"{value:.2f}" if math.isfinite(value) else "inf"
    if key == "seconds":
        return f"{value:.3f}"
    return f"{value:.4f}"


def table(rows: list[dict], first: tuple[str, ...], seconds: bool = True) -> str:
    """A plain-text table of dict rows: the ``first`` columns, then metrics (and seconds)."""
    columns = [*first, *METRICS, *(("seconds",) if seconds else ())]
    heads = [LABELS.get(c, "s/image" if c == "seconds" else c) for c in columns]
    body = [[str(row[c]) if c in first else _fmt(c, row[c]) for c in columns] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) for i, h in enumerate(heads)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(heads, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in body]
    return "\n".join(lines)


# --- the report ---------------------------------------------------------------------------------

_COLORMAP = np.array([[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66],
                      [245, 125, 21], [250, 193, 39], [252, 255, 164]], np.float32) / 255


def colorize(error: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1] -> (H, W, 3) with a magma-like colour map."""
    position = np.clip(error, 0, 1) * (len(_COLORMAP) - 1)
    low = np.floor(position).astype(int).clip(0, len(_COLORMAP) - 2)
    frac = (position - low)[..., None]
    return _COLORMAP[low] * (1 - frac) + _COLORMAP[low + 1] * frac


def save_png(path: Path, rgb: np.ndarray) -> None:
    import imageio.v3 as iio

    path.parent.mkdir(parents=True, exist_ok=True)
    iio.imwrite(path, (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8))


def _bar_chart(rows: list[dict], key: str) -> str:
    """An inline SVG bar chart of one metric's means, one bar per (spp, method)."""
    values = [(f"{r['spp']} spp {r['method']}", r[key]) for r in rows
              if not math.isnan(r[key]) and math.isfinite(r[key])]
    if not values:
        return ""
    top = max(v for _, v in values) or 1.0
    bar, gap, width = 22, 6, 420
    height = len(values) * (bar + gap) + 30
    parts = [f'<svg width="{width + 200}" height="{height}" xmlns="http://www.w3.org/2000/svg" '
             'font-family="sans-serif" font-size="12">',
             f'<text x="0" y="14" font-weight="bold">{html.escape(LABELS[key])} '
             f'({"higher" if HIGHER_IS_BETTER[key] else "lower"} is better)</text>']
    colors = {"noisy": "#999999", "mcdenoise": "#d9480f", "oidn": "#1c7ed6"}
    for i, (label, value) in enumerate(values):
        y = 24 + i * (bar + gap)
        length = max(1.0, width * value / top)
        color = colors.get(label.split()[-1], "#555555")
        parts.append(f'<text x="0" y="{y + 15}">{html.escape(label)}</text>'
                     f'<rect x="150" y="{y}" width="{length * 0.8:.1f}" height="{bar}" '
                     f'fill="{color}"/><text x="{155 + length * 0.8:.1f}" y="{y + 15}">'
                     f'{_fmt(key, value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def write_report(out: str | Path, scores: list[Score], panels: list[Panel],
                 settings: dict) -> list[Path]:
    """scores.csv, scores.json, report.html (+ images/) in ``out``; returns the files."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = means(scores)
    written = [out / "scores.csv", out / "scores.json", out / "report.html"]
    with (out / "scores.csv").open("w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(asdict(scores[0])))
        writer.writeheader()
        writer.writerows(asdict(s) for s in scores)
    document = {"settings": settings, "means": rows, "images": [asdict(s) for s in scores]}
    (out / "scores.json").write_text(json.dumps(document, indent=1, allow_nan=True) + "\n")
    methods = [name for name in ("noisy", "mcdenoise", "oidn") if any(
        s.method == name for s in scores)]
    body = [f"<h1>mcdenoise evaluate</h1><p>{html.escape(json.dumps(settings))}</p>",
            "<h2>Means</h2><pre>" + html.escape(table(rows, ("spp", "method", "images")))
            + "</pre>"]
    body += [_bar_chart(rows, key) for key in METRICS]
    body.append(f"<h2>Images</h2><p>Crops ({CROP}x{CROP}, where mcdenoise's error is largest), "
                "tonemapped; below each, its error against the reference "
                f"({'FLIP' if settings.get('flip') else 'relative squared error'}, "
                "black = none).</p><table><tr><th>image</th>"
                + "".join(f"<th>{name}</th>" for name in [*methods, "reference"]) + "</tr>")
    for index, panel in enumerate(panels):
        cells = []
        for name in [*methods, "reference"]:
            crop = out / "images" / f"{index:03d}_{name}.png"
            save_png(crop, panel.crops[name])
            written.append(crop)
            cell = f'<img src="images/{crop.name}" width="192">'
            if name in panel.errors:
                error = out / "images" / f"{index:03d}_{name}_error.png"
                save_png(error, colorize(panel.errors[name]))
                written.append(error)
                score = next(s for s in scores if s.image == panel.image and s.method == name)
                cell += (f'<br><img src="images/{error.name}" width="192"><br>'
                         f"{score.psnr:.2f} dB")
            cells.append(f"<td>{cell}</td>")
        body.append(f"<tr><td>{html.escape(panel.image)}</td>{''.join(cells)}</tr>")
    body.append("</table>")
    (out / "report.html").write_text(
        "<!doctype html><html><head><meta charset='utf-8'><title>mcdenoise evaluate</title>"
        "<style>body{font-family:sans-serif} td{vertical-align:top;text-align:center}</style>"
        "</head><body>" + "\n".join(body) + "</body></html>\n")
    return written
