"""Where a synthetic system's exact EP sits in its frames, and how a dissipation map distributes it.

Only the total EP rate is a physical invariant; splitting it over places is a choice of gauge. A system with known
dynamics has exact ones: the velocity density sigma_c = <v_c^2>/D_c of each coordinate (never negative), the heat
density (the medium EP of each coordinate, negative where a hot bath heats it) and, for springs, the EP of each
bond (the heat it carries between two baths times the difference of their inverse temperatures). A CNEEP map is
the network's own attribution, one more gauge; `score_map` says how its mass falls on the sites and bonds, beside
the exact decompositions. The velocity density is the primary reference: it is non-negative and local, like a map.

A system gets the report by giving its GroundTruth a SiteTruth: sites (beads, nodes) at their rest positions in
frame pixels with their exact densities, optionally hot sites and bonds.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
from scipy.stats import rankdata


@dataclass(frozen=True)
class SiteTruth:
    """Exact per-site (and per-bond) EP rates of a synthetic movie, placed in its frame (k_B/s, pixels).

    Positions are (x, y) = (column, row) with pixel centres at integers. A map pixel belongs to its nearest site
    (shared equally on a tie) when within `radius`; the same for bonds, by distance to the segment."""

    labels: tuple[str, ...]                    # e.g. "bead 0"
    pixels: np.ndarray                         # (sites, 2) rest positions
    velocity: np.ndarray                       # (sites,) velocity density: what the map is ranked against
    radius: float                              # px
    heat: np.ndarray | None = None             # (sites,) heat density
    hot: tuple[int, ...] = ()                  # sites in a hot bath
    hot_radius: float = 0.0                    # px around the hot sites counted by hot_fraction
    bond_labels: tuple[str, ...] = ()          # e.g. "0-1"
    bond_ends: np.ndarray | None = None        # (bonds, 2, 2) end points of each bond at rest
    bond_ep: np.ndarray | None = None          # (bonds,) EP rate of each bond

    def in_frame(self, x0: float = 0, y0: float = 0, binning: int = 1) -> SiteTruth:
        """The same sites in frames cropped at (y0, x0) and then binned b x b: a binned pixel j is the mean of
        pixels j b ... j b + b - 1, so its centre is at j b + (b - 1) / 2."""
        def move(p):
            return None if p is None else (p - (x0, y0) - (binning - 1) / 2) / binning
        return replace(self, pixels=move(self.pixels), bond_ends=move(self.bond_ends), radius=self.radius / binning,
                       hot_radius=self.hot_radius / binning)

    def as_dict(self) -> dict:
        """JSON-ready, for the ground-truth sidecar."""
        return {f.name: (v.tolist() if isinstance(v, np.ndarray) else v)
                for f in fields(self) if (v := getattr(self, f.name)) is not None}

    @classmethod
    def from_dict(cls, d: dict) -> SiteTruth:
        arrays = {"pixels", "velocity", "heat", "bond_ends", "bond_ep"}
        return cls(**{k: np.asarray(v, np.float64) if k in arrays else tuple(v) if isinstance(v, list) else v
                      for k, v in d.items()})


def _pixel_centres(shape: tuple[int, int]) -> np.ndarray:
    rows, cols = np.mgrid[:shape[0], :shape[1]]
    return np.stack([cols.ravel(), rows.ravel()], axis=1).astype(np.float64)


def _segment_distance(points: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """(P, 2) points, (n, 2, 2) segments -> (P, n) distances."""
    a, b = ends[:, 0], ends[:, 1]
    ab = b - a
    length2 = np.maximum((ab**2).sum(-1), 1e-300)
    t = np.clip(((points[:, None] - a) * ab).sum(-1) / length2, 0, 1)
    return np.linalg.norm(points[:, None] - (a + t[..., None] * ab), axis=-1)


def attribute(values: np.ndarray, distance: np.ndarray, radius: float) -> np.ndarray:
    """Mass of `values` (P,) given to each of n places by nearest (P, n) `distance` within `radius`; a pixel
    equally near several shares its mass among them."""
    nearest = distance.min(axis=1, keepdims=True)
    tied = (distance <= nearest + 1e-9) & (nearest <= radius + 1e-9)   # ties and the rim, to rounding
    weight = tied / np.maximum(tied.sum(axis=1, keepdims=True), 1)
    return values @ weight


def density_map(sites: SiteTruth, shape: tuple[int, int], radius: float) -> np.ndarray:
    """The exact velocity density as a map (H, W), EP rate per pixel: each site's spread evenly over the pixels
    within `radius` of it that lie nearer to it than to any other site; none elsewhere. It sums to the sites'
    total when each has a pixel within `radius`."""
    to_site = np.linalg.norm(_pixel_centres(shape)[:, None] - sites.pixels[None], axis=-1)
    owner = np.where(to_site.min(axis=1) <= radius, to_site.argmin(axis=1), -1)
    pixels = np.bincount(owner[owner >= 0], minlength=len(sites.velocity))
    out = np.zeros(owner.size)
    out[owner >= 0] = (sites.velocity / np.maximum(pixels, 1))[owner[owner >= 0]]
    return out.reshape(shape)


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation; NaN (null in JSON) when either side has no spread."""
    ra, rb = rankdata(a) - (len(a) + 1) / 2, rankdata(b) - (len(b) + 1) / 2
    norm = np.sqrt((ra**2).sum() * (rb**2).sum())
    return float((ra * rb).sum() / norm) if norm > 0 else float("nan")


def score_map(rate_map: np.ndarray, sites: SiteTruth) -> dict:
    """How a time-averaged dissipation map (H, W), EP rate per pixel, distributes its mass over the sites, beside
    their exact densities: per_site {site, map, exact (velocity density), heat}, rank_correlation of map against
    exact, `outside` (mass near no site), hot_fraction (share of the map within hot_radius of a hot site, with the
    share of the exact density there), per_bond {bond, map, exact}. Rates in the map's units (k_B/s)."""
    values = np.asarray(rate_map, np.float64).ravel()
    centres = _pixel_centres(rate_map.shape)
    to_site = np.linalg.norm(centres[:, None] - sites.pixels[None], axis=-1)
    mass = attribute(values, to_site, sites.radius)
    per_site = [{"site": label, "map": float(m), "exact": float(v)}
                for label, m, v in zip(sites.labels, mass, sites.velocity)]
    if sites.heat is not None:
        for entry, h in zip(per_site, sites.heat):
            entry["heat"] = float(h)
    out = {"per_site": per_site, "rank_correlation": rank_correlation(mass, sites.velocity),
           "radius_px": float(sites.radius), "total": float(values.sum()), "outside": float(values.sum() - mass.sum())}
    if sites.hot:
        hot = sites.pixels[list(sites.hot)]
        near_hot = np.linalg.norm(centres[:, None] - hot[None], axis=-1).min(axis=1) <= sites.hot_radius
        site_near_hot = np.linalg.norm(sites.pixels[:, None] - hot[None], axis=-1).min(axis=1) <= sites.hot_radius
        with np.errstate(invalid="ignore", divide="ignore"):   # an empty map: NaN
            out["hot_fraction"] = float(values[near_hot].sum() / values.sum())
        out["hot_fraction_exact"] = float(sites.velocity[site_near_hot].sum() / sites.velocity.sum())
    if sites.bond_labels:    # a small window can show a node without any of its bonds
        bond_mass = attribute(values, _segment_distance(centres, sites.bond_ends), sites.radius)
        out["per_bond"] = [{"bond": label, "map": float(m), "exact": float(e)}
                           for label, m, e in zip(sites.bond_labels, bond_mass, sites.bond_ep)]
    return out


def describe_map(m: dict, max_sites: int = 8) -> str:
    """The map's report in one line: each site's share of the map against its share of the exact velocity (and
    heat) density, when there are few sites; the rank correlation; the hot fraction; the bonds' shares."""
    total = m["total"] or float("nan")
    exact = sum(e["exact"] for e in m["per_site"]) or float("nan")
    parts = []
    if len(m["per_site"]) <= max_sites:
        heat = lambda e: f", heat {e['heat'] / exact:.0%}" if "heat" in e else ""  # noqa: E731
        parts.append(", ".join(f"{e['site']} {e['map'] / total:.0%} (exact {e['exact'] / exact:.0%}{heat(e)})"
                               for e in m["per_site"]))
    rho = m["rank_correlation"]
    parts.append(f"rank correlation {rho:.2f} over {len(m['per_site'])} sites" if rho == rho
                 else "rank correlation undefined (no spread)")
    if "hot_fraction" in m:
        parts.append(f"hot fraction {m['hot_fraction']:.0%} (exact {m['hot_fraction_exact']:.0%})")
    bonds = m.get("per_bond", [])
    if 0 < len(bonds) <= max_sites + 1:
        parts.append("springs " + ", ".join(f"{b['bond']} {b['map'] / total:.0%} (exact {b['exact'] / exact:.0%})"
                                            for b in bonds))
    return "dissipation map: " + "; ".join(parts)
