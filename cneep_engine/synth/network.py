"""Elastic filament network with hot nodes: a two-dimensional system whose EP and its map are exact.

Nodes of a triangular lattice (n_x x n_y, spacing a, the length unit), node (i, j) at rest at
((i + (j mod 2)/2) a, j a sqrt(3)/2), joined to their nearest neighbours by Hookean springs of stiffness k and rest
length l0 = a - tau/k: tau is the tension of every bond (prestress), held by the pinned boundary nodes. The
free nodes are overdamped with friction gamma, each in its own bath: T_c everywhere, T_h = ratio T_c at the hot
nodes. For small displacements u the dynamics is linear (`LinearDiffusion`),

    du = -(K / gamma) u dt + sqrt(2 T / gamma) dW,   K_pq = k n n^T + (tau / a) (1 - n n^T) per bond (unit vector n),

so its EP rate, the two-frame ceiling, the EP of every transition and three decompositions of the rate over the
network are exact: the velocity density of each node (where the probability current dissipates), the heat
density (the heat each node gives its bath, over its temperature; negative at hot nodes) and the EP of each bond
(the heat it carries from one bath to another times the difference of their inverse temperatures). Only the
total is physical; the three are gauges of where it sits.

A square lattice without prestress is refused: its horizontal bonds hold only x and its vertical bonds only y, so
the network falls apart into independent rows and columns of one-dimensional chains.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from functools import cached_property

import numpy as np
from scipy.sparse.csgraph import connected_components

from ..errors import CneepError
from ..movie import GroundTruth, Movie
from ..params import check, param
from ..sites import SiteTruth
from ..trajectories import Trajectories
from .linear import LinearDiffusion, linear_trajectories
from .render2d import Renderer2D


@dataclass(frozen=True)
class FilamentNetwork(LinearDiffusion):
    """Nodes joined by springs on a lattice with a pinned boundary, a few of them in hot baths (k_B = 1, a = 1)."""

    nx: int = param(8, "nodes per row; the first and last columns are pinned", low=3, high=64, label="Nodes nx")
    ny: int = param(8, "rows of nodes; the first and last rows are pinned", low=3, high=64, label="Rows ny")
    hot: str = param("2,2;5,3;3,5", "free nodes in the hot bath, as i,j;i,j (column i, row j from 0); empty: "
                     "none, equilibrium", label="Hot nodes")
    ratio: float = param(10.0, "temperature of the hot nodes over that of the others, Th/Tc (1: equilibrium)",
                         above=0, label="Hot/cold Th/Tc")
    tc: float = param(0.01, "temperature of every node but the hot ones; keeps displacements small against the "
                      "spacing (0.08 a rms at 0.01), where the linear springs hold", above=0, label="Cold bath Tc")
    k: float = param(1.0, "spring stiffness", above=0, label="Stiffness k")
    gamma: float = param(1.0, "friction coefficient of a node", above=0, label="Friction γ")
    prestress: float = param(0.0, "tension of every bond at rest, k (a - l0): springs shorter than the spacing, "
                             "held stretched by the pinned boundary", low=0, label="Prestress τ")
    lattice: str = param("triangular", "node arrangement; a square one needs prestress, or its rows and columns "
                         "decouple", choices=("triangular", "square"))
    dt: float = param(0.01, "time between frames", unit="s", above=0, label="Frame interval", decimals=5,
                      step=0.001)

    def __post_init__(self):
        check(self)
        if self.prestress >= self.k:
            raise CneepError(f"--prestress {self.prestress:g} must be below --k {self.k:g}: the rest length "
                             "a - tau/k would not be positive")
        self._check_hot()
        # x and y may be independent (a square lattice) without harm; more parts are rows and columns on their own
        parts, _ = connected_components(np.abs(self.drift) > 0, directed=False)
        if parts > 2:
            raise CneepError(f"this {self.lattice} network without prestress splits into {parts} independent "
                             "one-dimensional chains (bonds along x hold only x, along y only y), so its "
                             "dissipation map is a cross through each hot node: use --lattice triangular or a "
                             "--prestress above 0")

    def _check_hot(self) -> None:
        seen = set()
        for i, j in self.hot_nodes:
            if not (0 <= i < self.nx and 0 <= j < self.ny):
                raise CneepError(f"--hot {self.hot}: node ({i},{j}) is outside the {self.nx} x {self.ny} lattice")
            if not (0 < i < self.nx - 1 and 0 < j < self.ny - 1):
                raise CneepError(f"--hot {self.hot}: node ({i},{j}) is on the pinned boundary; hot nodes are free "
                                 f"ones, 1 <= i <= {self.nx - 2} and 1 <= j <= {self.ny - 2}")
            if (i, j) in seen:
                raise CneepError(f"--hot {self.hot}: node ({i},{j}) is given twice")
            seen.add((i, j))

    # --- the lattice ------------------------------------------------------------------------------
    @property
    def hot_nodes(self) -> list[tuple[int, int]]:
        """The hot nodes as (i, j)."""
        try:
            nodes = [tuple(int(v) for v in part.split(",")) for part in self.hot.replace(" ", "").split(";") if part]
        except ValueError:
            nodes = [()]
        if any(len(n) != 2 for n in nodes):
            raise CneepError(f"--hot {self.hot!r}: expected i,j;i,j (e.g. 2,2;5,3)")
        return nodes

    @property
    def n_nodes(self) -> int:
        return self.nx * self.ny

    def node(self, i: int, j: int) -> int:
        """Index of node (i, j): rows one after another."""
        return j * self.nx + i

    @property
    def rest_positions(self) -> np.ndarray:
        """(nodes, 2) positions (x, y) at rest, in units of a."""
        j, i = np.divmod(np.arange(self.n_nodes), self.nx)
        if self.lattice == "square":
            return np.stack([i, j], axis=1).astype(np.float64)
        return np.stack([i + (j % 2) / 2, j * np.sqrt(3) / 2], axis=1)

    @cached_property
    def bonds(self) -> np.ndarray:
        """(bonds, 2) node indices of the nearest-neighbour bonds."""
        out = []
        for j in range(self.ny):
            for i in range(self.nx):
                if self.lattice == "square":
                    ends = [(i + 1, j), (i, j + 1)]
                else:   # a row shifted by a/2 from the one below: the two neighbours above sit either side
                    ends = [(i + 1, j), *([(i - 1, j + 1), (i, j + 1)] if j % 2 == 0 else [(i, j + 1), (i + 1, j + 1)])]
                out += [(self.node(i, j), self.node(p, q)) for p, q in ends if 0 <= p < self.nx and q < self.ny]
        return np.array(out)

    @property
    def free(self) -> np.ndarray:
        """Indices of the free (unpinned) nodes, in node order; free node f has coordinates 2f (x) and 2f + 1 (y)."""
        j, i = np.divmod(np.arange(self.n_nodes), self.nx)
        return np.flatnonzero((i > 0) & (i < self.nx - 1) & (j > 0) & (j < self.ny - 1))

    @property
    def temperatures(self) -> np.ndarray:
        """(nodes,) bath temperature of every node (the pinned ones have none that matters: Tc)."""
        t = np.full(self.n_nodes, self.tc)
        for i, j in self.hot_nodes:
            t[self.node(i, j)] = self.tc * self.ratio
        return t

    def node_labels(self) -> list[str]:
        return [f"({i},{j})" for j in range(self.ny) for i in range(self.nx)]

    def coordinate_labels(self) -> list[str]:
        """Names of the free coordinates, x(i,j) and y(i,j) node by node."""
        nodes = self.node_labels()
        return [f"{axis}{nodes[p]}" for p in self.free for axis in "xy"]

    # --- the linear dynamics ----------------------------------------------------------------------
    def _bond_stiffness(self) -> np.ndarray:
        """(bonds, 2, 2) stiffness of each bond, k n n^T + (tau/a)(1 - n n^T)."""
        r = self.rest_positions
        b = self.bonds
        n = r[b[:, 1]] - r[b[:, 0]]
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        nn = n[:, :, None] * n[:, None, :]
        return self.k * nn + self.prestress * (np.eye(2) - nn)

    def _selectors(self) -> np.ndarray:
        """(nodes, 2, dof) maps from the free coordinates to each node's displacement (zero for pinned nodes)."""
        s = np.zeros((self.n_nodes, 2, 2 * len(self.free)))
        for f, p in enumerate(self.free):
            s[p, :, 2 * f:2 * f + 2] = np.eye(2)
        return s

    @cached_property
    def _stiffness(self) -> np.ndarray:
        """K on the free coordinates: each bond pulls its ends' displacement difference back."""
        s, kb = self._selectors(), self._bond_stiffness()
        diff = s[self.bonds[:, 0]] - s[self.bonds[:, 1]]             # (bonds, 2, dof): u_p - u_q
        return np.einsum("bij,bjk,bkl->il", diff.transpose(0, 2, 1), kb, diff)

    @property
    def drift(self) -> np.ndarray:
        return -self._stiffness / self.gamma

    @property
    def diffusion(self) -> np.ndarray:
        return np.diag(np.repeat(self.temperatures[self.free], 2) / self.gamma)

    # --- where the EP sits --------------------------------------------------------------------------
    def per_node(self, values: np.ndarray) -> np.ndarray:
        """(dof,) per-coordinate values -> (nodes,) summed over each node's x and y, zero at pinned nodes."""
        out = np.zeros(self.n_nodes)
        out[self.free] = values.reshape(-1, 2).sum(axis=1)
        return out

    @property
    def node_ep_density(self) -> np.ndarray:
        """(nodes,) velocity density of each node, <|v|^2>/D: non-negative, sums to sigma."""
        return self.per_node(self.ep_density)

    @property
    def node_heat_density(self) -> np.ndarray:
        """(nodes,) heat each node gives its bath per unit time over its temperature: sums to sigma, negative at
        nodes heated by a hot bath."""
        return self.per_node(self.heat_density)

    @property
    def bond_ep(self) -> np.ndarray:
        """(bonds,) EP rate of each bond: J_p / T_p + J_q / T_q, J_p the mean power <f o du_p>/dt of the bond's
        force on its free end p (the heat it gives p's bath; a pinned end has no bath). The bond's energy is
        stationary, so J_q = -J_p and only bonds between unequal temperatures dissipate. Sums to sigma."""
        s, kb, temps, b = self._selectors(), self._bond_stiffness(), self.temperatures, self.bonds
        force = -np.einsum("bij,bjk->bik", kb, s[b[:, 0]] - s[b[:, 1]])   # on p; the force on q is its negative
        slot = np.full(self.n_nodes, -1)
        slot[self.free] = np.arange(len(self.free))
        out = np.zeros(len(b))
        for end, sign in ((0, 1), (1, -1)):
            node = b[:, end]
            has_bath = slot[node] >= 0
            coords = 2 * slot[node[has_bath], None] + np.arange(2)
            out[has_bath] += self.power(sign * force[has_bath], coords) / temps[node[has_bath]]
        return out

    def settings(self) -> dict:
        """Parameters and the lattice they make, JSON-ready."""
        return {
            "system": "filament network",
            **asdict(self),
            "free_nodes": self.free.tolist(),
            "bonds": self.bonds.tolist(),
            "temperatures": self.temperatures.tolist(),
        }

    def describe(self) -> dict:
        """Parameters and exact EP figures, JSON-ready."""
        return {
            **self.settings(),
            "sigma": self.ep_rate,
            "sigma_2pt": self.ep_rate_two_frame,
            "node_ep_density": self.node_ep_density.tolist(),
            "node_heat_density": self.node_heat_density.tolist(),
            "bond_ep": self.bond_ep.tolist(),
        }


@dataclass(frozen=True)
class FilamentRenderer(Renderer2D):
    """The network under the microscope: every bond a straight filament of point emitters, pinned ones too."""

    spacing: float = param(14.0, "pixels per lattice spacing a = 1 µm (pixel size a / spacing)", unit="px", above=0,
                           label="Spacing")
    margin: float = param(7.0, "pixels between the outermost nodes and the frame's edge", unit="px", low=0)
    emitters: int = param(8, "point emitters along each bond; at least one per 2 px makes a smooth filament",
                          low=1, high=1000)

    def frame_shape(self, network: FilamentNetwork) -> tuple[int, int]:
        """(H, W) of the rendered frame, before crop and binning."""
        extent = self.spacing * network.rest_positions.max(axis=0) + 2 * self.margin
        return int(np.ceil(extent[1])), int(np.ceil(extent[0]))

    def node_pixels(self, network: FilamentNetwork, displacements: np.ndarray | None = None) -> np.ndarray:
        """Node positions (..., nodes, 2) in pixels (x, y) of the rendered frame; displacements (..., dof) of
        the free nodes in units of a (None: at rest)."""
        rest = self.margin + self.spacing * network.rest_positions
        if displacements is None:
            return rest
        out = np.broadcast_to(rest.astype(displacements.dtype), (*displacements.shape[:-1], *rest.shape)).copy()
        out[..., network.free, :] += self.spacing * displacements.reshape(*displacements.shape[:-1], -1, 2)
        return out

    def emitter_pixels(self, network: FilamentNetwork, nodes: np.ndarray, bonds: np.ndarray | None = None
                       ) -> np.ndarray:
        """Node pixels (..., nodes, 2) -> (..., bonds * emitters, 2): evenly along each bond (all, or `bonds`),
        none at its ends."""
        b = network.bonds if bonds is None else bonds
        frac = ((np.arange(self.emitters) + 0.5) / self.emitters)[:, None]
        start, end = nodes[..., b[:, 0], None, :], nodes[..., b[:, 1], None, :]
        return (start + frac * (end - start)).reshape(*nodes.shape[:-2], -1, 2)

    def scale(self, network: FilamentNetwork) -> float:
        """The blurred image's brightest pixel with the network at rest: shown as `peak` counts in every frame."""
        rest = self.emitter_pixels(network, self.node_pixels(network))
        return float(self.blur(rest[None], self.frame_shape(network)).max())

    def render(self, network: FilamentNetwork, displacements: np.ndarray, seed=None,
               out: np.ndarray | None = None) -> np.ndarray:
        """Displacements (..., dof) of the free nodes -> frames (..., h, w) of `dtype` (into `out` when given)."""
        shape = self.frame_shape(network)
        self.check_frame(shape)
        moves = np.isin(network.bonds, network.free).any(axis=1)   # bonds between pinned nodes never move
        still = self.emitter_pixels(network, self.node_pixels(network), network.bonds[~moves])
        # emitters move linearly with the displacements: one matrix product places them all; float32 positions
        # are good to 1e-5 px at this frame size and halve the memory traffic of the splat
        dof = displacements.shape[-1]
        rest = self.emitter_pixels(network, self.node_pixels(network), network.bonds[moves])
        unit = self.emitter_pixels(network, self.node_pixels(network, np.eye(dof)), network.bonds[moves]) - rest
        points = (displacements.astype(np.float32) @ unit.reshape(dof, -1).astype(np.float32)
                  ).reshape(*displacements.shape[:-1], *rest.shape) + rest.astype(np.float32)
        return Renderer2D.render(self, points, shape, self.scale(network), seed, still=still, out=out)

    def visible_nodes(self, network: FilamentNetwork) -> np.ndarray:
        """Free nodes (indices into `network.free`) that the crop shows: a node counts as seen when a point of one
        of its bonds comes within three PSF widths of the crop, its motion (three of its largest standard
        deviation) included. All of them without a crop."""
        if self.box is None:
            return np.arange(len(network.free))
        y0, y1, x0, x1 = self.box
        reach = 3 * self.psf_sigma + 3 * self.spacing * np.sqrt(np.diag(network.covariance).max())
        points = self.emitter_pixels(network, self.node_pixels(network)).reshape(len(network.bonds), -1, 2)
        near = ((points[..., 0] > x0 - 0.5 - reach) & (points[..., 0] < x1 - 0.5 + reach)
                & (points[..., 1] > y0 - 0.5 - reach) & (points[..., 1] < y1 - 0.5 + reach)).any(axis=1)
        seen = np.zeros(network.n_nodes, bool)
        seen[network.bonds[near].ravel()] = True
        return np.flatnonzero(seen[network.free])


def simulate_network(network: FilamentNetwork = FilamentNetwork(), renderer: FilamentRenderer = FilamentRenderer(),
                     movies: int = 1, frames: int = 1000, seed: int = 0) -> Movie:
    """Stationary movies of the network with the exact EP of every transition.

    Length is in micrometres (a = 1 µm) and time in seconds. Under a crop, ds and sigma_2pt are those of the
    nodes still in view (`visible_nodes`): the best any estimator of the cropped movie can reach."""
    renderer.check_frame(renderer.frame_shape(network))
    displacements = network.sample(movies, frames, seed=seed)
    video = render_movies(network, renderer, displacements, seed)
    seen = renderer.visible_nodes(network)
    if len(seen) == len(network.free):
        ds, sigma_2pt = network.transition_ep(displacements), network.ep_rate_two_frame
    else:
        coords = (2 * seen[:, None] + np.arange(2)).ravel()
        ds = network.transition_ep(displacements[..., coords], coords)
        sigma_2pt = network.two_frame_rate(coords)
    frame = frame_description(network, renderer, seen)
    sites = SiteTruth.from_dict(frame.pop("sites"))
    params = {**network.describe(), "renderer": renderer.describe(), "movies": movies, "frames": frames,
              "seed": seed, "integrator": "exact propagator", "frame": frame}
    truth = GroundTruth(ds=ds, sigma=network.ep_rate, sigma_2pt=sigma_2pt, positions=displacements, params=params,
                        sites=sites)
    return network_movie(network, renderer, video, truth)


def render_movies(network: FilamentNetwork, renderer: FilamentRenderer, displacements: np.ndarray,
                  seed: int) -> np.ndarray:
    """Displacements (movies, frames, dof) -> the movies (movies, frames, h, w), each with its own noise stream
    drawn from `seed`."""
    movies, frames = displacements.shape[:2]
    video = np.empty((movies, frames, *renderer.recorded_shape(renderer.frame_shape(network))), renderer.dtype)

    def render(m: int, noise_seed: np.random.SeedSequence) -> None:
        renderer.render(network, displacements[m], seed=noise_seed, out=video[m])

    # Movie by movie (bounded memory); the splat and the blur release the GIL, so threads share the cores.
    with ThreadPoolExecutor(len(os.sched_getaffinity(0))) as pool:
        list(pool.map(render, range(movies), np.random.SeedSequence(seed).spawn(movies)))
    return video


def network_movie(network: FilamentNetwork, renderer: FilamentRenderer, video: np.ndarray,
                  truth: GroundTruth) -> Movie:
    """Rendered frames with their truth: length in micrometres (a = 1 µm), time in seconds."""
    return Movie(frames=video, dt=network.dt, pixel_size=renderer.binning / renderer.spacing,
                 dt_source="metadata", pixel_size_source="metadata", truth=truth)


def frame_description(network: FilamentNetwork, renderer: FilamentRenderer, seen: np.ndarray) -> dict:
    """Where the network lies in the recorded frame (pixels (x, y) = (column, row), centres at integers), for the
    sidecar: every node at rest and the scale that moves it (node p of a frame with displacements u, in a:
    node_pixels[p] + px_per_unit * u_p), the free nodes in view, the intensity scale, and `sites`: the nodes and
    bonds that lie in the frame with their exact velocity and heat densities and EP, the hot ones and the radii
    within which a map's mass counts for a node (half the lattice's Voronoi cell) and for the hot nodes (1.5 a)."""
    nodes = renderer.in_frame(renderer.node_pixels(network))
    h, w = renderer.frame_shape(network)
    y0, y1, x0, x1 = renderer.box or (0, h, 0, w)
    shown = renderer.in_frame([[x0 - 0.5, y0 - 0.5], [x1 - 0.5, y1 - 0.5]])
    inside = np.flatnonzero(((nodes >= shown[0]) & (nodes <= shown[1])).all(axis=1))
    labels = network.node_labels()
    bonds = network.bonds[np.isin(network.bonds, inside).all(axis=1)]
    bond_index = [int(np.flatnonzero((network.bonds == b).all(axis=1))[0]) for b in bonds]
    hot = [network.node(i, j) for i, j in network.hot_nodes]
    px = renderer.spacing / renderer.binning
    return {
        "node_pixels": nodes.tolist(),
        "px_per_unit": px,
        "visible_free_nodes": network.free[seen].tolist(),
        "intensity_scale": renderer.scale(network),
        "sites": {
            "labels": [labels[p] for p in inside],
            "pixels": nodes[inside].tolist(),
            "velocity": network.node_ep_density[inside].tolist(),
            "heat": network.node_heat_density[inside].tolist(),
            "radius": px / np.sqrt(3) if network.lattice == "triangular" else px / np.sqrt(2),
            "hot": [int(np.flatnonzero(inside == p)[0]) for p in hot if p in inside],
            "hot_radius": 1.5 * px,
            "bond_labels": [f"{labels[p]}-{labels[q]}" for p, q in bonds],
            "bond_ends": nodes[bonds].tolist(),
            "bond_ep": network.bond_ep[bond_index].tolist(),
        },
    }


def simulate_network_trajectories(network: FilamentNetwork = FilamentNetwork(), trajectories: int = 1,
                                  frames: int = 1000, seed: int = 0) -> Trajectories:
    """Displacements of the free nodes (trajectories, frames, 2 per node: x, y in units of a) with their exact
    per-transition EP: the same draws as `simulate_network`'s movies with the same seed."""
    return linear_trajectories(network, trajectories, frames, seed, network.coordinate_labels(),
                               {**network.describe(), "integrator": "exact propagator"})

