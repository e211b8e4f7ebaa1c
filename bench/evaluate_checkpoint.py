"""Evaluate a saved estimator again on its movie's held-out test part and write the run folder's results.

For a benchmark whose training finished but whose evaluation did not (stopped, out of memory): the same
split as training (give the same fractions and seed), the same summary.json as `cneep train`, without
retraining. Training figures (iterations, wall time) come from the run folder's train_log.csv.

    .venv/bin/python bench/evaluate_checkpoint.py bench/out/n2.tif bench/out/n2_run --val-fraction 0.05 \\
        --test-fraction 0.70 --batch 256 --lr 1e-4 --iters 64000 --eval-every 3000 --val-samples 100000
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from cneep_engine import TrainConfig, load_movie
from cneep_engine.run import evaluate_run
from cneep_engine.training import SeedRun, Trainer, load_checkpoint, read_log


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("movie", type=Path)
    p.add_argument("run_dir", type=Path)
    p.add_argument("--val-fraction", type=float, default=TrainConfig.val_fraction)
    p.add_argument("--test-fraction", type=float, default=TrainConfig.test_fraction)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch", type=int, default=TrainConfig.batch, help="as trained (recorded in config.json)")
    p.add_argument("--lr", type=float, default=TrainConfig.lr, help="as trained (recorded in config.json)")
    p.add_argument("--iters", type=int, default=TrainConfig.iterations, help="as trained")
    p.add_argument("--eval-every", type=int, default=TrainConfig.eval_every, help="as trained")
    p.add_argument("--val-samples", type=int, default=TrainConfig.val_samples, help="as trained")
    a = p.parse_args()
    config = TrainConfig(val_fraction=a.val_fraction, test_fraction=a.test_fraction, seed=a.seed, batch=a.batch,
                         lr=a.lr, iterations=a.iters, eval_every=a.eval_every, val_samples=a.val_samples, patience=0)
    trainer = Trainer(load_movie(a.movie), config)
    path = a.run_dir / f"model_seed{a.seed}.pt"
    info = torch.load(path, map_location="cpu", weights_only=True)
    history = read_log(a.run_dir / "train_log.csv", 1, a.iters)
    seed_run = SeedRun(seed=a.seed, model=load_checkpoint(path, trainer.device), best_iteration=info["iteration"],
                       best_val_loss=info["val_loss"], iterations=history[-1].iteration,
                       stopped=history[-1].message, history=history)
    run = evaluate_run(trainer, [seed_run], a.run_dir)
    s = run.summary
    print(json.dumps({k: s[k] for k in ("ep_rate", "ep_per_frame", "loss_based_rate", "iterations",
                                         "best_iteration", "test_windows", "wall_s", "truth")}, indent=1))
    print(f"training: {history[-1].elapsed_s:.0f} s for {history[-1].iteration} iterations")


if __name__ == "__main__":
    from cneep_engine.allocator import keep_freed_memory
    keep_freed_memory()   # as `cneep` does: training steps reuse freed memory
    main()
