"""Microscopy-like movies of beads on a line: Gaussian point-spread function, camera noise, binning.

One physical pixel scale (`pixel_size`, length units per pixel) is shared by every movie and frame, so a
pixel displacement means the same physics everywhere (the published renderers rescaled per movie or
per frame, which leaks or destroys the dynamics). Bead i rests at the centre of its own square cell of
`cell` pixels and moves along x. Pixel (r, c) has its centre at (r, c) in the same 0-based coordinates.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import CneepError
from ..params import check, param

DTYPES = {"uint8": np.uint8, "uint16": np.uint16}


@dataclass(frozen=True)
class BeadRenderer:
    """How a bead-spring chain looks under the microscope: Gaussian spots on a line, camera noise, binning."""

    cell: int = param(20, "pixels per bead cell: frames are cell x (beads * cell) before binning", low=1,
                      high=512, unit="px")
    pixel_size: float = param(1.0, "length per pixel", unit="µm", above=0, label="Pixel size", decimals=4)
    psf_sigma: float = param(3.0, "width of the Gaussian point-spread function", unit="px", above=0,
                             label="PSF width")
    background: float = param(0.0, "background level", unit="counts", low=0.0)
    peak: float = param(255.0, "counts at the centre of an isolated bead", unit="counts", low=0.0)
    poisson: bool = param(False, "shot noise on the expected counts", label="Shot noise")
    read_noise: float = param(0.0, "Gaussian camera noise (standard deviation)", unit="counts", low=0.0)
    binning: int = param(1, "average b x b pixel blocks (after rendering, before noise)", low=1, high=512)
    dtype: str = param("uint8", "pixel type of the movie", choices=("uint8", "uint16"), label="Pixel type")

    def __post_init__(self):
        check(self)
        if self.binning > self.cell:
            raise CneepError(f"--binning {self.binning} is larger than the bead cell (--cell {self.cell})")

    def rest_positions(self, beads: int) -> np.ndarray:
        """(beads, 2) pixel coordinates (x, y) of the beads at rest, before binning."""
        x = self.cell / 2 + self.cell * np.arange(beads)
        return np.stack([x, np.full(beads, self.cell / 2)], axis=1)

    def frame_shape(self, beads: int) -> tuple[int, int]:
        return self.cell // self.binning, beads * self.cell // self.binning

    def expected_counts(self, positions: np.ndarray) -> np.ndarray:
        """Noise-free float32 image, (..., beads) positions -> (..., H, W) before binning."""
        beads = positions.shape[-1]
        rest = self.rest_positions(beads)
        cols = np.arange(beads * self.cell, dtype=np.float32)
        rows = np.arange(self.cell, dtype=np.float32)
        cx = (rest[:, 0] + positions / self.pixel_size).astype(np.float32)
        two_s2 = np.float32(2 * self.psf_sigma**2)
        gx = np.exp(-((cols - cx[..., None]) ** 2) / two_s2)                # (..., beads, W)
        gy = np.exp(-((rows[:, None] - rest[:, 1]) ** 2) / two_s2)          # (H, beads)
        img = np.einsum("hb,...bw->...hw", gy.astype(np.float32), gx)
        return np.float32(self.background) + np.float32(self.peak) * img

    def render(self, positions: np.ndarray, seed: int | None = None) -> np.ndarray:
        """Positions (..., beads) -> frames (..., H, W) of `dtype`, with binning and noise applied."""
        return expose(self.expected_counts(positions), self.binning, self.poisson, self.read_noise, self.dtype,
                      seed)

    def describe(self) -> dict:
        return asdict(self)


def expose(img: np.ndarray, binning: int, poisson: bool, read_noise: float, dtype: str, seed=None) -> np.ndarray:
    """What the camera records of expected counts (..., H, W): b x b blocks averaged (a partial block at the
    edge is dropped), then `record`."""
    if binning > 1:
        b = binning
        h, w = (img.shape[-2] // b) * b, (img.shape[-1] // b) * b
        img = img[..., :h, :w].reshape(*img.shape[:-2], h // b, b, w // b, b).mean(axis=(-3, -1))
    return record(img, poisson, read_noise, dtype, np.random.default_rng(seed))


def record(counts: np.ndarray, poisson: bool, read_noise: float, dtype: str, rng: np.random.Generator,
           out: np.ndarray | None = None) -> np.ndarray:
    """Expected counts (float32, overwritten) -> the camera's pixels of `dtype`, into `out` when given: shot
    noise, then read noise, then rounded and clipped to the pixel type. A movie recorded block by block with one
    `rng` gets its noise block by block: the same for a given seed and block size."""
    if poisson:
        counts[...] = rng.poisson(counts)
    if read_noise > 0:
        counts += rng.normal(0.0, read_noise, counts.shape).astype(np.float32)
    info = np.iinfo(DTYPES[dtype])
    np.clip(np.rint(counts, out=counts), info.min, info.max, out=counts)
    if out is None:
        return counts.astype(dtype)
    out[...] = counts
    return out
