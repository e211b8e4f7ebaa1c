"""Drift of the moving content and bleaching: measured against the truth they were made with, and removed."""

import json

import numpy as np
import pytest
from scipy.ndimage import fourier_shift, gaussian_filter

from cneep_engine import BeadRenderer, BeadSpringChain
from cneep_engine.cli import main
from cneep_engine.errors import CneepError
from cneep_engine.io import Preprocess, load_movie, preprocess, save_movie
from cneep_engine.movie import Movie
from cneep_engine.timearrow import (_pair_drift, measure_bleaching, measure_drift, standardize, static_background,
                                    time_arrow_warnings)

FRAMES, SHAPE = 160, (64, 96)


def blob_movie(drift=(0.0, 0.0), bleach=0.0, offset=0.0, seed=0, dirt=150.0) -> Movie:
    """100 Gaussian blobs diffusing (D = 0.15 px^2/frame per axis) with a uniform drift [dy, dx] px/frame over
    static textured dirt, the whole image losing `bleach` of its intensity over the movie, plus a camera
    `offset` that does not bleach and read noise."""
    rng = np.random.default_rng(seed)
    h, w = SHAPE
    start = rng.uniform([-10, -10], [h + 10, w + 10], (100, 2))
    steps = rng.normal(0, np.sqrt(2 * 0.15), (FRAMES, 100, 2)) + np.asarray(drift)
    steps[0] = 0
    yx = start + np.cumsum(steps, axis=0)                                     # (frames, blobs, 2)
    gy = np.exp(-(np.arange(h)[None, None] - yx[..., :1]) ** 2 / (2 * 1.5**2))   # (frames, blobs, H)
    gx = np.exp(-(np.arange(w)[None, None] - yx[..., 1:]) ** 2 / (2 * 1.5**2))   # (frames, blobs, W)
    content = 100 * np.einsum("tby,tbx->tyx", gy, gx)
    background = 200 + dirt * gaussian_filter(rng.normal(size=SHAPE), 1.0)
    gain = np.exp(np.log1p(-bleach) * np.arange(FRAMES) / (FRAMES - 1))
    frames = offset + (background + content) * gain[:, None, None] + rng.normal(0, 1.0, content.shape)
    return Movie(frames=frames[None].astype(np.float32), dt=0.1, pixel_size=0.5)


@pytest.mark.parametrize("drift", [(0.0, 0.05), (0.029, 0.093)])
def test_drift_of_the_moving_content_is_measured_through_static_dirt(drift):
    movie = blob_movie(drift, bleach=0.3, seed=2)
    d = measure_drift(movie)
    assert np.all(d.stderr < 0.02)
    assert np.all(np.abs(d.velocity - drift) < 4 * d.stderr), (d.velocity, d.stderr)
    np.testing.assert_allclose(d.um_per_s, d.velocity * 0.5 / 0.1)
    np.testing.assert_allclose(d.displacement()[[0, -1]], np.outer([-79.5, 79.5], d.velocity))
    # Without the background subtraction the dirt, which does not move, pins the correlation towards zero.
    whole = _pair_drift(movie, subtract_background=False)
    assert whole.velocity[1] < drift[1] - 2 * d.stderr[1]


def bead_movies(drift: float, movies: int = 20, frames: int = 200, bleach: float = 0.0) -> Movie:
    """Two beads of a bead-spring chain, confined near their rest positions in a 20 x 40 px field, the content
    drifting `drift` px/frame along x (20 movies of 200 frames: a 10 px sweep at 0.05)."""
    chain, renderer = BeadSpringChain(beads=2, tc=1, th=10, dt=0.01), BeadRenderer()
    t = np.arange(frames)
    positions = chain.sample(movies, frames, seed=0) + (drift * (t - (frames - 1) / 2))[None, :, None]
    video = renderer.expected_counts(positions) * np.exp(np.log1p(-bleach) * t / (frames - 1))[None, :, None, None]
    video += np.random.default_rng(1).normal(0, 2.0, video.shape)
    return Movie(frames=video.astype(np.float32), dt=0.01)


@pytest.mark.parametrize("drift", [0.0, 0.01, 0.05])
def test_drift_of_confined_content_is_measured_whole_and_precisely(drift):
    # Two beads of a driven chain dwell on their pixels and circulate: frame pairs read drifts of these 20 movies
    # to +-0.008-0.03 px/frame, the linear reading of each frame's displacement to +-0.0035-0.005.
    d = measure_drift(bead_movies(drift, bleach=0.3))
    assert d.stderr[1] < 0.006 and abs(d.velocity[1] - drift) < 3 * d.stderr[1], (d.velocity, d.stderr)
    assert abs(d.velocity[0]) < 3 * d.stderr[0] + 1e-4
    assert d.significant == (drift > 0)


def test_registration_of_confined_content_leaves_no_drift_and_the_clean_movie():
    clean, drifting = bead_movies(0.0, movies=10), bead_movies(0.05, movies=10)
    registered = preprocess(drifting, Preprocess(register=True))
    after = measure_drift(registered)
    assert np.all(np.abs(after.velocity) < 3 * after.stderr)
    # The registered frames show the clean movie, cropped by the margin the content swept.
    my, mx = registered.provenance["preprocess"]["register_margin_px"]
    h, w = clean.frame_shape
    cropped = np.asarray(clean.frames)[:, :, my:h - my, mx:w - mx]
    unregistered = np.asarray(drifting.frames)[:, :, my:h - my, mx:w - mx]
    miss = np.sqrt(np.mean((np.asarray(registered.frames[:]) - cropped) ** 2))
    assert miss < 0.5 * np.sqrt(np.mean((unregistered - cropped) ** 2))


def test_bleaching_rate_and_total_change_are_recovered():
    b = measure_bleaching(blob_movie(bleach=0.3, seed=2))
    assert b.rate == pytest.approx(-np.log(0.7) / (FRAMES - 1), rel=0.05)
    assert b.total_change == pytest.approx(-0.3, abs=0.015)
    assert b.change_per_frame == pytest.approx(np.expm1(-b.rate))
    flat = measure_bleaching(blob_movie(seed=2))
    assert abs(flat.total_change) < 0.02


def test_registration_removes_the_drift_without_moving_the_static_background():
    drift = (0.029, 0.093)
    movie = blob_movie(drift, seed=3)
    registered = preprocess(movie, Preprocess(register=True))
    record = registered.provenance["preprocess"]
    margin = np.ceil(np.abs(np.array(record["drift_px_per_frame"])) * (FRAMES - 1) / 2).astype(int)
    assert record["register"] and record["register_margin_px"] == margin.tolist() and margin[1] >= 6
    h, w = SHAPE
    assert registered.frames.shape == (1, FRAMES, h - 2 * margin[0], w - 2 * margin[1])
    frames = registered.frames[:]
    after = measure_drift(Movie(frames=frames, dt=0.1, pixel_size=0.5))
    assert np.all(np.abs(after.velocity) < 3 * after.stderr) and np.all(np.abs(after.velocity) < 0.03)
    # The dirt stays where it was: the registered movie's median is the original's, cropped.
    (my, mx) = margin
    before = static_background(movie, standardized=False)[0][my:h - my, mx:w - mx]
    kept = static_background(Movie(frames=frames), standardized=False)[0]
    assert np.corrcoef(before.ravel(), kept.ravel())[0, 1] > 0.95     # shifted whole frames: about 0
    # Registration runs before binning, on the cropped region.
    binned = preprocess(movie, Preprocess(crop=(0, 64, 0, 80), register=True, bin=2))
    m = binned.provenance["preprocess"]["register_margin_px"]
    assert binned.frames.shape == (1, FRAMES, (64 - 2 * m[0]) // 2, (80 - 2 * m[1]) // 2)
    assert binned.pixel_size == pytest.approx(1.0)


def test_registration_that_would_crop_everything_is_refused():
    # A texture crossing a 32 x 32 px field at 0.4 px/frame sweeps 40 px in 100 frames.
    texture = np.fft.fft2(gaussian_filter(np.random.default_rng(4).normal(size=(64, 64)), 2.0))
    frames = np.stack([np.fft.ifft2(fourier_shift(texture, (0.0, 0.4 * t))).real[16:48, 16:48] for t in range(100)])
    with pytest.raises(CneepError, match="leaves nothing"):
        preprocess(Movie(frames=frames[None].astype(np.float32)), Preprocess(register=True))


def test_bleach_correction_removes_the_trend_whatever_the_camera_offset():
    clean, bleached = blob_movie(seed=5), blob_movie(bleach=0.3, offset=500.0, seed=5)
    corrected = preprocess(bleached, Preprocess(bleach_correct=True))
    # The offset, which does not bleach, dilutes the measured trend: 30% of 200 of 700 counts over the movie.
    assert corrected.provenance["preprocess"]["intensity_trend_per_frame"] == pytest.approx(
        np.expm1(np.log1p(-0.3 * 200 / 700) / (FRAMES - 1)), rel=0.2)
    frames = corrected.frames[:]
    assert measure_bleaching(Movie(frames=frames)).arrow_per_frame < 1e-6
    # Offset + gain(t) * image standardizes to the unbleached image's standardization: only the noise differs.
    diff = frames[0] - standardize(clean.frames[0])
    assert np.abs(diff).mean() < 0.05


def test_warnings_name_the_arrow_and_the_correction_and_stay_quiet_without_one():
    quiet = blob_movie(seed=6)
    assert time_arrow_warnings(measure_drift(quiet), measure_bleaching(quiet)) == []
    drifting = blob_movie((0.029, 0.093), seed=6)
    (text,) = time_arrow_warnings(measure_drift(drifting), measure_bleaching(drifting))
    assert "px/frame" in text and "µm/s" in text and "--register" in text
    bleaching = blob_movie(bleach=0.3, seed=6)
    (text,) = time_arrow_warnings(measure_drift(bleaching), measure_bleaching(bleaching))
    assert "-30" in text and "--bleach-correct" in text


def test_cli_info_reports_drift_and_bleaching_and_train_records_the_corrections(tmp_path, capsys):
    path = save_movie(blob_movie((0.0, 0.093), bleach=0.3, seed=7), tmp_path / "flow.tif")
    assert main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["drift_px_per_frame"][1] == pytest.approx(0.093, abs=0.03)
    assert info["intensity_trend_per_frame"] == pytest.approx(np.expm1(np.log(0.7) / (FRAMES - 1)), rel=0.1)
    assert len(info["warnings"]) == 2
    assert main(["info", str(path)]) == 0
    text = capsys.readouterr().out
    assert "drift of the moving content" in text and "warning:" in text and "--register" in text
    assert main(["train", str(path), "-o", str(tmp_path / "run"), "--register", "--bleach-correct", "--iters", "2",
                 "--eval-every", "1", "--batch", "8", "--channels", "2", "--depth", "1", "-q"]) == 0
    record = json.loads((tmp_path / "run" / "config.json").read_text())["input"]["preprocess"]
    assert record["register"] and record["bleach_correct"]
    assert record["drift_px_per_frame"][1] == pytest.approx(0.093, abs=0.03)
    assert load_movie(path, register=True).frames.shape[-1] < SHAPE[1]


def test_a_run_reports_its_inputs_time_arrows_and_register_removes_the_drift_warning(tiny_config):
    from dataclasses import replace

    from cneep_engine import train
    drifting = blob_movie((0.0, 0.093), seed=4)
    config = replace(tiny_config, iterations=10, eval_every=5)
    s = train(drifting, config).summary
    checks = s["input_checks"]
    assert abs(checks["drift_px_per_frame"][1] - 0.093) < 4 * checks["drift_stderr_px_per_frame"][1]
    assert s["warnings"][0].startswith("the moving content drifts") and "--register" in s["warnings"][0]
    assert checks["arrows"] == ["drift"]
    registered = train(preprocess(drifting, Preprocess(register=True)), config).summary
    assert abs(registered["input_checks"]["drift_px_per_frame"][1]) < 0.02
    assert not any("drifts" in w for w in registered["warnings"]) and registered["input_checks"]["arrows"] == []


def test_a_run_on_a_lossy_video_names_the_compression_before_and_after_training(tiny_movie, tiny_config, tmp_path,
                                                                                  capsys):
    from cneep_engine.io.video_write import write_video
    frames = np.asarray(tiny_movie.frames[0], dtype=np.uint8)
    video = write_video(frames, tmp_path / "beads.mov", 100, crf=23, bframes=3, gop=50)
    assert main(["train", str(video), "-o", str(tmp_path / "run"), "--iters", "20", "--eval-every", "10",
                 "--channels", "4", "--batch", "64"]) == 0
    err = capsys.readouterr().err
    assert "warning: inter-frame compression (H.264, B-frames, 50-frame groups)" in err
    assert "estimate on cpu" in err
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    codec = summary["input_checks"]["codec"]
    assert (codec["codec"], codec["lossy"], codec["gop_length"]) == ("h264", True, 50) and codec["frame_types"]["B"]
    assert summary["warnings"][0].startswith("inter-frame compression")


@pytest.mark.parametrize("shape", [(1, 2, 8, 8), (1, 5, 8, 8), (3, 40, 8, 8)])
def test_a_blank_movie_has_no_drift(shape):
    d = measure_drift(Movie(frames=np.full(shape, 7.0, np.float32)))
    assert np.all(d.velocity == 0) and not d.significant


@pytest.mark.parametrize("seed, frames, shape, noise", [
    (1, 60, (64, 64), "poisson"),    # the reading followed no registration: stepping on made 0.09 px/frame of it
    (127, 40, (48, 48), "normal"),   # read over 2 segments at 3.8 errors, which their scatter cannot vouch for
])
def test_frames_of_pixel_noise_drift_nowhere(seed, frames, shape, noise):
    rng = np.random.default_rng(seed)
    f = (rng.poisson(200, (1, frames, *shape)) if noise == "poisson" else rng.normal(100, 10, (1, frames, *shape)))
    movie = Movie(frames=f.astype(np.float32))
    drift = measure_drift(movie)
    assert not drift.significant and drift.speed < 0.02
    assert time_arrow_warnings(drift, measure_bleaching(movie)) == []
