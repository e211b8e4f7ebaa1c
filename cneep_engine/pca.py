"""Principal components of a movie's frames, read in chunks, so that a movie larger than memory can be fitted.

The leading eigenvectors of the pixel covariance C come from randomized subspace iteration (Halko, Martinsson &
Tropp, SIAM Rev. 53, 217 (2011)): a random block Q of k + OVERSAMPLE pixel-space vectors is multiplied by C,
computed as the sum over chunks of frames of X_c^T (X_c Q), and re-orthonormalised, PASSES times; the last
product gives Q^T C Q, whose eigenvectors rotate Q onto the components (Rayleigh-Ritz). Each pass reads the
chosen frames once and holds only (pixels x (k + OVERSAMPLE)) numbers, whatever the number of frames.

    pcs = fit_components(movie.frames, flat_indices, k=8)
    coords = pcs.project(movie.frames, np.arange(movie.n_movies * movie.n_frames))    # (frames, k)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from .io.lazy import read_flat

OVERSAMPLE = 10           # extra vectors: the k-th component converges at the rate of the gap to the (k + 10)-th
PASSES = 5                # multiplications by the covariance
CHUNK_BYTES = 32 << 20    # float64 frames held at a time


@dataclass(frozen=True)
class PrincipalComponents:
    mean: np.ndarray          # (pixels,) mean frame of the fitted frames
    loadings: np.ndarray      # (k, pixels) orthonormal components, by decreasing variance
    variance: np.ndarray      # (k,) variance of the fitted frames along each component
    total_variance: float     # summed over every pixel: variance / total_variance is the fraction explained

    def project(self, frames, flat: np.ndarray) -> np.ndarray:
        """(n, k) coordinates of the frames `flat` (movie * frames + t) along the components."""
        return np.concatenate([(x - self.mean) @ self.loadings.T for x in _chunks(frames, flat)]
                              or [np.empty((0, len(self.loadings)))])


def _chunks(frames, flat: np.ndarray) -> Iterator[np.ndarray]:
    """The frames `flat` of a (movies, frames, H, W) array or LazyFrames as float64 rows of pixels, a chunk at a
    time."""
    pixels = int(np.prod(frames.shape[2:]))
    step = max(1, CHUNK_BYTES // (8 * pixels))
    for a in range(0, len(flat), step):
        yield read_flat(frames, flat[a:a + step]).reshape(-1, pixels).astype(np.float64)


def fit_components(frames, flat: np.ndarray, k: int, seed: int = 0) -> PrincipalComponents:
    """The k leading principal components of the frames `flat` (movie * frames + t) of a (movies, frames, H, W)
    array or LazyFrames. Needs k below both the number of frames and of pixels."""
    n, pixels = len(flat), int(np.prod(frames.shape[2:]))
    total, squares = np.zeros(pixels), 0.0
    for x in _chunks(frames, flat):
        total += x.sum(0)
        squares += float(np.einsum("ij,ij->", x, x))
    mean = total / n
    total_variance = (squares - n * mean @ mean) / (n - 1)
    width = min(k + OVERSAMPLE, pixels, n - 1)
    q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((pixels, width)))
    for i in range(PASSES):
        cq = np.zeros_like(q)
        for x in _chunks(frames, flat):
            x -= mean
            cq += x.T @ (x @ q)
        cq /= n - 1
        if i < PASSES - 1:
            q, _ = np.linalg.qr(cq)
    variance, rotation = np.linalg.eigh(q.T @ cq)
    order = np.argsort(variance)[::-1][:k]
    loadings = (q @ rotation[:, order]).T
    # A component's sign is arbitrary; fix it (largest entry positive) so that a refit gives the same coordinates.
    loadings *= np.sign(loadings[np.arange(k), np.abs(loadings).argmax(1)])[:, None]
    return PrincipalComponents(mean, loadings, variance[order], float(total_variance))
