"""Time arrows that are not dissipation: drift of the moving content and bleaching.

The NEEP objective mean(exp(-dS) - dS) has no minimum when a movie can be told from its reverse by something
other than the dynamics: a common flow of the content (stage drift, a flow in the sample) or a monotone fall of
the intensity (bleaching). Both are measured here in units a physicist can compare with an EP estimate, and
removed by the `register` and `bleach_correct` preprocessing options (io/preprocess.py).

Drift: N particles with diffusion D per axis (step variance 2D per frame) moving with a common velocity v per
frame make forward and reversed frame pairs differ by a KL divergence of N |v|^2 / D per frame. The centroid of
the content steps with variance s^2 = 2D/N per axis, so the same figure is 2 |v|^2 / s^2 (per axis, summed),
which needs neither N nor D: s is the scatter of the measured lag-1 shifts about v. Bleaching: a trend b per
frame in log mean intensity with frame-to-frame scatter s gives h(x, x') = c (s(x') - s(x)) an arrow of
2 b^2 / s^2 per frame, and a noise-free movie an unbounded one.

The drift is that of the content against what does not move (dirt on the optics, an uneven illumination), for
free particles and for content confined in place alike (`measure_drift`): shifts of frame pairs against the
temporal mean, refined by registering the frames and measuring the residual until it is within its error, and a
linear reading of each frame's displacement, several times more precise where no static background pulls it.
Registration keeps the background in place: the background is separated from the content moving at the
measured velocity by a least-squares fit in Fourier space (`_separate`), which a temporal median cannot do
for content that dwells on its pixels.

    drift = measure_drift(movie); bleach = measure_bleaching(movie)
    for line in time_arrow_warnings(drift, bleach): print(line)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats
from scipy.fft import fft2, irfft2, rfft2
from scipy.ndimage import map_coordinates
from scipy.ndimage import shift as spline_shift
from skimage.filters import window
from skimage.registration import phase_cross_correlation

from .errors import CneepError
from .io.lazy import LazyFrames, read_flat
from .io.video_codec import codec_report, video_warnings
from .movie import Movie

# Arrows below this many k_B per frame are not reported: a tenth of the EP per frame that frame pairs reveal in
# the N=2 bead-spring movie (sigma_2pt dt = 0.02 k_B at dt = 0.01). Measured (bench/drift_bleach.py calibrate:
# equilibrium chain, 20 x 200 frames, 300 iterations): the equilibrium movie reads 0.0000, drifts of 0.0025,
# 0.005, 0.01, 0.02, 0.04 px/frame read 0.0015, 0.005, 0.021, 0.087, 0.36 k_B per frame, the last three
# as predicted here (0.015, 0.053, 0.32). Below ~0.01 the prediction is noise (0.007 on the still movie),
# which the significance test (3 standard errors) keeps from warning.
ARROW_THRESHOLD = 0.002
LAGS = (1, 2, 4, 8)         # frame lags whose shifts (k v for a uniform drift) are measured
PIXEL_BUDGET = 20_000_000   # pixels of frame pairs correlated in all: about 3 s on one core for 424 x 640
MAX_PAIRS = 300             # and at most this many pairs (small frames)
MAX_ROUNDS = 6              # measurements of the residual drift of the registered frames, at most
MIN_GAIN = 0.1              # the smallest share of a correction a reading is taken to show
SEGMENT = 16                # frames in a segment of the linear reading before the drift's speed is known
REACH = 0.5                 # px: the content moves at most about this far from a segment's mean, where it is linear
RIDGE = 0.01                # `_separate`: wave vectors whose phase the sweep turns less are background


@dataclass(frozen=True)
class Drift:
    """Uniform translation of the moving content, common to all movies, in pixels of the movie's frames."""

    velocity: np.ndarray        # (2,) mean [dy, dx] shift per frame, px
    stderr: np.ndarray          # (2,) its standard error, px per frame
    step_std: np.ndarray        # (2,) scatter of the lag-1 shift about the drift: the content's own step, px
    readings: int               # independent readings its error comes from: frame pairs, or segments or movies
    dt: float
    pixel_size: float
    background: np.ndarray      # (movies, H, W) static background of each movie, standardized frames
    n_frames: int

    @property
    def um_per_s(self) -> np.ndarray:
        return self.velocity * self.pixel_size / self.dt

    @property
    def speed(self) -> float:
        return float(np.hypot(*self.velocity))

    @property
    def arrow_per_frame(self) -> float:
        """KL divergence per frame between forward and reversed frame pairs that the drift alone gives,
        2 |v|^2 / s^2 (= N |v|^2 / D for N particles of diffusion D), k_B per frame."""
        return float(np.sum(2 * self.velocity**2 / np.maximum(self.step_std, 1e-12) ** 2))

    @property
    def significant(self) -> bool:
        """Beyond 3 standard errors, or as unlikely by chance where the error comes from few readings: its own
        scatter is then uncertain (Student's t: read over 2-4 segments, 5 of 30 movies of pixel noise reached
        3.5-5 errors)."""
        limit = stats.t.isf(stats.norm.sf(3), max(self.readings - 1, 1))
        return bool(np.any(np.abs(self.velocity) > limit * self.stderr))

    def displacement(self) -> np.ndarray:
        """(frames, 2) [dy, dx] position of the content at each frame relative to the movie's middle frame, px."""
        t = np.arange(self.n_frames) - (self.n_frames - 1) / 2
        return t[:, None] * self.velocity[None]


@dataclass(frozen=True)
class Bleaching:
    """Trend of the mean intensity shared by all movies: I(t) ~ exp(-rate t) where the intensity is positive;
    for standardized or offset-subtracted frames (mean not positive) only the arrow is defined."""

    rate: float                 # fitted exponential rate per frame (positive: fading); nan without positive means
    change_per_frame: float     # relative change of the mean intensity per frame, exp(-rate) - 1
    total_change: float         # relative change over a movie, exp(-rate (frames - 1)) - 1
    slope: float                # trend per frame of log mean intensity (or of the mean where not positive)
    step_std: float             # scatter of its frame-to-frame change about the trend
    stderr: float               # standard error of the slope against a mean that wanders like a random walk

    @property
    def arrow_per_frame(self) -> float:
        """KL divergence per frame that the trend alone gives a frame's mean intensity, 2 b^2 / s^2."""
        return float(2 * self.slope**2 / self.step_std**2)

    @property
    def significant(self) -> bool:
        """A trend beyond what particles entering and leaving the field would make of the mean by chance."""
        return abs(self.slope) > 3 * self.stderr


def _spread(n: int, count: int) -> np.ndarray:
    """Up to `count` distinct integers spread evenly over 0 .. n - 1."""
    return np.unique(np.linspace(0, n - 1, min(count, n)).round().astype(np.int64))


def standardize(frames: np.ndarray) -> np.ndarray:
    """(n, H, W) -> each frame to zero mean and unit standard deviation, float32.

    A frame offset + g(t) * content becomes the same image whatever the gain g(t): bleaching (and any camera
    offset) drops out exactly, and since the same map is applied to every frame, no arrow is added."""
    frames = np.asarray(frames, dtype=np.float32)
    mean = frames.mean(axis=(1, 2), keepdims=True, dtype=np.float64)
    std = frames.std(axis=(1, 2), keepdims=True, dtype=np.float64)
    return ((frames - mean) / np.where(std > 0, std, 1.0)).astype(np.float32)


def _samples(movie: Movie, m: int, count: int, standardized: bool) -> tuple[np.ndarray, np.ndarray]:
    """(frames (n, H, W) float32, their times (n,)): `count` frames spread along movie `m`."""
    pick = _spread(movie.n_frames, count)
    frames = read_flat(movie.frames, m * movie.n_frames + pick)
    return (standardize(frames) if standardized else np.asarray(frames, dtype=np.float32)), pick


def _separate(frames: np.ndarray, times: np.ndarray, velocity: np.ndarray, n_frames: int) -> np.ndarray:
    """(H, W) static background b of frames b + c(x - d_t) whose content c moves `velocity` px/frame.

    In Fourier space frame t is B + C p_t at every wave vector k, p_t = exp(-i k.d_t): a least-squares fit of
    two numbers per k over the frames, C = (<p* F> - <p>* <F>) / (1 - |<p>|^2 + RIDGE), B = <F> - C <p>.
    Where the displacements barely turn the phase (wavelengths longer than the sweep along the drift, and any
    wavelength across it) content and background cannot be told apart and the ridge leaves the temporal mean
    in the background. The shift is circular: within the sweep of the frame's edges the background is
    approximate, and registration crops that margin."""
    h, w = frames.shape[1:]
    spectra = rfft2(frames)
    d = (times - (n_frames - 1) / 2)[:, None] * np.asarray(velocity)[None]
    ky, kx = 2 * np.pi * np.fft.fftfreq(h), 2 * np.pi * np.fft.rfftfreq(w)
    phase = np.exp(-1j * (d[:, 0, None, None] * ky[:, None] + d[:, 1, None, None] * kx))   # (n, H, W/2+1)
    p, f = phase.mean(axis=0), spectra.mean(axis=0)
    content = ((np.conj(phase) * spectra).mean(axis=0) - np.conj(p) * f) / (1 - np.abs(p) ** 2 + RIDGE)
    return irfft2(f - content * p, s=(h, w)).astype(np.float32)


def _background_samples(movie: Movie, pixel_budget: int = PIXEL_BUDGET) -> int:
    """Frames per movie for its background: a quarter of `pixel_budget` pixels in all, at least 9, at most all.
    Small frames take every frame, which the fit of `_separate` needs against the wander of confined content."""
    h, w = movie.frame_shape
    return max(9, min(movie.n_frames, pixel_budget // (4 * movie.n_movies * h * w)))


def static_background(movie: Movie, samples: int = 32, standardized: bool = True,
                      velocity: np.ndarray | None = None) -> np.ndarray:
    """(movies, H, W) what does not move in each movie, from `samples` frames spread along it, standardized by
    default so that bleaching does not blur it: without a velocity the temporal median (free particles pass
    through it); with the velocity of the content (px/frame) the background that content moving so leaves
    (`_separate`), also where the content is confined and a median would keep part of it."""
    out = []
    for m in range(movie.n_movies):
        frames, times = _samples(movie, m, samples, standardized)
        out.append(np.median(frames, axis=0) if velocity is None
                   else _separate(frames, times, velocity, movie.n_frames))
    return np.stack(out)


def measure_drift(movie: Movie, pixel_budget: int = PIXEL_BUDGET) -> Drift:
    """Subpixel translation per frame of the moving content, common to all movies: the more precise of two
    readings. Shifts of frame pairs (`_pair_drift`) see the content through static dirt on the optics; a linear
    reading of each frame's displacement (`_linear_drift`) is several times more precise, and unbiased for
    content however irreversible its own motion, where no static background pulls it."""
    pairs = _pair_drift(movie, pixel_budget=pixel_budget)
    linear = _linear_drift(movie, pixel_budget)
    if linear is not None and np.hypot(*linear.stderr) < np.hypot(*pairs.stderr):
        return linear
    return pairs


def _pair_drift(movie: Movie, subtract_background: bool = True, upsample_factor: int = 20,
                normalization: str | None = None, pixel_budget: int = PIXEL_BUDGET,
                max_pairs: int = MAX_PAIRS) -> Drift:
    """Frame-to-frame translation of the moving content from shifts of frame pairs.

    Frames are standardized (so bleaching does not matter) and their temporal mean is subtracted first: dirt
    on the optics is the brightest stable structure in many movies and would pin a whole-frame correlation at
    zero shift. The mean, not the median: content confined in place dwells on its pixels most of the time and
    a median keeps it, sharp, where it was in the middle of the movie; that copy does not move and pulls the
    shift towards zero (two bead-spring beads sweeping 10 px of a 20 x 40 px frame read 0.02 px/frame of a true
    0.05 against the median). The mean smears it over the sweep, which pulls far less. Shifts are measured by
    plain cross-correlation (normalization=None: "phase" whitens the spectrum, which lifts the pixel noise of
    sparse blobs) under a Hann window, at the lags in LAGS from starts spread over all movies, `pixel_budget`
    pixels of frame pairs in all. A uniform drift v shifts the content by k v at lag k, whose diffusive
    scatter grows as k, so v = sum(shifts) / sum(k); pairs off by more than 5 robust standard deviations are
    dropped (`_inliers`). The standard error comes from the scatter of shift / k plus the content's centroid
    random walk over the movies, step_std^2 / frames, since pairs that overlap in time share their steps.

    The window (which weighs content by where it is) and what is left of the content in the mean make the
    shifts see less than the whole drift, the more so the faster it is. So the frames are registered by the estimate and
    the residual drift measured again on the same frames, the estimate corrected by the secant method, until
    the residual is within its error (at most MAX_ROUNDS measurements; one where nothing drifts). The
    background returned is the one the content leaves at the measured velocity (`_separate`): what
    registration must keep in place."""
    n_movies, n_frames = movie.n_movies, movie.n_frames
    h, w = movie.frame_shape
    lags = [k for k in LAGS if k < n_frames] or [1]
    per_lag = n_movies * max(2, min(pixel_budget // (2 * h * w), max_pairs) // (len(lags) * n_movies))
    # Starts spread over all movies together, so that many short movies are not all measured at the same times.
    starts = [(s // (n_frames - k)) * n_frames + s % (n_frames - k)
              for k in lags for s in [_spread(n_movies * (n_frames - k), per_lag)]]
    lag = np.concatenate([np.full(len(s), k) for s, k in zip(starts, lags)])
    flat, back = np.unique(np.concatenate([np.concatenate(starts), np.concatenate(starts) + lag]),
                           return_inverse=True)
    measure = _Residual(standardize(read_flat(movie.frames, flat)), flat // n_frames,
                        flat % n_frames - (n_frames - 1) / 2, back[:len(lag)], back[len(lag):],
                        window("hann", (h, w)).astype(np.float32), upsample_factor, normalization)
    seen = [_samples(movie, m, _background_samples(movie, pixel_budget), standardized=True) for m in range(n_movies)]
    mean = np.stack([f.mean(axis=0) for f, _ in seen]) if subtract_background else np.zeros((n_movies, h, w))
    v, stderr, step, n = _converge(lambda u: _fit(measure(u, mean), lag.astype(float), n_movies, n_frames))
    return Drift(velocity=v, stderr=stderr, step_std=step, readings=n, dt=movie.dt, pixel_size=movie.pixel_size,
                 background=np.stack([_separate(f, t, v, n_frames) for f, t in seen]), n_frames=n_frames)


def _converge(residual):
    """The velocity u at which `residual(u)`, the drift (r, stderr, step, count) read on the frames registered by
    u, is zero within its error, by secant steps (at most MAX_ROUNDS readings), with the errors and the step
    scaled by the gain dr/du. The residual is read on the same frames every time, so its noise is common to all
    trials, and the gain (the fraction of a correction the reading shows) is measured wherever u moved by more
    than the error. Where the reading follows no correction twice (frames of pixel noise, with nothing to move),
    the first reading is the answer: stepping on by the smallest gain would add the same noise every round and
    make a drift of it (0.064 +- 0.005 px/frame, 12 errors, on 60 frames of Poisson noise)."""
    v, gain, last, still = np.zeros(2), np.ones(2), None, np.zeros(2, bool)
    for round_ in range(MAX_ROUNDS):
        r, stderr, step, n = residual(v)
        if last is None:
            first = r, stderr, step, n
        else:
            moved = v - last[0]
            tried = np.abs(moved) > stderr
            measured = (last[1] - r) / np.where(moved, moved, 1)
            if np.any(tried & (measured < MIN_GAIN) & still):
                return first
            still = tried & (measured < MIN_GAIN)
            gain = np.where(tried, np.clip(measured, MIN_GAIN, 1), gain)
        if np.all(np.abs(r) <= stderr) or round_ == MAX_ROUNDS - 1:
            break
        last, v = (v, r), v + r / gain
    return v + r / gain, stderr / gain, step / gain, n


def _linear_drift(movie: Movie, pixel_budget: int = PIXEL_BUDGET) -> Drift | None:
    """The drift from a linear reading of each frame's displacement; None where a static background pulls it.

    Within a segment of consecutive frames short enough that the content moves less than REACH pixels, frame t
    is m - d_t . grad(m) to first order about the segment's mean m, and d_t is read by least squares under a
    Hann taper (`_Segments`); the drift is the trend of d_t. d_t is linear in the frame, so its trend is zero for
    any stationary content, however irreversible its own motion (a pair's correlation shift is not: it weighs
    the displacements by the configuration, so a circulating current shows as a mean shift), and the wander of
    confined content weighs less on a longer trend: segments are made as long as the measured speed allows (at
    most the movie, at least four segments in all). The reading is refined on frames registered whole by it
    (`_converge`), which makes longer segments linear.
    A static background cancels in f_t - m but adds its gradients to the reading's gain, so the reading sees
    only part of the drift; the weights can leave it out (the gradients of m minus the temporal median) but
    then also leave out content that dwells on its pixels, which the median keeps. Where the two readings differ
    by more than 3 errors, a background pulls one of them, and None is returned."""
    n_movies, n_frames = movie.n_movies, movie.n_frames
    h, w = movie.frame_shape
    budget = max(4 * SEGMENT, pixel_budget // (h * w))
    seen = [_samples(movie, m, _background_samples(movie, pixel_budget), standardized=True) for m in range(n_movies)]
    longest = max(2, min(n_frames, n_movies * n_frames // 4))
    length = min(SEGMENT, longest)
    starts = _segment_starts(n_movies, n_frames, length, budget)
    if len(starts) < 2 or length < 3:    # no trend, or no error of it, to read
        return None
    r, err, _, _ = _Segments(movie, starts, length)(np.zeros(2))
    median = np.stack([np.median(f, axis=0) for f, _ in seen])
    r_median, err_median, _, _ = _Segments(movie, starts, length, median)(np.zeros(2))
    if not np.all(np.abs(r - r_median) <= 3 * np.hypot(err, err_median)):
        return None
    length = int(np.clip(2 * REACH / max(np.hypot(*(np.abs(r) + 2 * err)), 1e-9), length, longest))
    v, stderr, step, n = _converge(_Segments(movie, _segment_starts(n_movies, n_frames, length, budget), length))
    return Drift(velocity=v, stderr=stderr, step_std=step, readings=n, dt=movie.dt, pixel_size=movie.pixel_size,
                 background=np.stack([_separate(f, t, v, n_frames) for f, t in seen]), n_frames=n_frames)


def _segment_starts(n_movies: int, n_frames: int, length: int, budget: int) -> np.ndarray:
    """Flat indices of the first frames of segments of `length` frames, about `budget` frames in all, spread
    over all movies together and not overlapping (at least two)."""
    slots = n_frames // length
    pick = _spread(n_movies * slots, max(2, budget // length))
    return (pick // slots) * n_frames + (n_frames - slots * length) // 2 + (pick % slots) * length


@dataclass(frozen=True)
class _Segments:
    """The content's displacement read linearly over segments of consecutive frames (`_linear_drift`)."""

    movie: Movie
    starts: np.ndarray                  # (segments,) flat index of each segment's first frame
    length: int
    static: np.ndarray | None = None    # (movies, H, W) standardized background left out of the weights

    def __call__(self, velocity: np.ndarray):
        """(trend [dy, dx] px/frame, its standard error, the scatter of a frame's step about it, units of the
        error) of the frames shifted whole by -velocity px/frame about each movie's middle frame. The error comes
        from the scatter of the segments' trends, grouped by movie where there are five or more: segments of one
        movie share the content's slow wander."""
        n_frames = self.movie.n_frames
        tc = np.arange(self.length) - (self.length - 1) / 2
        trends, steps = np.empty((len(self.starts), 2)), []
        for k, s in enumerate(self.starts):
            frames = standardize(read_flat(self.movie.frames, s + np.arange(self.length)))
            t = s % n_frames + np.arange(self.length) - (n_frames - 1) / 2
            if np.any(velocity):   # frame i at (y, x) takes the value at (y, x) + t_i velocity, linearly interpolated
                grid = np.indices(frames.shape, dtype=np.float32)
                grid[1:] += (t[:, None] * velocity).T[:, :, None, None].astype(np.float32)
                frames = map_coordinates(frames, grid, order=1, mode="nearest")
            static = 0 if self.static is None else self.static[s // n_frames]
            d = _displacements(frames, static)
            trends[k] = tc @ d / (tc @ tc)
            steps.append(np.diff(d, axis=0) - trends[k])
        movie_of = self.starts // n_frames
        groups = np.unique(movie_of)
        units = np.stack([trends[movie_of == g].mean(axis=0) for g in groups]) if len(groups) >= 5 else trends
        stderr = units.std(axis=0, ddof=1) / np.sqrt(len(units))
        return trends.mean(axis=0), stderr, np.sqrt(np.mean(np.concatenate(steps) ** 2, axis=0)), len(units)


def _displacements(frames: np.ndarray, static) -> np.ndarray:
    """(L, 2) [dy, dx] of each frame from the frames' mean m, to first order: the least-squares fit of f_t - m
    by -d . grad(m - static) + a m + c under a Hann taper (content entering and leaving at the edges counts
    little; the gain a and offset c take up changes of contrast, which the taper would otherwise read as a
    shift)."""
    mean = frames.mean(axis=0)
    basis = np.concatenate([-np.stack(np.gradient(mean - static)), mean[None], np.ones((1,) + mean.shape)])
    weighted = basis * window("hann", mean.shape)
    normal = np.einsum("ihw,jhw->ij", weighted, basis)
    return np.einsum("ij,thw,jhw->ti", np.linalg.pinv(normal)[:2], frames - mean, weighted)


@dataclass(frozen=True)
class _Residual:
    """Shifts of frame pairs after the content (frame minus background) is moved back by a trial velocity."""

    frames: np.ndarray          # (n, H, W) standardized frames
    movie: np.ndarray           # (n,) movie of each
    time: np.ndarray            # (n,) its time from the movie's middle frame
    first: np.ndarray           # (pairs,) index into frames of the earlier frame of each pair
    later: np.ndarray           # (pairs,) and of the later
    taper: np.ndarray           # (H, W) window
    upsample_factor: int
    normalization: str | None

    def __call__(self, velocity: np.ndarray, background: np.ndarray) -> np.ndarray:
        # Frame by frame, into one array: the spectra are the only copy of the frames kept (8 bytes a pixel).
        spectra = np.empty(self.frames.shape, np.complex64)
        for k, (frame, m, t) in enumerate(zip(self.frames, self.movie, self.time)):
            content = frame - background[m]
            if np.any(velocity):
                content = spline_shift(content, -t * velocity, order=1, mode="nearest")
            # Correlation is circular: particles entering and leaving at the edges would pull the peak towards
            # zero (by 15-20% on the test movies); a Hann window fades the edges out.
            spectra[k] = fft2(content * self.taper)
        with warnings.catch_warnings():   # a blank frame has no shift to find: it reads 0 (below), no warning
            warnings.filterwarnings("ignore", "Could not determine RMS error", UserWarning)
            # the shift that moves the earlier frame onto the later: the content's displacement between them
            blank = ~np.any(spectra, axis=(1, 2))
            return np.array([np.zeros(2) if blank[i] or blank[j] else
                             phase_cross_correlation(spectra[j], spectra[i], upsample_factor=self.upsample_factor,
                                                     space="fourier", normalization=self.normalization)[0]
                             for i, j in zip(self.first, self.later)])


def _fit(shifts: np.ndarray, lag: np.ndarray, n_movies: int, n_frames: int):
    """Velocity, its standard error, the lag-1 step scatter and the pairs kept, from shifts at their lags."""
    keep = _inliers(shifts, lag)
    shifts, lag = shifts[keep], lag[keep]
    v = shifts.sum(axis=0) / lag.sum()
    per_frame = shifts / lag[:, None]
    n = len(lag)
    var = (lag[:, None] * (per_frame - v) ** 2).sum(axis=0) / (max(n - 1, 1) * lag.sum())
    one = lag == lag.min()
    step = np.sqrt(((shifts[one] - lag.min() * v) ** 2).mean(axis=0) / lag.min())
    # The content's own random walk over the whole movie is an uncertainty no choice of pairs removes.
    var = var + step**2 / (n_movies * (n_frames - 1))
    return v, np.sqrt(var), step, n


def _inliers(shifts: np.ndarray, lag: np.ndarray) -> np.ndarray:
    """Pairs whose shift lies within 5 robust standard deviations of their lag's median: a correlation peak
    that jumped to another particle (content moved too far, a particle entered) is no measure of the flow."""
    keep = np.ones(len(lag), dtype=bool)
    for k in np.unique(lag):
        at = lag == k
        dev = np.abs(shifts[at] - np.median(shifts[at], axis=0))
        scale = 1.4826 * np.median(dev, axis=0)
        keep[at] = np.all(dev <= 5 * np.maximum(scale, 0.05), axis=1)
    return keep


def mean_intensity(movie: Movie, frames: np.ndarray) -> np.ndarray:
    """(movies, len(frames)) mean intensity of the given frames of every movie, read in chunks."""
    out = np.empty((movie.n_movies, len(frames)))
    for m in range(movie.n_movies):
        for a in range(0, len(frames), 64):
            chunk = read_flat(movie.frames, m * movie.n_frames + frames[a:a + 64])
            out[m, a:a + 64] = chunk.reshape(len(chunk), -1).mean(axis=1, dtype=np.float64)
    return out


def measure_bleaching(movie: Movie, max_pairs: int = 512) -> Bleaching:
    """The trend of the mean intensity: log I(t) = a_movie - rate * t fitted by least squares over consecutive
    frame pairs spread along each movie (up to `max_pairs` per movie), and the frame-to-frame scatter about it.
    A constant camera offset makes the fitted rate smaller than the fluorophores' own; the correction
    (`bleach_correct`) does not depend on it. Where a mean is not positive the mean itself is fitted."""
    n_frames = movie.n_frames
    starts = _spread(n_frames - 1, max_pairs)
    frames = np.unique(np.concatenate([starts, starts + 1]))
    mean = mean_intensity(movie, frames)
    positive = bool(np.all(mean > 0))
    y = np.log(mean) if positive else mean
    # Floor of the scatter: float rounding of a noise-free movie's mean, in the units of y.
    floor = 1e-6 * (1.0 if positive else float(np.std(read_flat(movie.frames, [0]))) or 1.0)
    t = frames - frames.mean()
    slope = float(((y - y.mean(axis=1, keepdims=True)) * t).sum() / (movie.n_movies * (t**2).sum()))
    pos = np.searchsorted(frames, starts)
    step = max(float((y[:, pos + 1] - y[:, pos] - slope).std()), floor)
    rate = -slope if positive else float("nan")
    return Bleaching(rate=rate, change_per_frame=float(np.expm1(-rate)),
                     total_change=float(np.expm1(-rate * (n_frames - 1))), slope=slope, step_std=step,
                     stderr=step / np.sqrt(movie.n_movies * (n_frames - 1)))


def time_arrow_warnings(drift: Drift | None, bleach: Bleaching | None,
                        threshold: float = ARROW_THRESHOLD) -> list[str]:
    """Plain sentences for each arrow large enough to bias an EP estimate (over `threshold` k_B per frame, and
    significant: `Drift.significant`, `Bleaching.significant`), with the figures and the correction."""
    return list(_arrows(drift, bleach, threshold).values())


def _arrows(drift: Drift | None, bleach: Bleaching | None, threshold: float = ARROW_THRESHOLD) -> dict[str, str]:
    """`time_arrow_warnings` by the arrow's name, "drift" or "bleaching"."""
    out = {}
    if drift is not None and drift.significant and drift.arrow_per_frame > threshold:
        dy, dx = drift.velocity
        uy, ux = drift.um_per_s
        out["drift"] = (f"the moving content drifts {drift.speed:.3g} px/frame (dy {dy:+.3g} ± {drift.stderr[0]:.2g}, "
                        f"dx {dx:+.3g} ± {drift.stderr[1]:.2g} px/frame; {np.hypot(uy, ux):.3g} µm/s); a uniform "
                        f"flow of this speed alone gives a two-frame EP of order N v^2/D ~ "
                        f"{drift.arrow_per_frame:.2g} k_B per frame, which is no dissipation of the system: use "
                        "--register")
    if bleach is not None and bleach.significant and bleach.arrow_per_frame > threshold:
        out["bleaching"] = (
            f"the mean intensity trends by {bleach.slope:+.3g} per frame; a network can read this trend as a time "
            f"arrow of about {bleach.arrow_per_frame:.2g} k_B per frame: use --bleach-correct" if np.isnan(bleach.rate)
            else f"the mean intensity changes {bleach.change_per_frame:+.3%} per frame ({bleach.total_change:+.1%} "
                 f"over a movie, exponential rate {bleach.rate:.3g} per frame); a network can read this trend as a "
                 f"time arrow of about {bleach.arrow_per_frame:.2g} k_B per frame (unbounded in a noise-free "
                 "movie): use --bleach-correct")
    return out


def time_arrow_report(movie: Movie) -> dict:
    """Drift and bleaching in numbers, as `cneep info --json` and a run's summary report them, with the
    warnings of `time_arrow_warnings` and the names of the arrows they warn of (`arrows`)."""
    drift, bleach = measure_drift(movie), measure_bleaching(movie)
    arrows = _arrows(drift, bleach)
    return {"drift_px_per_frame": drift.velocity.tolist(), "drift_stderr_px_per_frame": drift.stderr.tolist(),
            "drift_um_per_s": drift.um_per_s.tolist(), "drift_arrow_per_frame": drift.arrow_per_frame,
            "intensity_trend_per_frame": None if np.isnan(bleach.rate) else bleach.change_per_frame,
            "intensity_change_per_movie": None if np.isnan(bleach.rate) else bleach.total_change,
            "intensity_slope_per_frame": bleach.slope, "bleach_arrow_per_frame": bleach.arrow_per_frame,
            "arrows": list(arrows), "warnings": list(arrows.values())}


def input_report(movie: Movie) -> dict:
    """Everything about a movie that can give it a time arrow that is not dissipation: drift, bleaching and, for
    a video, its compression (`codec_report`). What is checked before training and kept in the run's summary."""
    report = time_arrow_report(movie)
    if movie.provenance.get("reader") == "pyav" and movie.path is not None:
        codec = codec_report(movie.path)
        report["codec"] = {k: codec[k] for k in ("codec", "lossy", "gop_length", "frame_types")}
        report["warnings"] = video_warnings(codec) + report["warnings"]
    return report


def describe_report(report: dict) -> list[str]:
    """The report's figures in words, a line each (`cneep info`, the warnings of a run that ran away)."""
    (dy, dx), (ey, ex) = report["drift_px_per_frame"], report["drift_stderr_px_per_frame"]
    trend = (f"{report['intensity_trend_per_frame']:+.3%} per frame ({report['intensity_change_per_movie']:+.1%} "
             "over a movie)" if report["intensity_trend_per_frame"] is not None
             else f"{report['intensity_slope_per_frame']:+.3g} per frame")
    return [f"drift of the moving content dy {dy:+.3g} ± {ey:.2g}, dx {dx:+.3g} ± {ex:.2g} px/frame "
            f"({np.hypot(*report['drift_um_per_s']):.3g} µm/s)", f"mean intensity {trend}"]


def remove_time_arrows(movie: Movie, register: bool = False, bleach_correct: bool = False) -> tuple[Movie, dict]:
    """A new Movie (float32 frames computed as they are read) without the drift and/or the bleaching, and what
    was done, for the run's record.

    bleach_correct: every frame standardized (`standardize`): exact for offset + gain(t) * content, and the same
    map for every frame, so no arrow is added; the frame's mean and contrast are no longer data.
    register: the moving content (frame minus the static background the content leaves at the measured
    velocity, `static_background`) is shifted back by the measured uniform drift onto its position at the
    movie's middle frame (cubic spline), and the background added back
    unshifted, since shifting whole frames would set the static background moving and make a new arrow. A
    margin of ceil(largest displacement) pixels is cropped on each side along each axis, so no pixel filled in
    from outside the frame, whose edge would move, is kept."""
    record: dict = {}
    n_movies, n_frames = movie.n_movies, movie.n_frames
    height, width = movie.frame_shape
    source = movie.frames
    shift = margin = background = None
    if register:
        drift = measure_drift(movie)
        shift = -drift.displacement()
        margin = np.ceil(np.abs(shift).max(axis=0) - 1e-9).astype(int)
        if np.any(2 * margin >= (height, width)):
            raise CneepError(f"{movie.name}: registration must crop {margin[0]} px top and bottom and {margin[1]} "
                             f"px left and right (the content drifts {drift.speed:.3g} px/frame over {n_frames} "
                             f"frames), which leaves nothing of the {height}x{width} frame; use --split-into or "
                             "--time-range for shorter movies")
        background = (drift.background if bleach_correct
                      else static_background(movie, _background_samples(movie), standardized=False,
                                             velocity=drift.velocity))
        record = {"drift_px_per_frame": drift.velocity.tolist(), "drift_stderr_px_per_frame": drift.stderr.tolist(),
                  "register_margin_px": margin.tolist()}
    if bleach_correct:
        record["intensity_trend_per_frame"] = measure_bleaching(movie).change_per_frame
    (my, mx) = margin if register else (0, 0)

    def read(flat: np.ndarray) -> np.ndarray:
        data = read_flat(source, flat)
        data = standardize(data) if bleach_correct else data.astype(np.float32)
        if not register:
            return data
        out = np.empty((len(flat), height - 2 * my, width - 2 * mx), np.float32)
        for i, (m, t) in enumerate(zip(flat // n_frames, flat % n_frames)):
            moving = spline_shift(data[i] - background[m], shift[t], order=3, mode="nearest")
            out[i] = (moving + background[m])[my:height - my, mx:width - mx]
        return out

    frames = LazyFrames(read, np.arange(n_movies * n_frames).reshape(n_movies, n_frames),
                        (height - 2 * my, width - 2 * mx), np.float32, name=movie.name)
    return Movie(frames=frames, dt=movie.dt, pixel_size=movie.pixel_size, dt_source=movie.dt_source,
                 pixel_size_source=movie.pixel_size_source, path=movie.path, truth=movie.truth,
                 provenance=dict(movie.provenance)), record
