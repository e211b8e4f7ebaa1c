"""The score-based estimator against exact and Monte Carlo values.

    nice .venv/bin/python bench/score.py chain          # bead-spring N=2: 5x10^4 training snapshots, MLP, 5000 steps
    nice .venv/bin/python bench/score.py aoup 8 16      # interacting trapped AOUPs: transformer at N=8, applied at 16

chain: 250 trajectories of 800 frames 2 s apart (nearly independent snapshots), split 25/15/60 %, with both losses;
prints the direct rate against the exact-score value on the same test snapshots, the per-bead densities, the lower
bound and the static value. aoup: the whole state (positions and propulsions) of N repelling AOUPs, the direct
rate against the static sigma_A on the same snapshots and the simulation's own Monte Carlo values, then the network
trained at the first N started from at the second (its rate before any step: start_rate).
"""

from __future__ import annotations

import json
import sys
import time

import torch

from cneep_engine import BeadSpringChain, simulate_bead_spring_trajectories
from cneep_engine.estimators import ModelKnownConfig
from cneep_engine.run import train
from cneep_engine.synth import ActiveSampling, Integration, ParticleRenderer, Repulsion, TrappedAOUP, aoup
from cneep_engine.training import TrainConfig

KEYS = ("ep_rate", "ep_rate_err", "exact_score_rate", "exact_score_rate_err", "densities", "exact_score_densities",
        "bounds", "lower_bound_err", "static_rate", "static_rate_err", "particle_densities", "start_rate")


def show(label: str, run, t0: float) -> None:
    s = run.summary
    print(label, json.dumps({k: s[k] for k in KEYS if k in s}), f"best step {s['training']['best_iteration']},",
          f"{time.perf_counter() - t0:.0f} s", flush=True)


def chain() -> None:
    model = BeadSpringChain(beads=2, tc=1, th=10, dt=2.0)
    data = simulate_bead_spring_trajectories(model, trajectories=250, frames=800, seed=1)
    print(f"exact sigma {model.ep_rate:.4f}, densities {model.ep_density.round(4).tolist()}")
    for loss in ("denoising", "divergence"):
        t0 = time.perf_counter()
        run = train(data, TrainConfig(model="score", iterations=5000, val_fraction=0.15, test_fraction=0.6),
                    closed_form=ModelKnownConfig(score_loss=loss))
        show(loss, run, t0)


def particles(n: int, seed: int):
    return aoup(TrappedAOUP(particles=n, dims=2, v0=0.2), Repulsion(), Integration(burn_in=200.0),
                ParticleRenderer(), ActiveSampling(trajectories=32, frames=200, seed=seed, propulsion=True))


def aoups(small: int, large: int) -> None:
    config = TrainConfig(model="score", iterations=3000, batch=64, eval_every=250, patience=6)
    first = None
    for n in (small, large):
        data = particles(n, seed=n)
        p = data.truth.params
        print(f"N={n}: static sigma_A {p['sigma_A']:.4g} ± {p['sigma_A_err']:.2g}, per-step medium "
              f"{p['sigma_A_medium']:.4g} ± {p['sigma_A_medium_err']:.2g}", flush=True)
        t0 = time.perf_counter()
        run = train(data, config, closed_form=ModelKnownConfig(bootstrap=100), run_dir=f"/tmp/score_aoup_{n}")
        show(f"N={n} trained", run, t0)
        if first is None:
            first = f"/tmp/score_aoup_{n}"
        else:
            t0 = time.perf_counter()
            moved = train(data, TrainConfig(model="score", iterations=1),
                          closed_form=ModelKnownConfig(bootstrap=100, start_from=first))
            show(f"N={n} with the N={small} network", moved, t0)


if __name__ == "__main__":
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    chain() if sys.argv[1] == "chain" else aoups(int(sys.argv[2]), int(sys.argv[3]))
