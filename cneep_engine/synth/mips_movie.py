"""Movies of motility-induced phase separation: the periodic box of `mips` under the microscope.

The frame is the box: [0, L)^2 maps onto the whole frame by one fixed scale, pixel j covering [j, j + 1) L / side,
so that the frame is one period of the periodic plane. Each disc is a point emitter of weight 1 through render2d's
splat and Gaussian PSF (2 px at the default 3.5 px per R), both wrapped around the frame's edges: a disc near an
edge lights the opposite one, as its periodic image would. One intensity scale for every movie and frame: a disc
alone on a pixel centre shows as `peak` counts, so the dense phase is brighter than the gas because it holds more
discs, not because it was scaled.

A movie shows positions only. Its sidecar keeps the simulation's sigma (sigma_B at eps = 0, sigma_A above), the
per-particle heat density and packing fraction of every frame and the positions behind the frames, and says what
a movie can reach of sigma: no exact two-frame ceiling is known; sigma_A only bounds an estimate from above, and
sigma_B bounds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import CneepError
from ..movie import Movie
from ..params import param, redefault
from ..trajectories import Trajectories
from .aoup_interacting import Repulsion
from .mips import ActiveDiscs, SnapshotSampling, positions_note, simulate_mips
from .render2d import Renderer2D


@dataclass(frozen=True)
class DiscRenderer(Renderer2D):
    """The periodic box of discs drawn whole: the frame is the box, wrapped around its edges."""

    pixel_size: float = param(0.2857, "length per pixel (3.5 px per disc radius by default); rounded so that the "
                              "box is a whole number of pixels (256 at the default side 73.2)", unit="µm", above=0,
                              label="Pixel size", decimals=4)
    psf_sigma: float = redefault(Renderer2D, "psf_sigma", 2.0)
    crop: str = param("", "keep only this region of the frame, Y0:Y1,X0:X1 in pixels before binning (ends "
                      "exclusive; empty: the whole box): a field of view smaller than the box, no longer periodic")

    def side(self, box: float) -> int:
        """Pixels across the box (before binning): the frame is square, one period of the plane."""
        return round(box / self.pixel_size)

    def check_box(self, box: float) -> int:
        """The frame's side for a box of side `box`, refusing a frame that would not show the box whole."""
        side = self.side(box)
        if not 8 <= side <= 4096:
            raise CneepError(f"--pixel-size {self.pixel_size:g} makes the box of side {box:.3g} {side} px across; "
                             "take a pixel size that gives 8 to 4096")
        self.check_frame((side, side))
        if not self.crop and side % self.binning:
            raise CneepError(f"--binning {self.binning} does not divide the {side}-px frame of the periodic box: the "
                             "binned frame would not be one period; change --pixel-size or --binning")
        return side


def mips(model: ActiveDiscs, repulsion: Repulsion, renderer: DiscRenderer, sampling: SnapshotSampling,
         callback=None, cancel=None) -> Movie | Trajectories:
    """`simulate_mips`'s runs as movies, or with `trajectories` as coordinates."""
    if sampling.trajectories is None:
        renderer.check_box(model.box(repulsion.radius))   # before minutes of simulation
    data = simulate_mips(model, repulsion, sampling, callback, cancel)
    return data if sampling.trajectories is not None else mips_movie(renderer, data, model.eps == 0, sampling.seed)


def mips_movie(renderer: DiscRenderer, data: Trajectories, hypoelliptic: bool, seed: int) -> Movie:
    """The positions of `simulate_mips` (movies, frames, particles * 2) drawn, each movie with its own noise stream;
    the truth kept, with the positions, the drawing and what a movie reaches of sigma."""
    t = data.truth
    box = t.params["box"]
    side = renderer.check_box(box)
    shape, scale = (side, side), renderer.point_peak((side, side))
    points = data.data.reshape(*data.data.shape[:2], -1, 2) * (side / box) - 0.5
    noise = np.random.SeedSequence(seed).spawn(len(points))
    video = np.stack([renderer.render(p, shape, scale, seed=s, periodic=True) for p, s in zip(points, noise)])
    pixel_size = box / side * renderer.binning
    drawn = {"renderer": renderer.describe(), "frame": {
        "origin": renderer.in_frame([-0.5, -0.5]).tolist(), "px_per_unit": 1 / pixel_size, "side": side,
        "intensity_scale": scale, "periodic": True},
        "hidden": positions_note(t.sigma, hypoelliptic, movie=True)}
    truth = replace(t, positions=data.data, params={**t.params, **drawn})
    return Movie(frames=video, dt=data.dt, pixel_size=pixel_size, dt_source="metadata",
                 pixel_size_source="metadata", truth=truth)
