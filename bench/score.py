"""The score-based estimator against exact and Monte Carlo values.

    nice .venv/bin/python bench/score.py chain          # bead-spring N=2: 5x10^4 training snapshots, MLP, 5000 steps
    nice .venv/bin/python bench/score.py verdict        # the equilibrium test and resolved transitions, 15 chains
    OMP_NUM_THREADS=1 nice .venv/bin/python bench/score.py aoup 8 16 64   # interacting trapped AOUPs: N=8, then 16, 64
    nice .venv/bin/python bench/score.py mips 64 128 256 1024   # active discs (MIPS): trained at N=64, then applied
    nice .venv/bin/python bench/score.py mips-data 1024    # only simulate (cache) the snapshots, e.g. for a GPU run

chain: 250 trajectories of 800 frames 2 s apart (nearly independent snapshots), split 25/15/60 %, with both losses;
prints the direct rate against the exact-score value on the same test snapshots, the per-bead densities, the lower
bound and the static value. aoup: the whole state (positions and propulsions) of N repelling AOUPs, the direct
rate against the static sigma_A on the same snapshots and the simulation's own Monte Carlo values (static over all
snapshots, per-step medium), and the learned EP of a particle by its distance from the trap's centre; then at each
larger N the network trained at the first N applied (its rate before any step: start_rate), trained on from it, and
at N = 64 also trained from scratch (`AOUP_LARGER`). Snapshots and runs are cached in bench/out/score_aoup/ (the
first N's run is reused), the same as `cneep simulate aoup --particles 8 --dt 5 --trajectories 32 --frames 200
--propulsion --seed 8`.
mips: `cneep simulate mips --propulsion` at phi 0.6, v0 0.05, gamma 5e-4, beta 30, dt 0.1, eps 0 (convention B),
burn-in 4e4 = 20/gamma from a uniform start, then snapshots 500 = 0.25/gamma apart: at the first N 512/N runs
(at least one) of 200 (`--frames`), at the others one run of 2560/N (at least 10), seeds 1, 2, 3...; cached in
bench/out/score_mips/, the same as `cneep simulate mips --particles 64 --trajectories 8 --frames 200 --interval 500
--propulsion --seed 1`): the direct rate, static value (-<div_x b_x> plus a term of mean 0) and lower bound against
sigma_B on the test snapshots, then every test particle's EP gamma |g_i + s_i|^2, the same in Boffi &
Vanden-Eijnden's form gamma (-div_{g_i} s_i - 2) (equal on average, split differently among particles) and its exact
heat -div_{x_i} b_{x_i}, binned by the simulation's local packing fraction (6 R) and by neighbours, then the network
started from at each larger N (the trained run is kept and reused). The first N trains `--iters` steps of 512
particles (at least one snapshot) on the GPU when there is one (bench/mips_gpu.sh).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree

from cneep_engine import BeadSpringChain, simulate_bead_spring_trajectories
from cneep_engine.device import describe_device, resolve_device
from cneep_engine.drift_models import drift_model
from cneep_engine.estimators import ModelKnownConfig
from cneep_engine.io import load_trajectories, save_trajectories
from cneep_engine.estimators.score import load_score_network
from cneep_engine.run import load_run, train
from cneep_engine.synth import ActiveSampling, Integration, ParticleRenderer, Repulsion, TrappedAOUP, aoup
from cneep_engine.synth.mips import ActiveDiscs, DiscRepulsion, SnapshotSampling, simulate_mips
from cneep_engine.synth.neighbours import wrap
from cneep_engine.training import TrainConfig
from cneep_engine.windows import PARTS, assign_parts

CACHE = Path("bench/out/score_mips")
MIPS_FRAMES = 200   # snapshots per run at the first N
AOUP_CACHE = Path("bench/out/score_aoup")
AOUP_FRAMES = {8: 200, 16: 200}   # snapshots per run (50 at any other N: the transformer sees N particles in each)
# Training at the larger N (batch 512 / N snapshots, 512 particles; `train`: TrainConfig, `score`: ModelKnownConfig).
# At N = 64 the positions are blurred by 0.04 radii (`position_noise`): N = 8's blur, 0.09, led the rate to 1.9 times
# sigma_A (the crowded centre has many contacts, each about sqrt(eps / k) = 0.2 wide), and the smaller noise learns
# more slowly, hence lr 1e-3 over 2000 steps.
AOUP_LARGER = {16: dict(train=dict(iterations=1500, eval_every=250), score=dict(noise=0.03), scratch=False),
               64: dict(train=dict(iterations=2000, eval_every=200, lr=1e-3), score=dict(position_noise=0.04),
                        scratch=True)}
PACKING_EDGES = (0.0, 0.3, 0.45, 0.6, 0.75, 0.9, 1.5)   # dilute below 0.45, interface 0.45-0.75, dense above
# sigma_B / N = gamma <|g + s_g|^2> of about 2 at gamma 5e-4: g given the positions is about 0.02 wide (force
# balance v0 g = -F(x) holds to that), so the default noise, 0.03 std, would blur it; 0.003 shifts it by about 2%
NOISE = 0.003

KEYS = ("ep_rate", "ep_rate_err", "exact_score_rate", "exact_score_rate_err", "densities", "exact_score_densities",
        "bounds", "lower_bound_err", "static_rate", "static_rate_err", "particle_densities", "start_rate")


def show(label: str, run, t0: float) -> None:
    s = run.summary
    shown = {k: s[k] for k in KEYS if k in s and not (isinstance(s[k], list) and len(s[k]) > 16)}   # no long lists
    print(label, json.dumps(shown), f"best step {s['training']['best_iteration']},",
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


def verdict() -> None:
    """The verdict of score runs on bead-spring chains: at equilibrium (equal temperatures, sigma = 0) and driven
    (th = 10), frames 1, 0.1 and 0.01 apart (slowest relaxation time 1), three data seeds each: the direct rate, the
    lower bound, p_equilibrium of the bound's test, and the EP of single transitions with whether it resolves."""
    for th, dt, frames in ((1, 1.0, 500), (1, 0.1, 500), (10, 1.0, 500), (10, 0.1, 2000), (10, 0.01, 5000)):
        for seed in range(3):
            data = simulate_bead_spring_trajectories(BeadSpringChain(beads=2, tc=1, th=th, dt=dt), trajectories=20,
                                                     frames=frames, seed=seed)
            s = train(data, TrainConfig(model="score", iterations=300, eval_every=100, batch=256, lr=3e-3),
                      closed_form=ModelKnownConfig(bootstrap=50)).summary
            t = s["transitions"]
            print(f"th {th} dt {dt} seed {seed}: direct {s['ep_rate']:.4f} ± {s['ep_rate_err']:.4f}, lower "
                  f"{s['bounds']['lower']:.4f} ± {s['lower_bound_err']:.4f}, p {s['p_equilibrium']:.3g}; "
                  f"transitions {t['ep_rate']:.4f} ± {t['ep_rate_err']:.4f}, resolved {t['resolved']}", flush=True)


def particles(n: int):
    """The whole state of N repelling AOUPs in the trap (v0 0.2, Boffi's few-particle system), cached: 32 runs burnt
    in for 200 = 10/A, then snapshots 5 apart (a quarter of the trap's relaxation time 1/A = 20)."""
    path = AOUP_CACHE / f"n{n}.npz"
    if path.exists():
        return load_trajectories(path)
    AOUP_CACHE.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = aoup(TrappedAOUP(particles=n, dims=2, v0=0.2, dt=5.0), Repulsion(), Integration(burn_in=200.0),
                ParticleRenderer(), ActiveSampling(trajectories=32, frames=AOUP_FRAMES.get(n, 50), seed=n,
                                                   propulsion=True))
    print(f"N={n}: simulated in {time.perf_counter() - t0:.0f} s", flush=True)
    save_trajectories(data, path)
    return data


def by_distance(run) -> None:
    """The learned EP of a particle by its distance from the trap's centre (equal-count bins)."""
    binned = run.summary["binned"]["distance"]
    edges, rates = binned["edges"], binned["ep_rate"]
    print("  by distance from the centre: " + ", ".join(f"{lo:.1f}-{hi:.1f}: {r:.3f}" for lo, hi, r in
                                                        zip(edges, edges[1:], rates)), flush=True)


def aoups(sizes: list[int]) -> None:
    config = TrainConfig(model="score", iterations=3000, batch=64, eval_every=250, patience=6)
    first = None
    for n in sizes:
        data = particles(n)
        p = data.truth.params
        print(f"N={n}: static sigma_A {p['sigma_A']:.4g} ± {p['sigma_A_err']:.2g}, per-step medium "
              f"{p['sigma_A_medium']:.4g} ± {p['sigma_A_medium_err']:.2g} ({data.n_trajectories} x "
              f"{data.n_frames} snapshots)", flush=True)
        folder = AOUP_CACHE / f"run_{n}"
        t0 = time.perf_counter()
        if first is None:   # a finished run is kept: the larger N are then applied without training again
            done = (folder / "summary.json").exists()
            run = load_run(folder) if done else train(data, config, closed_form=ModelKnownConfig(bootstrap=100),
                                                      run_dir=folder)
            show(f"N={n} trained", run, t0)
            by_distance(run)
            first = str(folder)
            continue
        applied = train(data, TrainConfig(model="score", iterations=1, batch=4),
                        closed_form=ModelKnownConfig(bootstrap=100, start_from=first))
        show(f"N={n} with the N={sizes[0]} network", applied, t0)
        larger = AOUP_LARGER[n]
        tuned = replace(config, batch=512 // n, **larger["train"])
        for start, label in ((first, f"trained on from the N={sizes[0]} network"), ("", "trained from scratch")):
            if start or larger["scratch"]:
                t0 = time.perf_counter()
                run = train(data, tuned, closed_form=ModelKnownConfig(bootstrap=100, start_from=start,
                                                                      **larger["score"]),
                            run_dir=f"{folder}_{'tuned' if start else 'scratch'}")
                show(f"N={n} {label}", run, t0)
                by_distance(run)


def cached(name: str, index: int, frames: int) -> Path:
    """Where the first N's snapshots (index 0) or run are cached: apart from the default's for other `frames`."""
    return CACHE / (name if frames == MIPS_FRAMES or index else f"{name}_f{frames}")


def discs(n: int, index: int, frames: int = MIPS_FRAMES):
    """The snapshots of N discs, cached: at the first N (index 0) 512/N runs of `frames`, else one run."""
    path = cached(f"n{n}", index, frames).with_suffix(".npz")
    if path.exists():
        return load_trajectories(path)
    CACHE.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    data = simulate_mips(ActiveDiscs(particles=n), DiscRepulsion(),
                         SnapshotSampling(trajectories=1 if index else max(1, 512 // n),
                                          frames=max(10, 2560 // n) if index else frames, interval=500.0,
                                          propulsion=True, seed=index + 1))
    print(f"N={n}: simulated in {time.perf_counter() - t0:.0f} s", flush=True)
    save_trajectories(data, path)
    return data


def pieces(data, length: int):
    """One run cut into pieces of `length` snapshots, each a trajectory of its own, so that the split holds out
    whole pieces and the test part spans several blocks (the cluster moves too slowly for one run's snapshots to
    give two independent blocks); the transitions between pieces are dropped."""
    m, frames, n = data.data.shape
    k = frames // length
    cut = lambda a: a[:, :k * length].reshape(m * k, length, *a.shape[2:])   # noqa: E731
    ds = np.concatenate([data.truth.ds, data.truth.ds[:, -1:]], axis=1)     # a frame's worth, for the cut
    truth = replace(data.truth, ds=cut(ds)[:, :-1],
                    particles={key: cut(v) for key, v in data.truth.particles.items()})
    return replace(data, data=cut(np.asarray(data.data)), truth=truth)


def by_packing(data, folder: str, config) -> None:
    """Each test particle's learned EP and exact heat, binned by its local packing fraction (6 R, the simulation's)
    and by its neighbours within 2.4 R (Boffi's dense criterion: 5 or more; a small box has room for few discs
    within 6 R of one another, so only this tells the dense bulk from its edge there)."""
    test = assign_parts(data.n_trajectories, data.n_frames, config.val_fraction, config.test_fraction,
                        2) == PARTS.index("test")
    drift = drift_model(data)
    net = load_score_network(Path(folder) / "network.pt", drift)
    z = torch.as_tensor(np.asarray(data.data)[test], dtype=torch.float32)
    n, gamma, box = data.truth.params["particles"], data.truth.params["gamma"], data.truth.params["box"]
    with torch.no_grad():
        g_part = torch.cat([net(c) for c in z.split(8)])[:, 2 * n:].double().numpy()
    learned = gamma * (g_part.reshape(len(z), n, 2) ** 2).sum(-1)
    noisy = drift.diffusion > 0
    div = torch.cat([net.diagonal(c, columns=noisy) for c in z.split(8)])[:, 2 * n:].double().numpy()
    # s_g = -g + n_g (the network learns the correction to D^-1 b), so gamma (-div_g s - 2) = -gamma div_g n
    boffi = -gamma * div.reshape(len(z), n, 2).sum(-1)
    heat, packing = (data.truth.particles[k][test] for k in ("heat", "packing"))
    x = wrap(z[:, :2 * n].double().numpy().reshape(len(z), n, 2), box)
    contacts = np.stack([cKDTree(s, boxsize=box).query_ball_point(s, 2.4, return_length=True) - 1 for s in x])
    print(f"  test snapshots {len(z)}: sigma_B per particle {heat.sum(1).mean() / n:.3f}, learned "
          f"{learned.sum(1).mean() / n:.3f}, in Boffi's form {boffi.sum(1).mean() / n:.3f}")
    groups = [(f"packing {lo:.2f}-{hi:.2f}", (packing >= lo) & (packing < hi))
              for lo, hi in zip(PACKING_EDGES, PACKING_EDGES[1:])]
    groups += [(f"{lo}-{hi} neighbours within 2.4 R", (contacts >= lo) & (contacts <= hi))
               for lo, hi in ((0, 1), (2, 3), (4, 4), (5, 9))]
    for label, inside in groups:
        if inside.any():
            print(f"  {label}: {inside.mean():5.1%} of particles, learned {learned[inside].mean():.3f}, in Boffi's "
                  f"form {boffi[inside].mean():.3f}, exact heat {heat[inside].mean():.3f}", flush=True)


def validations(ev) -> None:
    if ev.phase == "validation":
        print(f"  step {ev.iteration}: validation rate {ev.val_rate:.4g}, lower bound {ev.val_lower:.4g} "
              f"{ev.message}, {ev.elapsed_s:.0f} s", flush=True)


def mips(sizes: list[int], iterations: int, frames: int) -> None:
    config = TrainConfig(model="score", iterations=iterations, batch=max(1, 512 // sizes[0]), eval_every=200,
                         patience=6, lr=2e-3)
    first = None
    for index, n in enumerate(sizes):
        data = pieces(discs(n, index, frames), 2 if index else 10)
        p = data.truth.params
        err = p["sigma_per_particle_err"]   # None from a single run: the runs' spread gives the error
        print(f"N={n}: box {p['box']:.1f}, sigma_B per particle {p['sigma_per_particle']:.3f}"
              f"{'' if err is None else f' ± {err:.3f}'} ({data.n_trajectories} x {data.n_frames} snapshots)",
              flush=True)
        t0 = time.perf_counter()
        folder = str(cached(f"run_{n}", index, frames))
        if first is None:   # a finished run is kept: the larger N are then applied without training again
            done = (Path(folder) / "summary.json").exists()
            settings = ModelKnownConfig(bootstrap=100, noise=NOISE)
            run = load_run(folder) if done else train(data, config, closed_form=settings, run_dir=folder,
                                                      callback=validations)
            first = folder
        else:
            run = train(data, TrainConfig(model="score", iterations=1, batch=4, test_fraction=0.6),
                        closed_form=ModelKnownConfig(bootstrap=100, start_from=first), run_dir=folder)
        show(f"N={n} trained" if folder == first else f"N={n} with the N={sizes[0]} network", run, t0)
        by_packing(data, folder, config if folder == first else TrainConfig(test_fraction=0.6))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("system", choices=("chain", "verdict", "aoup", "mips", "mips-data"))
    parser.add_argument("sizes", nargs="*", type=int, help="numbers of particles (aoup, mips, mips-data)")
    parser.add_argument("--iters", type=int, default=4000, help="mips: training steps at the first N")
    parser.add_argument("--frames", type=int, default=MIPS_FRAMES, help="mips: snapshots per run at the first N")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {describe_device(resolve_device('auto'))}")
    if args.system == "mips":
        mips(args.sizes, args.iters, args.frames)
    elif args.system == "mips-data":
        for index, n in enumerate(args.sizes):
            discs(n, index, args.frames)
    elif args.system == "verdict":
        verdict()
    else:
        chain() if args.system == "chain" else aoups(args.sizes)
