"""Microscopy-like movies of objects in the plane: point emitters, a Gaussian PSF, one intensity scale, a crop,
binning and camera noise.

A system draws what it simulates as point emitters at pixel positions (x, y) = (column, row), pixel centres at
integers: a particle is one emitter, a filament a row of them. Each emitter is split bilinearly over its four
nearest pixels and the image is blurred with the Gaussian PSF, which for a PSF wider than a pixel is the Gaussian
spot at the emitter's sub-pixel position. Frames are drawn a block at a time, the blur as shifted sums over the
block, computed only where the crop looks. Counts are background + peak * image / scale with one `scale` per data
set (the brightest pixel of a reference frame), never per movie or frame, so that intensity means the same
everywhere. A crop keeps part of the frame, as a microscope's field of view does: what lies outside is then not
observed. A periodic frame (a periodic box drawn whole) wraps the splat and the blur around its edges, so that an
emitter near one edge also lights the other.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import CneepError
from ..io.preprocess import parse_crop
from ..params import check, param
from .render import record

_BLOCK = 8   # frames rendered at once: the splat and its blurred images stay in the processor's cache


@dataclass(frozen=True)
class Renderer2D:
    """How point emitters in the plane look under the microscope."""

    psf_sigma: float = param(1.2, "width of the Gaussian point-spread function", unit="px", above=0,
                             label="PSF width")
    peak: float = param(200.0, "counts at the brightest pixel of the system at rest, the one intensity scale of "
                        "every movie and frame (room below the pixel type's maximum keeps brighter moments "
                        "unclipped)", unit="counts", above=0)
    background: float = param(0.0, "background level", unit="counts", low=0.0)
    poisson: bool = param(False, "shot noise on the expected counts", label="Shot noise")
    read_noise: float = param(0.0, "Gaussian camera noise (standard deviation)", unit="counts", low=0.0)
    crop: str = param("", "keep only this region of the frame, Y0:Y1,X0:X1 in pixels before binning (ends "
                      "exclusive; empty: all): partial observation, scored against the two-frame ceiling of what "
                      "stays in view")
    binning: int = param(1, "average b x b pixel blocks (after the crop, before noise)", low=1, high=512)
    dtype: str = param("uint8", "pixel type of the movie", choices=("uint8", "uint16"), label="Pixel type")

    def __post_init__(self):
        check(self)
        if self.crop:
            y0, y1, x0, x1 = self.box
            if not (0 <= y0 < y1 and 0 <= x0 < x1):
                raise CneepError(f"--crop {self.crop}: expected 0 <= Y0 < Y1 and 0 <= X0 < X1")

    @property
    def box(self) -> tuple[int, int, int, int] | None:
        """The crop as (y0, y1, x0, x1), or None for the whole frame."""
        if not self.crop:
            return None
        try:
            return parse_crop(self.crop)
        except CneepError as e:
            raise CneepError(f"--{e}") from None

    def check_frame(self, shape: tuple[int, int]) -> None:
        """Refuse a crop or binning that does not fit a frame of `shape` (H, W) pixels."""
        h, w = shape
        y0, y1, x0, x1 = self.box or (0, h, 0, w)
        if y1 > h or x1 > w:
            raise CneepError(f"--crop {self.crop} lies outside the {h}x{w} frame")
        if self.binning > min(y1 - y0, x1 - x0):
            raise CneepError(f"--binning {self.binning} is larger than the {y1 - y0}x{x1 - x0} frame")

    def recorded_shape(self, shape: tuple[int, int]) -> tuple[int, int]:
        """(h, w) of the recorded frames, of rendered frames of `shape` (H, W): cropped, then binned."""
        y0, y1, x0, x1 = self.box or (0, shape[0], 0, shape[1])
        return (y1 - y0) // self.binning, (x1 - x0) // self.binning

    def in_frame(self, points: np.ndarray) -> np.ndarray:
        """Pixel positions (..., 2) of the rendered frame -> the same points in the recorded (cropped, binned)
        frame: a binned pixel j averages pixels j b ... j b + b - 1, so its centre is at j b + (b - 1) / 2."""
        y0, _, x0, _ = self.box or (0, 0, 0, 0)
        b = self.binning
        return (np.asarray(points, np.float64) - (x0, y0) - (b - 1) / 2) / b

    def psf(self) -> np.ndarray:
        """The Gaussian PSF's weights at pixel offsets -r ... r, cut at four widths, as scipy's gaussian_filter."""
        r = int(4 * self.psf_sigma + 0.5)
        weights = np.exp(-0.5 * (np.arange(-r, r + 1) / self.psf_sigma) ** 2)
        return weights / weights.sum()

    def blur(self, points: np.ndarray, shape: tuple[int, int], periodic: bool = False) -> np.ndarray:
        """Unit emitters at points (..., E, 2) -> float32 images (..., H, W) before scaling: the splat, blurred."""
        flat, whole = points.reshape(-1, *points.shape[-2:]), (0, shape[0], 0, shape[1])
        out = np.empty((len(flat), *shape), np.float32)
        for start in range(0, len(flat), _BLOCK):
            out[start:start + _BLOCK] = images(flat[start:start + _BLOCK], shape, self.psf(), whole, 1, 1.0,
                                               periodic)
        return out.reshape(*points.shape[:-2], *shape)

    def point_peak(self, shape: tuple[int, int]) -> float:
        """The blurred image's brightest pixel of one emitter alone on a pixel centre of a frame of `shape`: the
        value a renderer of particles shows as `peak` counts."""
        h, w = shape
        return float(self.blur(np.array([[[w // 2, h // 2]]], np.float64), shape).max())

    def render(self, points: np.ndarray, shape: tuple[int, int], scale: float, seed=None,
               still: np.ndarray | None = None, out: np.ndarray | None = None, periodic: bool = False) -> np.ndarray:
        """Emitters at points (..., E, 2) in frames of `shape` -> recorded frames (..., h, w) of `dtype`, `scale`
        the blurred image's value that is shown as `peak` counts. still: points (E', 2) of emitters that never
        move, drawn once for every frame. out: a C-contiguous array (..., h, w) of `dtype` to record into.
        periodic: the frame is one period of a periodic plane (points anywhere, folded into it)."""
        box, psf, gain = self.box or (0, shape[0], 0, shape[1]), self.psf(), self.peak / scale
        level = np.float32(self.background)
        if still is not None:
            level = level + images(still[None], shape, psf, box, self.binning, gain, periodic)[0]
        if out is None:
            out = np.empty((*points.shape[:-2], *self.recorded_shape(shape)), self.dtype)
        frames, flat = out.reshape(-1, *out.shape[-2:]), points.reshape(-1, *points.shape[-2:])
        rng = np.random.default_rng(seed)
        for start in range(0, len(flat), _BLOCK):
            counts = images(flat[start:start + _BLOCK], shape, psf, box, self.binning, gain, periodic)
            counts += level
            record(counts, self.poisson, self.read_noise, self.dtype, rng, frames[start:start + len(counts)])
        return out

    def describe(self) -> dict:
        return asdict(self)


def splat(points: np.ndarray, shape: tuple[int, int], periodic: bool = False) -> np.ndarray:
    """Unit emitters at points (F, E, 2) split bilinearly over their four nearest pixels -> float64 (F, H, W).
    Weight falling outside the frame is lost, as light leaving the field of view: the frame is padded by one
    pixel before and two after, points beyond are moved into the padding, and the padding is cut off. Periodic:
    points are folded into the frame and the weight on the padding after it lands on the first columns and rows."""
    frames, (h, w) = len(points), shape
    hp, wp = h + 3, w + 3
    if periodic:   # a fold can round up to w itself in float32: the padding after the frame takes two pixels
        points = np.mod(points, (w, h))
    x = np.clip(points[..., 0] + 1, 0, w + 1).astype(np.float32, copy=False)
    y = np.clip(points[..., 1] + 1, 0, h + 1).astype(np.float32, copy=False)
    col, row = x.astype(np.intp), y.astype(np.intp)          # floor: x, y >= 0
    fx, fy = x - col, y - row
    gx, gy = 1 - fx, 1 - fy
    top_left = np.arange(frames, dtype=np.intp)[:, None] * (hp * wp) + row * wp + col
    # each emitter's four pixels side by side: the counts of one frame are added in one stretch of memory
    index = (top_left[..., None] + np.array([0, 1, wp, wp + 1])).ravel()
    weight = np.stack([gy * gx, gy * fx, fy * gx, fy * fx], axis=-1).ravel()
    img = np.bincount(index, weight, minlength=frames * hp * wp).reshape(frames, hp, wp)
    if periodic:
        img[:, :, 1:3] += img[:, :, w + 1:]
        img[:, 1:3] += img[:, h + 1:]
    return img[:, 1:h + 1, 1:w + 1]


def images(points: np.ndarray, shape: tuple[int, int], psf: np.ndarray, box: tuple[int, int, int, int],
           binning: int, gain: float, periodic: bool = False) -> np.ndarray:
    """Unit emitters at points (F, E, 2) in frames of `shape` -> float32 images (F, h, w): the splat blurred by
    the PSF's weights `psf` (zero beyond the frame's edge, or with `periodic` the frame repeated) in the crop box
    (y0, y1, x0, x1) only, times `gain`, b x b binned (a partial block at the edge is dropped)."""
    (h, w), r, b = shape, len(psf) // 2, binning
    y0, y1, x0, x1 = box
    y1, x1 = y0 + (y1 - y0) // b * b, x0 + (x1 - x0) // b * b
    if periodic:   # r pixels of the frame's other side around it
        canvas = np.pad(splat(points, shape, True).astype(np.float32), ((0, 0), (r, r), (r, r)), mode="wrap")
    else:          # r pixels of darkness around
        canvas = np.zeros((len(points), h + 2 * r, w + 2 * r), np.float32)
        canvas[:, r:r + h, r:r + w] = splat(points, shape)
    across = correlate(canvas[:, y0:y1 + 2 * r], psf, -1, x0, x1)          # the rows the box's blur reads
    blurred = correlate(across, psf * gain, -2, 0, y1 - y0)
    if b == 1:
        return blurred
    return blurred.reshape(len(points), (y1 - y0) // b, b, (x1 - x0) // b, b).mean(axis=(2, 4))


def correlate(a: np.ndarray, weights: np.ndarray, axis: int, start: int, stop: int) -> np.ndarray:
    """a (float32) correlated along `axis` (-1 or -2) with symmetric weights at offsets -r ... r, at the outputs
    start ... stop - 1, output j reading a[j + r + d]: a sum of shifted copies, the pair at +-d added before its
    weight multiplies them. About twice as fast as scipy's correlate1d on a block of small frames, and free of
    the threads of a matrix library."""
    r = len(weights) // 2

    def shifted(d: int) -> np.ndarray:
        cut = slice(start + r + d, stop + r + d)
        return a[..., cut] if axis == -1 else a[..., cut, :]

    out = shifted(0) * np.float32(weights[r])
    pair = np.empty_like(out)
    for d in range(1, r + 1):
        np.add(shifted(d), shifted(-d), out=pair)
        pair *= np.float32(weights[r + d])
        out += pair
    return out
