"""Speed benchmarks against the published CNEEP training loop: `cneep bench throughput` and `cneep bench accuracy`."""

from ..movie import Movie
from ..synth import BeadRenderer, BeadSpringChain, simulate_bead_spring

# The benchmarks' movie: two beads between baths at Tc = 1 and Th = 10, 20x40 px frames.
CHAIN = BeadSpringChain(beads=2, tc=1, th=10, dt=0.01)


def bench_movie(movies: int, frames: int, seed: int) -> Movie:
    """The benchmarks' bead-spring movies; a worker process simulates the same ones again from the seed."""
    return simulate_bead_spring(CHAIN, BeadRenderer(), movies=movies, frames=frames, seed=seed)
