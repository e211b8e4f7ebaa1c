"""The overlay as a figure: smoothly enlarged, with a colour bar in physical units and a scale bar in µm.

    fig = render_figure(frame, ep_map, levels=(0, 255), limit=limit, pixel_size=0.1, rate=True)
    write_image(fig.rgb, "figure.png")       # export.write_image: PNG or TIFF; write_overlay_movie: MP4, AVI

The colours are those of `export.overlay_rgb` (and of the app), computed at the figure's resolution from the
frame and the map, each interpolated bilinearly. The map's values are EP per frame pixel; the colour bar says
them per µm² (divided by the pixel area) or, when the pixel size is unknown, per pixel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .export import diverging_lut, lut_index, overlay_rgb, window_at
from .maps import time_average
from .movie import Movie
from .run import TEST, Run

LONG_SIDE = 512   # pixels of the image's long side at the default scale


@dataclass
class Figure:
    rgb: np.ndarray                              # (height, width, 3) uint8, the whole figure
    scale: float                                 # figure pixels per movie pixel
    image: tuple[int, int, int, int]             # x0, y0, x1, y1 of the enlarged overlay (ends exclusive)
    colour_bar: tuple[int, int, int, int]        # x0, y0, x1, y1 of the colour bar
    ticks: list[tuple[float, int]]               # (labelled value in `unit`, row) of each tick of the colour bar
    unit: str
    scale_bar: tuple[float, int, int, int, int] | None   # (length in µm, x0, y0, x1, y1), None without pixel size


def known_pixel_size(movie: Movie) -> float | None:
    """The movie's pixel size in µm, or None when nobody gave one (the default 1 µm, not in the file):
    a scale bar would then claim a length nobody measured. Binning b makes the default b µm, still unmeasured."""
    binned = movie.provenance.get("preprocess", {}).get("bin", 1)
    return movie.pixel_size if movie.pixel_size_source != "default" or movie.pixel_size != binned else None


def default_scale(frame_shape: tuple[int, int]) -> float:
    """Enlarge small frames to LONG_SIDE pixels on the long side; larger ones stay as they are."""
    return max(1.0, LONG_SIDE / max(frame_shape))


def resample(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear interpolation of a 2-D array to `shape`, pixel centres aligned (edges held constant)."""
    out = np.asarray(a, dtype=np.float32)
    for axis, n in enumerate(shape):
        size = out.shape[axis]
        x = np.clip((np.arange(n) + 0.5) * size / n - 0.5, 0, size - 1)
        i = np.minimum(x.astype(np.intp), size - 2) if size > 1 else np.zeros(n, np.intp)
        w = (x - i).astype(np.float32) if size > 1 else np.zeros(n, np.float32)
        lo, hi = np.take(out, i, axis=axis), np.take(out, np.minimum(i + 1, size - 1), axis=axis)
        w = w.reshape([-1 if k == axis else 1 for k in range(out.ndim)])
        out = lo + w * (hi - lo)
    return out


def round_length(x: float) -> float:
    """The 1, 2 or 5 times a power of ten nearest to x (on a log scale)."""
    k = math.floor(math.log10(x))
    return min((m * 10.0 ** e for e in (k, k + 1) for m in (1, 2, 5)), key=lambda c: abs(math.log(c / x)))


def _tick_step(limit: float) -> float:
    """The largest 1, 2 or 5 times a power of ten that fits twice into `limit`: two to three ticks a side."""
    k = math.floor(math.log10(limit / 2))
    return max(m * 10.0 ** e for e in (k - 1, k) for m in (1, 2, 5) if m * 10.0 ** e <= limit / 2)


@lru_cache(maxsize=8)
def _font(size: int) -> tuple[ImageFont.ImageFont, bool]:
    """A font of `size` pixels and whether it has µ, ² and the minus sign. DejaVu Sans, found by Pillow among
    the system's fonts, has them; Pillow's own font (scalable only with FreeType) has ASCII only."""
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size), True
    except OSError:
        return ImageFont.load_default(size=size), False


def _text(text: str, unicode: bool) -> str:
    return text if unicode else text.replace("µ", "u").replace("²", "^2").replace("−", "-")


def _format(value: float) -> str:
    return f"{value:.3g}".replace("-", "−")


def map_unit(pixel_size: float | None, rate: bool, error: bool = False) -> str:
    per = "per µm²" if pixel_size else "per pixel"
    if error:
        return f"standard error of the EP rate (k_B/s {per})"
    return f"EP rate (k_B/s {per})" if rate else f"EP, this transition (k_B {per})"


def render_figure(frame: np.ndarray, ep_map: np.ndarray | None, levels: tuple[float, float], limit: float, *,
                  opacity: float = 0.7, frame_lut: np.ndarray | None = None, pixel_size: float | None = None,
                  rate: bool = True, error: bool = False, scale: float | None = None) -> Figure:
    """The overlay of `ep_map` (EP per pixel of `frame`, colours from -limit to +limit) on `frame`, enlarged
    `scale` times (default: `default_scale`), with the colour bar and, when `pixel_size` (µm) is known, a scale
    bar of a round length about a fifth of the width. `rate`: the map is per second (else per transition);
    `error`: it is the standard error of a time-averaged map."""
    h, w = frame.shape
    scale = default_scale(frame.shape) if scale is None else scale
    if not scale > 0:
        raise ValueError(f"the figure's scale must be positive, not {scale}")
    out_h, out_w = max(1, round(h * scale)), max(1, round(w * scale))
    image = overlay_rgb(resample(frame, (out_h, out_w)),
                        None if ep_map is None else resample(ep_map, (out_h, out_w)), levels, limit, opacity,
                        frame_lut)
    size = max(12, round(max(out_h, 256) / 22))
    font, unicode = _font(size)
    pad, bar_w, tick_len = size, max(12, size), max(4, size // 3)
    unit = map_unit(pixel_size, rate, error)
    per_unit = pixel_size ** 2 if pixel_size else 1.0   # map value of one unit on the colour bar
    step = _tick_step(limit / per_unit)
    n = math.floor(limit / per_unit / step + 1e-9)
    values = [k * step for k in range(n, -n - 1, -1)]
    labels = [_text(_format(v), unicode) for v in values]
    label_w = max(font.getbbox(t)[2] for t in labels)
    unit_text = _text(unit, unicode)
    bar_x0 = pad + out_w + pad
    width = max(bar_x0 + bar_w + tick_len + size // 3 + label_w + pad, pad + font.getbbox(unit_text)[2] + pad)
    height = pad + out_h + size // 2 + round(1.4 * size) + pad
    canvas = np.full((height, width, 3), 255, np.uint8)
    canvas[pad:pad + out_h, pad:pad + out_w] = image
    # Colour bar: +limit at the top, each row the table's colour at the value of its centre.
    row_values = limit - (np.arange(out_h) + 0.5) / out_h * 2 * limit
    canvas[pad:pad + out_h, bar_x0:bar_x0 + bar_w] = diverging_lut()[lut_index(row_values, -limit, limit), None, :3]
    ticks = [(v, pad + min(out_h - 1, int((limit - v * per_unit) / (2 * limit) * out_h))) for v in values]

    picture = Image.fromarray(canvas)
    draw = ImageDraw.Draw(picture)
    draw.rectangle([bar_x0 - 1, pad - 1, bar_x0 + bar_w, pad + out_h], outline=(0, 0, 0))
    for (v, y), text in zip(ticks, labels):
        draw.line([bar_x0 + bar_w, y, bar_x0 + bar_w + tick_len, y], fill=(0, 0, 0))
        draw.text((bar_x0 + bar_w + tick_len + size // 3, y), text, font=font, fill=(0, 0, 0), anchor="lm")
    draw.text((pad, pad + out_h + size // 2), unit_text, font=font, fill=(0, 0, 0), anchor="la")
    bar = None
    if pixel_size:
        um = round_length(w * pixel_size / 5)
        length = round(um / pixel_size * scale)
        thick = max(3, round(out_h / 60))
        x1, y1 = pad + out_w - size, pad + out_h - size // 2
        x0, y0 = x1 - length, y1 - thick
        # White on a black rim, so it reads on bright and dark frames alike.
        draw.rectangle([x0 - 1, y0 - 1, x1, y1], fill=(0, 0, 0))
        draw.rectangle([x0, y0, x1 - 1, y1 - 1], fill=(255, 255, 255))
        draw.text(((x0 + x1) / 2, y0 - 3), _text(f"{um:g} µm", unicode), font=font, fill=(255, 255, 255),
                  anchor="md", stroke_width=1, stroke_fill=(0, 0, 0))
        bar = (um, x0, y0, x1, y1)
    return Figure(rgb=np.asarray(picture), scale=scale, image=(pad, pad, pad + out_w, pad + out_h),
                  colour_bar=(bar_x0, pad, bar_x0 + bar_w, pad + out_h), ticks=ticks, unit=unit, scale_bar=bar)


def figure_renderer(frames: np.ndarray, run: Run | None, mean: bool, levels: tuple[float, float], limit: float,
                    *, hide_uncertain: bool = False, error: bool = False, **options):
    """`render(movie, frame) -> Figure` of a run's maps over `frames` (movies, frames, H, W): the time-averaged
    map if `mean` (with `hide_uncertain`, its pixels within two standard errors of 0 left out), its standard
    error if `error` (both need the run's map_uncertainty), else each transition's; no map without a run.
    `options` go to render_figure.

    The maps are interpolated from the network's feature cells (as EP per frame pixel), so the figure shows
    them smooth rather than as the blocks of their frame-resolution form; a map with hidden pixels and the
    standard error are drawn from their frame-resolution form, as the app shows them."""
    still = None      # the map drawn on every frame
    if run is not None:
        cell_area = float(np.prod(run.frame_shape) / np.prod(run.maps.shape[-2:]))
        if error:
            still = run.map_uncertainty.sem
        elif mean and hide_uncertain:
            still = run.map_uncertainty.hide_uncertain(run.mean_map)
        elif mean:
            still = time_average(run.maps, run.part == TEST, run.window_time) / cell_area

    def render(movie: int, frame: int) -> Figure:
        ep_map = (None if run is None else still if still is not None
                  else run.maps[window_at(run, movie, frame)] / cell_area)
        return render_figure(frames[movie, frame], ep_map, levels, limit, rate=mean or error, error=error,
                             **options)

    return render
