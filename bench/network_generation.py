"""Time to generate filament-network movies with their exact EP: the sampling, the rendering and the truth.

Generates `--movies` x `--frames` of the default network (8 x 8, 3 hot nodes, 99 x 119 px, uint8) in memory with
`simulate_network` and prints wall and CPU time (the CPU time is the cost on a machine that other work keeps
busy) and the peak memory, then the same phases one by one: exact sampling of the 72 coordinates, rendering of
one movie on one thread, the EP of every transition.

    python bench/network_generation.py [--movies 100] [--frames 2000]
"""

from __future__ import annotations

import argparse
import os
import resource
import time

from cneep_engine.synth import FilamentNetwork, FilamentRenderer, simulate_network


def timed(f, *args, **kwargs):
    t, cpu = time.perf_counter(), time.process_time()
    out = f(*args, **kwargs)
    return out, time.perf_counter() - t, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movies", type=int, default=100)
    parser.add_argument("--frames", type=int, default=2000)
    args = parser.parse_args()
    network, renderer = FilamentNetwork(), FilamentRenderer()
    n = args.movies * args.frames
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    movie, wall, cpu = timed(simulate_network, network, renderer, args.movies, args.frames, seed=0)
    print(f"simulate_network {args.movies} x {args.frames} frames of {movie.frame_shape}: {wall:.1f} s wall, "
          f"{cpu:.1f} s CPU ({1e3 * wall / n:.3f} / {1e3 * cpu / n:.3f} ms per frame); "
          f"{movie.frames.nbytes / 1e9:.2f} GB of frames, peak resident memory "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB")
    del movie
    x, wall, cpu = timed(network.sample, args.movies, args.frames, seed=0)
    print(f"  sampling: {wall:.2f} s wall, {cpu:.2f} s CPU")
    _, wall, cpu = timed(renderer.render, network, x[0])
    print(f"  rendering one movie on one thread: {1e3 * wall / args.frames:.3f} ms wall, "
          f"{1e3 * cpu / args.frames:.3f} ms CPU per frame")
    _, wall, cpu = timed(network.transition_ep, x)
    print(f"  EP of every transition: {wall:.2f} s wall, {cpu:.2f} s CPU")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
