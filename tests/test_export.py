"""Engine export: per-frame maps, overlay colours, and every file format written and read back."""

import csv
import json

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from cneep_engine import CneepError, load_movie, save_movie
from cneep_engine.export import (cumulative_trace, diverging_lut, frame_map, map_limits, open_run, overlay_rgb,
                                 save_run, window_at, write_map_stack, write_mean_map, write_overlay_movie,
                                 write_image, write_summary_json, write_trace_csv)
from cneep_engine.io import sidecar_path
from cneep_engine import run as run_module
from cneep_engine.maps import upsample

HOT, NEUTRAL, COLD = (10, 4), (10, 20), (10, 35)   # (row, col) pixels in the toy run's map columns


def test_lut_runs_from_opaque_blue_through_transparent_to_opaque_red():
    lut = diverging_lut()
    assert lut.shape == (256, 4) and lut.dtype == np.uint8
    assert lut[0, 2] > lut[0, 0] and lut[0, 3] == 255
    assert lut[255, 0] > lut[255, 2] and lut[255, 3] == 255
    assert lut[127:129, 3].max() == 0
    assert np.all(np.diff(lut[128:, 3].astype(int)) >= 0)


def test_a_map_that_changes_sign_smoothly_draws_no_line_where_it_crosses_zero():
    frame = np.full((1, 401), 30.0)                       # a dark frame
    ramp = np.linspace(-1, 1, 401)[None]                  # the map through 0, in steps of 0.5% of the limit
    grey = overlay_rgb(frame, ramp, levels=(0, 255), limit=1.0).astype(int).sum(-1)[0] / 3
    zero = 200
    assert grey[zero] == 30 and np.abs(grey[zero - 8:zero + 9] - 30).max() <= 1   # within 4% of the limit
    assert grey[zero + 100] > 60 and grey[zero - 100] > 45                         # half the limit shows


def test_each_frame_shows_the_window_that_starts_there(toy_run):
    i = window_at(toy_run, movie=1, frame=17)
    assert (toy_run.movie[i], toy_run.frame[i]) == (1, 17)
    last = window_at(toy_run, movie=1, frame=199)        # the last frame has no window of its own
    assert (toy_run.movie[last], toy_run.frame[last]) == (1, 198)
    assert window_at(toy_run, movie=5, frame=0) is None
    m = frame_map(toy_run, 1, 17)
    assert m.shape == toy_run.frame_shape
    assert m.sum() == pytest.approx(float(toy_run.maps[i].sum()), rel=1e-5)


def test_overlay_is_red_where_hot_blue_where_cold_and_the_frame_where_neutral(toy_run, tiny_movie):
    frame = tiny_movie.frames[2, 4]         # the toy maps are strongest on every fifth window
    limit = map_limits(toy_run)[0]
    rgb = overlay_rgb(frame, frame_map(toy_run, 2, 4), levels=(0, 255), limit=limit, opacity=1.0)
    assert rgb.shape == (*frame.shape, 3) and rgb.dtype == np.uint8
    r, g, b = rgb[HOT].astype(int)
    assert r > 150 and b < 100
    r, g, b = rgb[COLD].astype(int)
    assert b > r + 50
    assert np.all(rgb[NEUTRAL] == frame[NEUTRAL])
    bare = overlay_rgb(frame, frame_map(toy_run, 2, 4), levels=(0, 255), limit=limit, opacity=0.0)
    assert np.array_equal(bare, np.repeat(frame[..., None], 3, axis=2))


def test_overlay_applies_levels_and_frame_lut():
    frame = np.array([[0, 50, 100, 200]], np.uint16)
    rgb = overlay_rgb(frame, None, levels=(0, 100), limit=1.0)
    assert rgb[0, :, 0].tolist() == [0, 128, 255, 255]
    fire = np.zeros((256, 3), np.uint8)
    fire[:, 0] = 255
    assert overlay_rgb(frame, None, levels=(0, 100), limit=1.0, frame_lut=fire)[0, 1].tolist() == [255, 0, 0]


def test_map_limits_ignore_a_single_extreme_pixel(toy_run):
    toy_run.maps[3, 0, 0] = 1e6
    per_window, mean = map_limits(toy_run)
    assert 0 < per_window < 1 and 0 < mean < 1e3


def test_cumulative_trace_starts_at_zero_and_ends_at_the_movie_total(toy_run):
    t, cum, true = cumulative_trace(toy_run, 2)
    sel = toy_run.movie == 2
    assert t[0] == 0 and t[-1] == pytest.approx(199 * toy_run.dt)
    assert cum[0] == 0 and cum[-1] == pytest.approx(toy_run.ds[sel].sum(), rel=1e-5)
    assert true[-1] == pytest.approx(toy_run.true_ds[sel].sum())
    toy_run.true_ds = None
    assert cumulative_trace(toy_run, 0)[2] is None
    with pytest.raises(CneepError):
        cumulative_trace(toy_run, 9)


def test_map_stack_and_mean_map_read_back_calibrated(toy_run, tmp_path):
    toy_run.pixel_size = 0.25
    stack = tifffile.imread(write_map_stack(toy_run, tmp_path / "maps.tif"))
    assert stack.shape == (len(toy_run.maps), *toy_run.frame_shape) and stack.dtype == np.float32
    assert np.allclose(stack[40], upsample(toy_run.maps[40], toy_run.frame_shape))
    write_mean_map(toy_run, tmp_path / "mean.tif")
    with tifffile.TiffFile(tmp_path / "mean.tif") as tf:
        assert np.allclose(tf.asarray(), toy_run.mean_map)
        x = tf.pages[0].tags["XResolution"].value
        assert x[1] / x[0] == pytest.approx(0.25)


def test_png_reads_back_exactly(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (20, 40, 3), dtype=np.uint8)
    assert np.array_equal(iio.imread(write_image(rgb, tmp_path / "o.png")), rgb)


def _overlay_frames(run, movie):
    limit = map_limits(run)[0]
    return [overlay_rgb(movie.frames[0, t], frame_map(run, 0, t), (0, 255), limit) for t in range(12)]


def test_avi_is_lossless_and_mp4_close(toy_run, tiny_movie, tmp_path):
    frames = _overlay_frames(toy_run, tiny_movie)
    avi = iio.imread(write_overlay_movie(tmp_path / "o.avi", frames, fps=10, scale=2), plugin="pyav")
    assert np.array_equal(avi, np.stack(frames).repeat(2, axis=1).repeat(2, axis=2))
    assert iio.immeta(tmp_path / "o.avi", plugin="pyav")["fps"] == 10
    odd = [f[:19, :39] for f in frames]       # H.264 needs even sides: padded, not refused
    mp4 = iio.imread(write_overlay_movie(tmp_path / "o.mp4", odd, fps=10), plugin="pyav")
    assert mp4.shape == (12, 20, 40, 3)
    assert np.abs(mp4[:, :19, :39].astype(int) - np.stack(odd)).mean() < 12
    with pytest.raises(CneepError, match="o.gif"):
        write_overlay_movie(tmp_path / "o.gif", frames, fps=10)


def test_trace_csv_and_summary_json_read_back(toy_run, tmp_path, monkeypatch):
    with open(write_trace_csv(toy_run, tmp_path / "trace.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(toy_run.ds)
    assert float(rows[7]["ds"]) == pytest.approx(float(toy_run.ds[7]), rel=1e-6)
    assert rows[-1]["part"] == "test"
    whole = (tmp_path / "trace.csv").read_bytes()
    monkeypatch.setattr(run_module, "TRACE_CHUNK", 5)   # long runs write the trace a chunk at a time
    assert write_trace_csv(toy_run, tmp_path / "chunked.csv").read_bytes() == whole
    summary = json.loads(write_summary_json(toy_run, tmp_path / "s.json").read_text())
    assert summary["ep_rate"] == pytest.approx(toy_run.summary["ep_rate"])


def test_saved_run_reopens_with_its_in_memory_movie(toy_run, tiny_movie, tmp_path):
    tiny_movie = load_movie(save_movie(tiny_movie, tmp_path / "src.tif"))
    tiny_movie.path = None                    # as if generated in the app and never saved
    toy_run.dt = 0.05                         # the user corrected the frame interval before training
    toy_run.input = {**toy_run.input, "dt_source": "user", "pixel_size_source": "user"}
    save_run(toy_run, tiny_movie, tmp_path / "run")
    assert (tmp_path / "run" / "movie.tif").is_file()
    run, movie = open_run(tmp_path / "run")
    assert np.array_equal(run.maps, toy_run.maps)
    assert np.array_equal(movie.frames, tiny_movie.frames) and movie.truth is not None
    assert movie.dt == 0.05 and movie.dt_source == movie.pixel_size_source == "user"   # said as set by the user


def test_reopening_a_run_names_a_missing_or_mismatched_movie(toy_run, tiny_movie, tmp_path):
    src = save_movie(tiny_movie, tmp_path / "src.tif")
    save_run(toy_run, load_movie(src), tmp_path / "run")   # the movie has a path: it is referenced, not copied
    assert not (tmp_path / "run" / "movie.tif").exists()
    src.unlink()
    sidecar_path(src).unlink()
    with pytest.raises(CneepError, match="src.tif"):
        open_run(tmp_path / "run")
    other = tiny_movie.frames[:, :50]
    save_movie(type(tiny_movie)(frames=other), src)
    with pytest.raises(CneepError, match="does not match"):
        open_run(tmp_path / "run")


def test_a_trajectory_run_reopens_with_its_in_memory_trajectories(tmp_path):
    from cneep_engine import TrainConfig, simulate_ratchet, train
    data = simulate_ratchet(trajectories=3, steps=300, seed=1)
    run = train(data, TrainConfig(model="neep", iterations=4, eval_every=2, batch=32))
    save_run(run, data, tmp_path / "run")
    with pytest.raises(CneepError, match="map"):
        write_mean_map(run, tmp_path / "map.tif")
    again, states = open_run(tmp_path / "run")
    assert (tmp_path / "run" / "trajectories.npz").is_file() and again.maps is None
    np.testing.assert_array_equal(states.data, data.data)
    assert states.kind == "states" and states.truth is not None
    np.testing.assert_array_equal(again.ds, run.ds)
    t, cum, true = cumulative_trace(again, 1)
    assert cum[-1] == pytest.approx(run.ds[run.movie == 1].sum(), rel=1e-6) and true is not None
