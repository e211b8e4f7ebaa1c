"""Ways to run the training step and inference, and what each precision does to accuracy, measured in one call
(on a GPU, one call of the device tool): the step that `cneep train` runs (windows drawn and gathered on the
device, one batched pass, Adam, the weight average) in variants, inference in variants, and what bf16, fp16
and TF32 do to the accuracy of a trained model.

Variants: Adam fused into one kernel; channels-last activations; the trunk under bf16 or fp16 autocast (the
head, the subtraction of the forward and reversed outputs and the loss stay fp32); TF32 off; the whole step
captured as a CUDA graph (fused, capturable Adam; windows drawn with the default generator) alone and combined.
Throughput: alternating rounds, median over rounds (fp16 without loss scaling there: one multiply more).
Accuracy: the same seed and data trained in fp32 (TF32 convolutions, PyTorch's default), strict fp32, bf16 and
fp16 (loss scaled by a constant, which Adam's update ignores), each test set evaluated in strict fp32 and as
trained. On a CPU (bf16: 1.5x the fp32 step, but 0.009 lower R^2: docs/benchmarks.md, "What did not pay")
fp16 is skipped: this torch has no fast CPU fp16 convolutions (0.01x).

    python3 bench/step_variants.py --out variants.json          # on the GPU (bench/gpu_check.sh runs it)
    .venv/bin/python bench/step_variants.py --device cpu --batches 256 --seconds 0.2 --rounds 2 \\
        --quality-iters 40 --quality-frames 400             # a smoke test of the script on a CPU
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import statistics
import time

import torch
from trunk_variants import Trunk

from cneep_engine.bench import CHAIN, bench_movie
from cneep_engine.bench.throughput import _sync, _timed
from cneep_engine.device import describe_device, resolve_device
from cneep_engine.metrics import compare
from cneep_engine.training import TrainConfig, Trainer, _average_into
from cneep_engine.windows import window_starts


@contextlib.contextmanager
def tf32(allowed: bool):
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = allowed
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


BF16, FP16 = torch.bfloat16, torch.float16
VARIANTS = {   # name: (fused Adam, channels-last, autocast dtype, CUDA graph, TF32 convolutions)
    "as trained now": (False, False, None, False, True),
    "TF32 off": (False, False, None, False, False),
    "fused Adam": (True, False, None, False, True),
    "channels-last": (False, True, None, False, True),
    "bf16 trunk": (False, False, BF16, False, True),
    "fp16 trunk": (False, False, FP16, False, True),
    "graph": (True, False, None, True, True),
    "graph + channels-last": (True, True, None, True, True),
    "graph + bf16": (True, False, BF16, True, True),
    "graph + fp16": (True, False, FP16, True, True),
    "graph + channels-last + fp16": (True, True, FP16, True, True),
}


def _skip(device: torch.device, dtype, graph: bool) -> bool:
    return device.type != "cuda" and (graph or dtype is FP16)


def make_step(trainer: Trainer, fused: bool, channels_last: bool, dtype, graph: bool):
    """A training step as `Trainer.train_seed` runs it (step, then weight average), in one variant."""
    model = trainer.new_model(0)
    model.trunk = Trunk(model.trunk, channels_last, dtype)
    averaged = copy.deepcopy(model)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=fused or None, capturable=graph)
    gen = torch.Generator(device=trainer.device).manual_seed(0)
    n, batch = trainer.train_starts.numel(), trainer.config.batch

    def eager():
        loss, _ = trainer.step(model, opt, gen)
        _average_into(averaged, model, trainer.config.average)
        return loss

    if not graph:
        return eager

    def capturable():   # the default generator: a graph replays its draws with fresh random numbers
        idx = torch.randint(n, (batch,), device=trainer.device)
        loss = trainer.loss(model(trainer.gather(trainer.train_starts[idx]))).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        _average_into(averaged, model, trainer.config.average)
        return loss.detach()

    side = torch.cuda.Stream(trainer.device)
    side.wait_stream(torch.cuda.current_stream(trainer.device))
    with torch.cuda.stream(side):   # warm-up off the default stream, as graph capture requires
        for _ in range(3):
            capturable()
    torch.cuda.current_stream(trainer.device).wait_stream(side)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        out = capturable()

    def replay():
        g.replay()
        return out

    return replay


def throughput(movie, device: str, batch: int, seconds: float, rounds: int) -> dict:
    trainer = Trainer(movie, TrainConfig(batch=batch, device=device, val_fraction=0.25, test_fraction=0.25))
    steps, rates, failed = {}, {}, {}
    for name, (fused, cl, dtype, graph, allow_tf32) in VARIANTS.items():
        if _skip(trainer.device, dtype, graph):
            continue
        try:   # one device call measures them all: a variant that fails is reported, not fatal
            with tf32(allow_tf32):
                step = make_step(trainer, fused, cl, dtype, graph)
                _timed(step, seconds / 4, trainer.device)   # warm-up: kernel choice, caches
        except Exception as e:
            failed[name] = f"{type(e).__name__}: {e}"
            print(f"batch {batch}, {name}: failed: {failed[name]}", flush=True)
            continue
        steps[name], rates[name] = step, []
    for _ in range(rounds):
        for name, step in steps.items():
            with tf32(VARIANTS[name][4]):
                n, t = _timed(step, seconds, trainer.device)
            rates[name].append(n * batch / t)
    return {**{name: statistics.median(r) for name, r in rates.items()}, **{k: None for k in failed}}


def inference(movie, device: str, seconds: float, rounds: int) -> dict:
    trainer = Trainer(movie, TrainConfig(device=device, val_fraction=0.25, test_fraction=0.25))
    starts = trainer.train_starts.repeat(-(-200_000 // trainer.train_starts.numel()))[:200_000]
    variants = {"fp32 (TF32)": (False, None, True), "strict fp32": (False, None, False),
                "channels-last": (True, None, True), "bf16 trunk": (False, BF16, True),
                "fp16 trunk": (False, FP16, True)}
    variants = {k: v for k, v in variants.items() if not _skip(trainer.device, v[1], False)}
    models, rates = {}, {name: [] for name in variants}
    for name, (cl, dtype, _) in variants.items():
        models[name] = trainer.new_model(0)
        models[name].trunk = Trunk(models[name].trunk, cl, dtype)
    for _ in range(rounds):
        for name, model in models.items():
            with tf32(variants[name][2]):
                n, t = _timed(lambda: trainer.predict(model, starts), seconds, trainer.device)
            rates[name].append(n * len(starts) / t)
    return {"eval_batch": trainer.eval_batch, **{k: statistics.median(v) for k, v in rates.items()}}


def quality(device: str, movies: int, frames: int, iterations: int) -> dict:
    """Train the same seed on the same data in each precision; test each in strict fp32 and as trained."""
    movie = bench_movie(movies, frames, seed=1)
    config = TrainConfig(iterations=iterations, eval_every=max(1, iterations // 10), val_samples=10_000,
                         patience=0, device=device)
    trainer = Trainer(movie, config)
    starts, part = window_starts(trainer.parts, 2)
    test = starts[part == 2]
    truth = movie.truth.window_ep(test, 2)
    new_model, loss = trainer.new_model, trainer.loss
    out = {}
    for name, dtype, allow_tf32 in (("fp32 (TF32)", None, True), ("strict fp32", None, False),
                                    ("bf16 trunk", BF16, True), ("fp16 trunk", FP16, True)):
        if _skip(trainer.device, dtype, False):
            continue

        def wrapped(seed, dtype=dtype):
            model = new_model(seed)
            model.trunk = Trunk(model.trunk, False, dtype)
            return model
        trainer.new_model = wrapped
        # fp16: the loss scaled so that its gradients do not underflow; Adam's update ignores a constant scale
        # (but for its epsilon), and R^2 and the rate do not read the loss.
        trainer.loss = (lambda ds: 1024.0 * loss(ds)) if dtype is FP16 else loss
        with tf32(allow_tf32):
            t0 = time.perf_counter()
            run = trainer.train_seed(config.seed)
            _sync(trainer.device)
            wall = time.perf_counter() - t0
            as_trained = trainer.predict(run.model, torch.from_numpy(test).to(trainer.device)).cpu().numpy()
        run.model.trunk = run.model.trunk.inner
        with tf32(False):
            strict = trainer.predict(run.model, torch.from_numpy(test).to(trainer.device)).cpu().numpy()
        last = run.history[-2]
        out[name] = {"train_s": wall, "val_r2": last.val_r2,
                     **{f"test_{k}": {"r2": compare(ds, truth)["r2"],
                                      "rel_err_2pt": trainer.rate(float(ds.mean())) / CHAIN.ep_rate_two_frame - 1}
                        for k, ds in (("strict_fp32", strict), ("as_trained", as_trained))}}
    return out


PARTS = ["training", "inference", "quality"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda")
    p.add_argument("--batches", type=int, nargs="+", default=[1024, 4096, 16384])
    p.add_argument("--seconds", type=float, default=0.5, help="per variant and round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--quality-movies", type=int, default=20)
    p.add_argument("--quality-frames", type=int, default=5000)
    p.add_argument("--quality-iters", type=int, default=3000)
    p.add_argument("--parts", nargs="+", choices=PARTS, default=PARTS, help="what to measure")
    p.add_argument("--out", help="write the results here as JSON")
    a = p.parse_args()
    movie = bench_movie(4, 2000, seed=0)
    result = {"torch": torch.__version__,
              "device": describe_device(resolve_device(a.device)),
              "training_samples_per_s": {}, "inference_windows_per_s": None, "quality": None}

    def save():
        if a.out:
            with open(a.out, "w") as f:
                json.dump(result, f, indent=1)

    for batch in a.batches if "training" in a.parts else []:
        rates = throughput(movie, a.device, batch, a.seconds, a.rounds)
        result["training_samples_per_s"][batch] = rates
        save()
        base = rates["as trained now"]
        print(f"batch {batch}: " + ", ".join(f"{k} {v:,.0f} ({v / base:.2f}x)" for k, v in rates.items() if v),
              flush=True)
    if "inference" in a.parts:
        result["inference_windows_per_s"] = inference(movie, a.device, a.seconds, a.rounds)
        save()
        print("inference windows/s:", result["inference_windows_per_s"], flush=True)
    if "quality" not in a.parts:
        return
    result["quality"] = quality(a.device, a.quality_movies, a.quality_frames, a.quality_iters)
    save()
    for name, q in result["quality"].items():
        print(f"{name:12s} trained in {q['train_s']:6.1f} s; val R^2 {q['val_r2']:.4f}; test in strict fp32: "
              f"R^2 {q['test_strict_fp32']['r2']:.4f}, rate {q['test_strict_fp32']['rel_err_2pt']:+.2%}; "
              f"as trained: R^2 {q['test_as_trained']['r2']:.4f}", flush=True)


if __name__ == "__main__":
    from cneep_engine.allocator import keep_freed_memory
    keep_freed_memory()   # as `cneep` does: training steps reuse freed memory
    main()
