"""Microscopy-like movies of objects in the plane: point emitters, a Gaussian PSF, one intensity scale, a crop,
binning and camera noise.

A system draws what it simulates as point emitters at pixel positions (x, y) = (column, row), pixel centres at
integers: a particle is one emitter, a filament a row of them. Each emitter is split bilinearly over its four
nearest pixels and the image is blurred with the Gaussian PSF, which for a PSF wider than a pixel is the Gaussian
spot at the emitter's sub-pixel position. The blur, the crop and the binning are linear: two matrix products on
the splat (`Renderer2D.optics`), for a block of frames at once. Counts are background + peak * image / scale with
one `scale` per data set (the brightest pixel of a reference frame), never per movie or frame, so that intensity
means the same everywhere. A crop keeps part of the frame, as a microscope's field of view does: what lies outside
is then not observed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from ..errors import CneepError
from ..io.preprocess import parse_crop
from ..params import check, param
from .render import record

_BLOCK = 16   # frames rendered at once: the splat and its images stay in the processor's cache


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

    def optics(self, shape: tuple[int, int], recorded: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """The microscope's linear optics on frames of `shape` (H, W) as matrices (Ly, Lx): a padded splat S
        (`splat`) makes the image Ly @ S @ Lx, blurred by the PSF (scipy's Gaussian, cut at four widths; zero
        beyond the frame's edge) and, for the `recorded` frame, cropped and binned."""
        h, w = shape
        y0, y1, x0, x1 = (self.box or (0, h, 0, w)) if recorded else (0, h, 0, w)
        b = self.binning if recorded else 1

        def axis(n: int, start: int, stop: int) -> np.ndarray:
            blur = gaussian_filter1d(np.eye(n), self.psf_sigma, axis=0, mode="constant")[start:stop]
            kept = (stop - start) // b                     # a partial block at the edge is dropped
            binned = blur[:kept * b].reshape(kept, b, n).mean(axis=1)
            return np.pad(binned, ((0, 0), (1, 2))).astype(np.float32)   # light in the padding is lost

        return axis(h, y0, y1), axis(w, x0, x1).T

    def blur(self, points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """Unit emitters at points (..., E, 2) -> float32 images (..., H, W) before scaling: the splat, blurred."""
        ly, lx = self.optics(shape, recorded=False)
        flat = points.reshape(-1, *points.shape[-2:])
        out = np.empty((len(flat), *shape), np.float32)
        for start in range(0, len(flat), _BLOCK):
            image(flat[start:start + _BLOCK], shape, ly, lx, out[start:start + _BLOCK])
        return out.reshape(*points.shape[:-2], *shape)

    def render(self, points: np.ndarray, shape: tuple[int, int], scale: float, seed=None,
               still: np.ndarray | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """Emitters at points (..., E, 2) in frames of `shape` -> recorded frames (..., h, w) of `dtype`, `scale`
        the blurred image's value that is shown as `peak` counts. still: points (E', 2) of emitters that never
        move, drawn once for every frame. out: a C-contiguous array (..., h, w) of `dtype` to record into."""
        ly, lx = self.optics(shape)
        ly *= np.float32(self.peak / scale)
        level = np.full((1, len(ly), lx.shape[1]), self.background, np.float32)
        if still is not None:
            level += image(still[None], shape, ly, lx, np.empty_like(level))
        if out is None:
            out = np.empty((*points.shape[:-2], *level.shape[1:]), self.dtype)
        frames, flat = out.reshape(-1, *level.shape[1:]), points.reshape(-1, *points.shape[-2:])
        rng = np.random.default_rng(seed)
        counts = np.empty((_BLOCK, *level.shape[1:]), np.float32)
        for start in range(0, len(flat), _BLOCK):
            block = image(flat[start:start + _BLOCK], shape, ly, lx, counts)
            block += level
            record(block, self.poisson, self.read_noise, self.dtype, rng, frames[start:start + len(block)])
        return out

    def describe(self) -> dict:
        return asdict(self)


def splat(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Unit emitters at points (F, E, 2) split bilinearly over their four nearest pixels -> float32
    (F, H + 3, W + 3): the frame padded by one pixel before and two after, where points beyond the frame are moved
    and the weight falling outside the frame lands, lost to the optics as light leaving the field of view."""
    frames, (h, w) = len(points), shape
    hp, wp = h + 3, w + 3
    x = np.clip(points[..., 0] + 1, 0, w + 1).astype(np.float32, copy=False)
    y = np.clip(points[..., 1] + 1, 0, h + 1).astype(np.float32, copy=False)
    col, row = x.astype(np.intp), y.astype(np.intp)          # floor: x, y >= 0
    fx, fy = x - col, y - row
    gx, gy = 1 - fx, 1 - fy
    top_left = np.arange(frames, dtype=np.intp)[:, None] * (hp * wp) + row * wp + col
    # each emitter's four pixels side by side: the counts of one frame are added in one stretch of memory
    index = (top_left[..., None] + np.array([0, 1, wp, wp + 1])).ravel()
    weight = np.stack([gy * gx, gy * fx, fy * gx, fy * fx], axis=-1).ravel()
    return np.bincount(index, weight, minlength=frames * hp * wp).reshape(frames, hp, wp).astype(np.float32)


def image(points: np.ndarray, shape: tuple[int, int], ly: np.ndarray, lx: np.ndarray, out: np.ndarray
          ) -> np.ndarray:
    """Unit emitters at points (F, E, 2) in frames of `shape` -> Ly @ splat @ Lx (`Renderer2D.optics`) of each
    frame, into out[:F] (float32). The products run in torch: numpy's OpenBLAS spreads each one over threads
    that spin while the other frames' splats wait, many times the work on a busy machine."""
    s = torch.from_numpy(splat(points, shape))
    frames, hp, wp = s.shape
    blurred_x = (s.reshape(-1, wp) @ torch.from_numpy(lx)).reshape(frames, hp, -1)
    torch.matmul(torch.from_numpy(ly), blurred_x, out=torch.from_numpy(out[:frames]))
    return out[:frames]
