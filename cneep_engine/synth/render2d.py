"""Microscopy-like movies of objects in the plane: point emitters, a Gaussian PSF, one intensity scale, a crop,
binning and camera noise.

A system draws what it simulates as point emitters at pixel positions (x, y) = (column, row), pixel centres at
integers: a particle is one emitter, a filament a row of them. Each emitter is split bilinearly over its four
nearest pixels and the image is blurred with the Gaussian PSF, which for a PSF wider than a pixel is the Gaussian
spot at the emitter's sub-pixel position. Counts are background + peak * image / scale with one `scale` per data
set (the brightest pixel of a reference frame), never per movie or frame, so that intensity means the same
everywhere. A crop keeps part of the frame, as a microscope's field of view does: what lies outside is then not
observed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from ..errors import CneepError
from ..io.preprocess import parse_crop
from ..params import check, param
from .render import expose

_CHUNK = 256   # frames splatted at once: bounded memory, same result


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

    def blur(self, points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        """Unit emitters at points (..., E, 2) -> float32 images (..., H, W) before scaling: the splat, blurred."""
        lead = points.shape[:-2]
        flat = points.reshape(-1, *points.shape[-2:])
        out = np.empty((len(flat), *shape), np.float32)
        for start in range(0, len(flat), _CHUNK):
            img = splat(flat[start:start + _CHUNK], shape)
            out[start:start + _CHUNK] = gaussian_filter(img, (0, self.psf_sigma, self.psf_sigma), mode="constant")
        return out.reshape(*lead, *shape)

    def render(self, points: np.ndarray, shape: tuple[int, int], scale: float, seed=None,
               still: np.ndarray | None = None) -> np.ndarray:
        """Emitters at points (..., E, 2) in frames of `shape` -> recorded frames (..., h, w) of `dtype`, `scale`
        the blurred image's value that is shown as `peak` counts. still: the blurred image (H, W) of emitters that
        never move, added to every frame (drawn once instead of in each)."""
        img = self.blur(points, shape)
        if still is not None:
            img += still
        img *= np.float32(self.peak / scale)
        img += np.float32(self.background)
        if self.box is not None:
            y0, y1, x0, x1 = self.box
            img = img[..., y0:y1, x0:x1]
        return expose(img, self.binning, self.poisson, self.read_noise, self.dtype, seed)

    def describe(self) -> dict:
        return asdict(self)


def splat(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Unit emitters at points (F, E, 2) split bilinearly over their four nearest pixels -> float32 (F, H, W).
    Weight falling outside the frame is lost, as light leaving the field of view: the frame is padded by one
    pixel before and two after, points beyond are moved into the padding, and the padding is cut off."""
    frames, (h, w) = len(points), shape
    hp, wp = h + 3, w + 3
    x = np.clip(points[..., 0] + 1, 0, w + 1).astype(np.float32)
    y = np.clip(points[..., 1] + 1, 0, h + 1).astype(np.float32)
    col, row = x.astype(np.intp), y.astype(np.intp)          # floor: x, y >= 0
    fx, fy = x - col, y - row
    top_left = np.arange(frames, dtype=np.intp)[:, None] * (hp * wp) + row * wp + col
    index = np.concatenate([top_left, top_left + 1, top_left + wp, top_left + wp + 1], axis=None)
    weight = np.concatenate([(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx], axis=None)
    img = np.bincount(index, weight, minlength=frames * hp * wp).reshape(frames, hp, wp)
    return img[:, 1:h + 1, 1:w + 1].astype(np.float32)
