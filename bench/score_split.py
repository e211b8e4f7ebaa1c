"""How the score splits sigma_B among active particles without translational noise (convention B), next to the
exact heat split e_c = -d b_{x_c} / d x_c.

    nice .venv/bin/python bench/score_split.py harmonic   # a 91-disc harmonic cluster: exact, seconds
    nice .venv/bin/python bench/score_split.py mips       # the harmonic-force score on the N = 64 mips snapshots

harmonic: AOUPs dx = (v0 g - H x) dt, dg = -gamma g dt + sqrt(2 gamma) dW on a hexagonal patch of 5 rings, unit
springs between neighbours at rest (H their stiffness matrix) and a weak trap (0.01) that makes the state
stationary; the exact score -C^-1 z from the Lyapunov solution, each particle's gamma <|g_i + s_{g_i}|^2> against its
heat, by ring. mips: the score that is exact for harmonic forces, s_g = -(1 + H(x)/gamma) b_x / v0 with H the Hessian
of the pair potential at the snapshot, its direct rate and lower bound on 800 snapshots against sigma_B, and how
many directions of 1 + H/gamma are negative (where that score is not that of any density).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np
import torch

from cneep_engine.drift_models import drift_model
from cneep_engine.synth.linear import LinearDiffusion


@dataclass(frozen=True)
class HarmonicAOUPs(LinearDiffusion):
    drift: np.ndarray
    diffusion: np.ndarray
    dt: float = 1.0


def hexagon(rings: int) -> tuple[np.ndarray, np.ndarray]:
    """The discs' positions and the ring each is on (0 at the centre, `rings` on the surface)."""
    axial = [(i, j) for i in range(-rings, rings + 1) for j in range(-rings, rings + 1) if abs(i + j) <= rings]
    return (np.array([(i + j / 2, j * np.sqrt(3) / 2) for i, j in axial]),
            np.array([max(abs(i), abs(j), abs(i + j)) for i, j in axial]))


def stiffness(points: np.ndarray, trap: float) -> np.ndarray:
    n = len(points)
    h = trap * np.eye(2 * n)
    for a in range(n):
        for b in range(a + 1, n):
            r = points[b] - points[a]
            if abs(np.linalg.norm(r) - 1) < 1e-9:
                k = np.outer(r, r)
                for i, j, sign in ((a, a, 1), (b, b, 1), (a, b, -1), (b, a, -1)):
                    h[2 * i:2 * i + 2, 2 * j:2 * j + 2] += sign * k
    return h


def harmonic(rings: int = 5, trap: float = 0.01, v0: float = 0.05, gamma: float = 5e-4) -> None:
    points, ring = hexagon(rings)
    h, m = stiffness(points, trap), 2 * len(points)
    system = HarmonicAOUPs(np.block([[-h, v0 * np.eye(m)], [np.zeros((m, m)), -gamma * np.eye(m)]]),
                           np.diag(np.r_[np.zeros(m), np.full(m, gamma)]))
    c = system.covariance
    residual = np.hstack([np.zeros((m, m)), np.eye(m)]) - np.linalg.inv(c)[m:]   # g + s_g = residual @ z
    score_split = gamma * np.diag(residual @ c @ residual.T).reshape(-1, 2).sum(1)
    heat = np.diag(h).reshape(-1, 2).sum(1)
    print(f"{len(points)} discs: score split sums to {score_split.sum():.6f}, heat to {heat.sum():.6f}; largest "
          f"difference of a particle's two {np.abs(score_split - heat).max():.1e}")
    for r in range(rings + 1):
        on = ring == r
        print(f"  ring {r}: {on.sum():2d} discs, score split {score_split[on].mean():.4f}, heat {heat[on].mean():.4f}")


def mips(snapshots: int = 800) -> None:
    from score import discs   # bench/score.py's cached N = 64 snapshots (simulated there once)
    data = discs(64, 0)
    p = data.truth.params
    drift = drift_model(data)
    n, v0, gamma = p["particles"], p["v0"], p["gamma"]
    nd = 2 * n
    z_all = torch.as_tensor(np.asarray(data.data).reshape(-1, 4 * n), dtype=torch.float64)
    z_all = z_all[torch.randperm(len(z_all), generator=torch.Generator().manual_seed(0))[:snapshots]]

    def force(x):
        return drift.drift(torch.cat([x, torch.zeros_like(x)], 1))[:, :nd]

    direct, lower, heat = [], [], []
    for z in z_all.split(8):
        x, g = z[:, :nd], z[:, nd:]
        f, jb = torch.func.jvp(force, (x,), (v0 * g + force(x),))    # F and (dF/dx) b_x
        jdiag = drift.divergence(z)[:, :nd]
        u = (jb - gamma * f) / (gamma * v0)                            # g + s_g
        direct.append(gamma * (u ** 2).sum(1))
        lower.append((gamma * (2 * u * g - u ** 2) - 2 * jdiag).sum(1))
        heat.append(-jdiag.sum(1))
    negative = []
    for z in z_all[:16]:
        jac = torch.autograd.functional.jacobian(lambda y: force(y[None])[0], z[:nd])
        negative.append((np.linalg.eigvalsh(np.eye(nd) - (jac + jac.T).numpy() / 2 / gamma) < 0).sum())
    for name, values in (("sigma_B (exact heat)", heat), ("direct rate", direct), ("lower bound", lower)):
        v = torch.cat(values).numpy()
        print(f"{name}: {v.mean():.1f} +- {v.std() / np.sqrt(len(v)):.1f}")
    print(f"negative directions of 1 + H/gamma: {np.mean(negative):.1f} of {nd} per snapshot")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("system", choices=("harmonic", "mips"))
    harmonic() if parser.parse_args().system == "harmonic" else mips()
