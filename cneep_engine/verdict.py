"""The statistics of a held-out dS series: error bar, equilibrium test with its noise floor, convergence.

Every estimator here is odd under time reversal, dS(reversed window) = -dS(window). If the recording is
stationary and time-reversal symmetric (equilibrium), dS on windows the estimator was not trained on is
therefore symmetric about 0. dS is correlated in time (windows share frames, the system relaxes slowly), so
the statistics work on blocks of consecutive windows, never spanning a movie boundary or a gap. A trained
network's dS also holds a part g(x') - g(x) that carries no EP: it telescopes along a movie, so neighbouring
blocks' sums are anticorrelated over the system's relaxation time, which tau_int of dS does not show. Whole
movies are immune, and so is the equilibrium test, which flips only every other block of a movie: the blocks
it flips are a block apart, each holds its own two ends of g, and under equilibrium each is as likely
reversed. The error bar uses every block and errs on the safe side by the boundary terms it counts
(docs/benchmarks.md, "Verdict calibration").

    v = verdict(ds, movie, frame, part == TEST, window_time, history)
    v["ep_rate_err"], v["ep_rate_ci95"], v["p_equilibrium"], v["noise_floor"], v["converged"], v["warnings"]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .progress import Progress

BLOCK_TAUS = 10          # blocks shorter than this many integrated autocorrelation times are warned about
MIN_BLOCKS = 80          # blocks per held-out part, as long as that allows: the test flips 40 of them
MAX_BLOCKS = 200         # more (many short movies) are merged: longer blocks hold slow correlations too
RESAMPLES = 2000         # bootstrap resamples
FLIPS = 9999             # random sign patterns: p-values down to 1e-4
SOKAL_C = 5.0            # Sokal's window: sum rho(t) up to the smallest W >= SOKAL_C * tau(W)
MIN_VALIDATIONS = 9      # a third of them, at least 3, judge whether training settled
DRIFT = 0.05             # relative change of the validation rate over that third that counts as still moving
# The two reasons a run is not converged, as its warnings say them; the advice tells them apart.
STILL_MOVING = "the validation rate still moved"
RATES_DISAGREE = "training and validation rates disagree"
MAX_LAG = 10_000         # lags summed at most (tau up to ~2000 windows), so millions of windows take ~0.3 s
Z_95 = 1.6448536         # one-sided 5% point of the standard normal distribution
RESOLVED = 0.25          # relative gap at which a model-known estimate's per-transition EP is no longer shown


def integrated_time(x: np.ndarray, segment: np.ndarray | None = None, max_lag: int | None = None) -> float:
    """Integrated autocorrelation time of a stationary series, in samples: tau = 1/2 + sum_{t>=1} rho(t).

    With this convention the variance of a mean of n samples is 2 tau var(x) / n, and an AR(1) series with
    coefficient phi has tau = (1 + phi) / (2 (1 - phi)); uncorrelated samples have tau = 1/2. rho is pooled over
    the segments (pairs never span two) and summed up to Sokal's automatic window, the smallest W with
    W >= 5 tau(W), or to `max_lag` when no such W comes first; 1/2 when there is no lag to sum."""
    x = np.asarray(x, np.float64)
    n = x.size
    segment = np.zeros(n, np.int64) if segment is None else np.asarray(segment)
    starts = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]]) if n else np.zeros(0, np.int64)
    lengths = np.diff(np.r_[starts, n])
    # At most the longest segment's lags, and four mean segment lengths: the padding below costs max_lag per segment.
    longest = min(int(lengths.max(initial=1)) - 1, 4 * n // max(starts.size, 1))
    max_lag = longest if max_lag is None else min(max_lag, longest)
    if max_lag < 1:
        return 0.5
    # Autocovariance of all segments in one FFT: each segment is followed by max_lag zeros, so no product
    # at a lag up to max_lag pairs samples of two segments (nor wraps around the circular correlation's end).
    padded = np.zeros(n + starts.size * max_lag)
    padded[np.arange(n) + np.repeat(np.arange(starts.size) * max_lag, lengths)] = x - x.mean()
    size = 1 << (padded.size - 1).bit_length()
    f = np.fft.rfft(padded, size)
    products = np.fft.irfft(f * f.conj(), size)[:max_lag + 1]
    lags = np.arange(max_lag + 1)
    ordered = np.sort(lengths)
    longer = ordered.size - np.searchsorted(ordered, lags, side="right")   # segments longer than each lag
    tail = np.r_[np.cumsum(ordered[::-1])[::-1], 0]
    pairs = tail[ordered.size - longer] - lags * longer
    cov = products / pairs
    if cov[0] <= 0:
        return 0.5
    tau = 0.5 + np.cumsum(cov[1:] / cov[0])
    window = np.flatnonzero(np.arange(1, max_lag + 1) >= SOKAL_C * tau)
    return float(tau[window[0] if window.size else -1])


def segments(movie: np.ndarray, frame: np.ndarray) -> np.ndarray:
    """Segment index of each window of a selection in Run order (by movie, then frame): a new segment starts
    with a new movie or after a gap, a step in frames larger than the windows' stride."""
    movie, frame = np.asarray(movie), np.asarray(frame)
    if movie.size == 0:
        return np.zeros(0, np.int64)
    same = movie[1:] == movie[:-1]
    step = np.diff(frame)
    stride = step[same].min() if same.any() else 1
    return np.r_[0, np.cumsum(~same | (step != stride))]


def blocks(segment: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Block index of each window, and whether it lies in an odd-numbered block of its segment (first, third,
    ...: the blocks the equilibrium test flips). Every segment is cut into blocks of `length` consecutive
    windows, its remainder joined to its last block (a segment shorter than `length` is one block). More than
    MAX_BLOCKS blocks are merged, consecutive whole blocks together, down to at most MAX_BLOCKS."""
    segment = np.asarray(segment)
    n = segment.size
    if n == 0:
        return np.zeros(0, np.int64), np.zeros(0, bool)
    starts = np.flatnonzero(np.r_[True, segment[1:] != segment[:-1]])
    lengths = np.diff(np.r_[starts, n])
    which = np.repeat(np.arange(starts.size), lengths)
    pos = np.arange(n) - starts[which]
    k = np.minimum(pos // length, np.maximum(lengths[which] // length - 1, 0))
    block = np.r_[0, np.cumsum((which[1:] != which[:-1]) | (k[1:] != k[:-1]))]
    count = block[-1] + 1
    return (block // -(-count // MAX_BLOCKS) if count > MAX_BLOCKS else block), k % 2 == 0


def verdict_blocks(movie: np.ndarray, frame: np.ndarray, held_out: np.ndarray):
    """The verdict's blocks of the held-out windows (in Run order): each one's segment, the block length in
    windows (the held-out part cut into MIN_BLOCKS), and each one's block and whether the equilibrium test flips
    it (`blocks`)."""
    held_out = np.asarray(held_out, bool)
    seg = segments(np.asarray(movie)[held_out], np.asarray(frame)[held_out])
    length = max(1, seg.size // MIN_BLOCKS)
    return (seg, length, *blocks(seg, length))


def block_bootstrap(sums: np.ndarray, counts: np.ndarray, resamples: int = RESAMPLES, seed: int = 0) -> np.ndarray:
    """Means per window of `resamples` resamplings of the blocks with replacement (sum of the drawn blocks'
    sums over the sum of their windows)."""
    rng = np.random.default_rng(seed)
    pick = rng.integers(sums.size, size=(resamples, sums.size))
    return sums[pick].sum(1) / counts[pick].sum(1)


def sign_flip_null(sums: np.ndarray, flips: int = FLIPS, seed: int = 0) -> np.ndarray:
    """Sums of the block sums under `flips` random sign patterns: the distribution of the total under
    time-reversal symmetry, conditional on the |S_B|.

    Exact when the blocks are independent: under equilibrium each block, reversed, is as likely, and reversal
    flips the sign of its sum. Blocks of one movie are independent once they are further apart than its
    relaxation time; touching blocks are not: a part g(x') - g(x) of dS puts +g(x_b) at the end of one and
    -g(x_b) at the start of the next, so flipped independently they overstate the noise of the total and the
    p-values bunch around 1/2. Hence the verdict flips every other block of a movie and leaves the blocks
    between as gaps."""
    rng = np.random.default_rng(seed)
    null = np.empty(flips)
    rows = max(1, (4 << 20) // max(sums.size, 1))      # sign patterns per batch: ~32 MB of float64
    for a in range(0, flips, rows):
        b = min(flips, a + rows)
        null[a:b] = (2.0 * rng.integers(0, 2, size=(b - a, sums.size)) - 1) @ sums
    return null


def p_value(observed: float, null: np.ndarray) -> float:
    """One-sided p-value of a total at least `observed` (EP >= 0), counting the observed pattern itself."""
    return float((1 + np.count_nonzero(null >= observed)) / (1 + null.size))


def convergence(history: Sequence[Progress], err: float, kept_best: bool = False) -> tuple[bool | None, list[str]]:
    """Whether training had settled, judged per seed over the last third of its validations, with warning
    sentences for the seeds that had not; None without validations (no training log). `kept_best`: the model
    kept is the best validated one (a model-known estimator's, which measures no training rate), judged up to it.

    Not converged: fewer than MIN_VALIDATIONS validations (too few to show a plateau at the end); the
    validation EP rate still moved (least-squares change over the last third) by more than twice the change's
    own uncertainty, more than DRIFT of the rate and more than a third of the result's error bar `err`; or the
    training batches' rate and the validation rate disagree by more than three times their combined error (the
    training rate's scatter and `err`), the sign of overfitting or of a weight average lagging a moving model.
    The validation set is fixed, so its sampling noise hardly moves the validation rate from one validation to
    the next: what moves it is the model. With a learning rate decaying to 0 (cosine) the rate freezes at the
    end whether or not it had settled, but a run stopped too early still drifts by several percent in its
    last third (bench/out/verdict), where runs that had settled move by under 3%. A seed that overfitted is
    judged up to the model it kept."""
    warnings, verdicts = [], []
    seeds = list(dict.fromkeys(e.seed for e in history))
    for seed in seeds:
        who = f"seed {seed}: " if len(seeds) > 1 else ""
        events = [e for e in history if e.seed == seed]
        # An overfitted seed's result is its model from before the overfitting: judge that model's training.
        kept = events[-1].best_iteration if kept_best or events[-1].message == "overfitted" else events[-1].iteration
        val = [e for e in events if e.val_rate is not None and e.iteration <= kept]
        if not val:
            continue
        if len(val) < MIN_VALIDATIONS:
            warnings.append(f"not converged: {who}only {len(val)} validation{'s' * (len(val) > 1)}, too few to show that the estimate "
                            "settled: train longer or validate more often")
            verdicts.append(False)
            continue
        last = val[-math.ceil(len(val) / 3):]
        it = np.array([e.iteration for e in last], np.float64)
        rate = np.array([e.val_rate for e in last])
        train = np.array([e.train_rate for e in last if e.train_rate is not None], np.float64)   # none: model-known
        span = it[-1] - it[0]
        slope, icpt = np.polyfit(it, rate, 1)
        resid = rate - (slope * it + icpt)
        se_change = span * math.sqrt(resid @ resid / (len(it) - 2) / ((it - it.mean()) @ (it - it.mean())))
        change = slope * span
        moving = abs(change) > max(2 * se_change, DRIFT * abs(rate[-1]), err / 3)
        if moving:
            warnings.append(f"not converged: {who}{STILL_MOVING} by {change:+.3g} k_B/s over "
                            f"the last {span:.0f} iterations (error bar {err:.2g}): train longer")
        gap = train.mean() - rate.mean() if train.size > 1 else 0.0
        apart = train.size > 1 and abs(gap) > 3 * math.hypot(train.std(ddof=1) / math.sqrt(train.size), err)
        if apart:
            warnings.append(f"not converged: {who}{RATES_DISAGREE} ({train.mean():.3g} "
                            f"against {rate.mean():.3g} k_B/s over the last validations): overfitting, or train "
                            "longer")
        verdicts.append(not (moving or apart))
    return (all(verdicts) if verdicts else None), warnings


def verdict(ds: np.ndarray, movie: np.ndarray, frame: np.ndarray, held_out: np.ndarray, window_time: float,
            history: Sequence[Progress] = (), seed: int = 0) -> dict:
    """Error bar, equilibrium test, noise floor and convergence of the EP rate on the held-out windows.

    ds, movie, frame: per window in Run order; held_out: the windows the estimator was not trained on (valid
    on those only); window_time: time one window spans. Rates are per unit time. Returns ep_rate_err
    (bootstrap standard error), ep_rate_ci95 (percentile interval), p_equilibrium (sign-flip test of
    EP > 0 on every other block of a movie), noise_floor (95th percentile of the rate of those blocks under
    equilibrium), block (windows per block, tau_int in windows, blocks), converged, and warnings (sentences)."""
    held_out = np.asarray(held_out, bool)
    x = np.asarray(ds, np.float64)[held_out]
    seg, length, block, tested = verdict_blocks(movie, frame, held_out)
    warnings = []
    tau = integrated_time(x, seg, max_lag=min(MAX_LAG, x.size // MIN_BLOCKS))
    counts = np.bincount(block).astype(np.float64)
    sums = np.bincount(block, weights=x)
    n_blocks = sums.size
    boot = block_bootstrap(sums, counts, seed=seed) / window_time
    null = sign_flip_null(np.bincount(block, weights=np.where(tested, x, 0.0)), seed=seed)
    rate_err = float(boot.std(ddof=1)) if n_blocks > 1 else float("nan")
    if length < BLOCK_TAUS * (tau - 0.5):   # uncorrelated windows (tau = 1/2) need no long blocks
        warnings.append(f"held-out dS is correlated over {tau:.3g} windows and blocks of {length} windows are "
                        f"shorter than {BLOCK_TAUS} times that: the error bar may be too small (use more or longer "
                        "movies)")
    if n_blocks < MIN_BLOCKS:
        warnings.append(f"only {n_blocks} independent blocks of held-out windows: the error bar and p-value "
                        "are rough (use more or longer movies)")
    converged, notes = convergence(history, rate_err if np.isfinite(rate_err) else 0.0)
    return {"ep_rate_err": rate_err,
            "ep_rate_ci95": [float(q) for q in np.percentile(boot, [2.5, 97.5])],
            "p_equilibrium": p_value(float(x[tested].sum()), null),
            "noise_floor": float(np.percentile(null, 95)) / max(np.count_nonzero(tested), 1) / window_time,
            "block": {"windows": int(np.median(counts)), "tau_int": tau, "blocks": n_blocks},
            "converged": converged, "warnings": warnings + notes}


def bound_test(lower: float, lower_err: float) -> dict:
    """The equilibrium test of a model-known estimate (score, EPR-Net), which measures sigma on held-out snapshots
    rather than on transitions: its lower bound there is below sigma for any network (by the network's squared
    error in the EP's metric), so at equilibrium, sigma = 0, the bound's expectation is at most 0. A one-sided z-test
    of the bound against 0 with its block-bootstrap error therefore rejects equilibrium conservatively; the noise
    floor is the bound it takes to do so at 5%. Works on snapshots any time apart, where the EP of a transition
    says nothing."""
    if not lower_err >= 0:   # no error bar (too few held-out snapshots): no test
        return {"p_equilibrium": None, "noise_floor": None}
    z = lower / lower_err if lower_err > 0 else math.copysign(math.inf, lower)
    return {"p_equilibrium": 0.5 * math.erfc(z / math.sqrt(2)), "noise_floor": Z_95 * lower_err}


def resolves(trace_rate: float, trace_err: float, summary: dict) -> bool:
    """Whether the frames resolve single transitions for a model-known estimate (its `summary`: ep_rate, bounds and
    their errors), so that the EP of each, v(x_mid)^T D^-1 dx with the estimate's mean local velocity v, is worth
    showing. For frames close in time its mean rate is <v^T D^-1 v*> (v* the true velocity, whose probability current
    it integrates), which is exactly the midpoint of <v^T D^-1 v> (the score's direct estimate, EPR-Net's upper bound)
    and the lower bound sigma - <|v - v*|^2_D>. It must agree with that midpoint within RESOLVED of it or three
    errors. As the frame interval grows past the relaxation time it falls to 0 (a sixth of it for a bead-spring
    chain's frames its slowest relaxation time apart, 0 for snapshots of active discs 500 s apart); frames a tenth
    of that apart give 80% (the midpoint rule's O(dt) error), and at equilibrium both are 0."""
    bounds = summary["bounds"]
    squared, squared_err = ((bounds["upper"], summary["upper_bound_err"]) if bounds["upper"] is not None else
                            (summary["ep_rate"], summary["ep_rate_err"]))
    expected = (squared + bounds["lower"]) / 2
    err = (squared_err + summary["lower_bound_err"]) / 2   # at most, however the two are correlated
    return abs(trace_rate - expected) <= max(RESOLVED * abs(expected), 3 * math.hypot(trace_err, err))


def describe(summary: dict) -> str:
    """The verdict in one line, "EP rate 2.03 ± 0.05 k_B/s (95%: 1.93-2.13): dissipation detected (p < 0.001
    against equilibrium)" or, when
    the test does not reject equilibrium at 5%, "EP rate 0.01 ± 0.02 k_B/s (95%: -0.03 to 0.05): no
    dissipation detected above 0.03 k_B/s (p = 0.41)"; just the rate for runs saved without a verdict."""
    rate, err, p = summary["ep_rate"], summary.get("ep_rate_err"), summary.get("p_equilibrium")
    if err is None or p is None or not np.isfinite(err):
        return f"EP rate {rate:.4g} k_B/s"
    d = max(0, 1 - math.floor(math.log10(err))) if err > 0 else 4   # two significant digits of the error
    low, high = summary["ep_rate_ci95"]
    text = f"EP rate {rate:.{d}f} ± {err:.{d}f} k_B/s (95%: {low:.{d}f}{' to ' if low < 0 else '-'}{high:.{d}f})"
    if p >= 0.05:
        text += f": no dissipation detected above {summary['noise_floor']:.2g} k_B/s (p = {p:.2g})"
    else:
        text += ": dissipation detected (p " + ("< 0.001" if p < 0.001 else f"= {p:.2g}") + " against equilibrium)"
    if summary.get("stopped") in ("ran away", "diverged"):   # the rate of the last sane model, not a finding
        text += f"; training {summary['stopped']}: not a measure of dissipation until the warnings are resolved"
    return text


CORRECTIONS = {"drift": ("Register", "--register"), "bleaching": ("Bleach-correct", "--bleach-correct")}   # app, CLI


def advice(summary: dict) -> list[str]:
    """What a result's problems mean and what to do next, in plain words, a sentence pair each: dissipation detected
    in a movie with a drift or bleaching that the input checks found (`input_checks.arrows`), a training that ran
    away, overfitted or diverged, one that had not settled (`converged` false), and a rate that cannot be told from 0
    (p_equilibrium >= 0.05). Empty for a sound result."""
    out = []
    p = summary.get("p_equilibrium")
    arrows = (summary.get("input_checks") or {}).get("arrows", [])
    if arrows and p is not None and p < 0.05 and summary.get("stopped") != "ran away":   # which says it already
        fixes, flags = zip(*(CORRECTIONS[a] for a in arrows))
        them = "it" if len(arrows) == 1 else "them"
        out.append(f"Before reading this rate as dissipation, rule out the {' and '.join(arrows)} that the input "
                   f"checks found in the movie trained on: a network can tell a movie from its reverse by {them} "
                   f"alone, and the warnings say how much {them} can give. Next: train again with "
                   f"{' and '.join(fixes)} in the Preprocessing panel (cneep train {' '.join(flags)}) and report the "
                   "rate only if it stays.")
    stopped = summary.get("stopped")
    if stopped == "ran away":
        out.append("Do not report this rate: training was stopped because the network learned to tell the movie "
                   "from its reverse by something other than dissipation, such as drift of the sample or stage, "
                   "bleaching, lossy video compression or a sample that changes during the recording. Next: "
                   "correct drift and bleaching (Register and Bleach-correct in the Preprocessing panel; cneep "
                   "train --register --bleach-correct), use uncompressed "
                   "frames, and train again.")
    elif stopped == "overfitted":
        out.append("The network began to learn its few training frames by heart and was stopped; the result is "
                   "that of the model from just before, which holds, but a network given more data might find "
                   "dissipation this one could not. Next: record more or longer movies, or train a smaller "
                   "network (fewer channels).")
    elif stopped == "diverged":
        out.append("Do not report this rate: training broke down (its loss became infinite). Next: train again "
                   "with a lower learning rate; if it happens again, look for drift, bleaching or compression.")
    if summary.get("converged") is False:
        notes = " ".join(summary.get("warnings", []))
        if RATES_DISAGREE in notes:
            out.append("The rate on the training windows and on windows the network has not seen disagree: "
                       "usually it has begun to learn its training frames rather than the dissipation, so the "
                       "held-out rate may be off (usually too low). Next: record more or longer movies, or train "
                       "a smaller network (fewer channels); if the EP-rate curves were still moving, train longer.")
        if RATES_DISAGREE not in notes or STILL_MOVING in notes:
            out.append("The estimate was still changing when training ended, so the rate may be off (usually too "
                       "low). Next: train again with more iterations and check that the EP-rate curve has "
                       "flattened.")
    if p is not None and p >= 0.05 and "static_rate" in summary:   # a model-known estimate: its bound's test
        out.append(f"No dissipation could be told apart from noise: the lower bound on the EP rate is not above 0 "
                   f"by more than its error (it would need about {summary['noise_floor']:.2g} k_B/s). This does not "
                   "show that the system is at equilibrium: a network still far from the true score or landscape "
                   "gives a low bound. Next: train longer until the lower bound's curve flattens, or use more "
                   "snapshots.")
    elif p is not None and p >= 0.05:
        out.append(f"No dissipation could be told apart from noise: any rate below about "
                   f"{summary['noise_floor']:.2g} k_B/s would look the same in these movies. This does not show "
                   "that the system is at equilibrium. Next: record more or longer movies to detect a smaller rate.")
    return out
