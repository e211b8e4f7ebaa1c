"""The nonlinear filament network (geometric springs) against the linear one: Monte Carlo EP rate and its cost.

First the exact bias of the integrator itself: the mean trapezoid medium EP of the Euler-Maruyama chain of the
linear network (a Gaussian chain, its stationary covariance from the discrete Lyapunov equation) against sigma,
at a few time steps. Then, for each T_c, `--replicas` trajectories of `--time` time units after `--burn-in` with
geometric springs: the mean medium EP rate with its standard error over the replicas, its difference to the
linear network's exact sigma (the same at every T_c), and the CPU time per replica-step.

    python bench/network_nonlinear.py [--replicas 32] [--time 100] [--time-step 0.002] [--tc 0.001 0.01 0.03]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from scipy.linalg import solve_discrete_lyapunov

from cneep_engine.synth import FilamentNetwork, GeometricSprings
from cneep_engine.synth.network_nonlinear import integrate
from cneep_engine.synth.sampling import mean_and_error


def euler_maruyama_rate(network: FilamentNetwork, h: float) -> float:
    """Mean trapezoid medium EP per unit time of the linear network's Euler-Maruyama chain u' = B u + noise,
    B = 1 + h A: with forces f = -K u and S its stationary covariance, <(f + f') . (u' - u) / T> / 2 reduces to
    tr(W B S F) - tr(W S B^T F) over 2, W = 1/T, F = -K (the terms in S alone cancel)."""
    a, d = network.drift, network.diffusion
    b = np.eye(len(a)) + h * a
    s = solve_discrete_lyapunov(b, 2 * h * d)
    w, f = np.diag(1 / np.diag(d * network.gamma)), network.gamma * a
    return float(np.trace(w @ b @ s @ f) - np.trace(w @ s @ b.T @ f)) / (2 * h)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicas", type=int, default=32)
    parser.add_argument("--time", type=float, default=100.0, help="time units recorded per replica")
    parser.add_argument("--time-step", type=float, default=0.002)
    parser.add_argument("--burn-in", type=float, default=20.0)
    parser.add_argument("--tc", type=float, nargs="+", default=[0.001, 0.01, 0.03])
    args = parser.parse_args()
    linear = FilamentNetwork()
    print(f"linear sigma {linear.ep_rate:.4f}; fastest relaxation rate {-np.linalg.eigvalsh(linear.drift).min():.3f}")
    for h in (0.01, 0.005, 0.002, 0.001):
        rate = euler_maruyama_rate(linear, h)
        print(f"  Euler-Maruyama chain of the linear network, step {h:g}: {rate:.4f} ({rate / linear.ep_rate - 1:+.3%})")
    springs = GeometricSprings(nonlinear=True, time_step=args.time_step, burn_in=args.burn_in)
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    for tc in args.tc:
        network = FilamentNetwork(tc=tc)
        frames = round(args.time / network.dt) + 1
        wall, cpu = time.perf_counter(), time.process_time()
        _, medium = integrate(network, springs, args.replicas, frames, seed=0)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        sigma, err = mean_and_error(medium.mean(1) / network.dt)
        steps = args.replicas * round((args.burn_in + args.time) / (network.dt / springs.substeps(network)))
        print(f"T_c {tc:g}: sigma {sigma:.3f} +- {err:.3f} ({sigma / linear.ep_rate - 1:+.2%} +- "
              f"{err / linear.ep_rate:.2%} against linear); {wall:.1f} s wall, {cpu:.1f} s CPU, "
              f"{1e6 * cpu / steps:.1f} us CPU per replica-step")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
