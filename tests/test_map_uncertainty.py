"""The standard error of a time-averaged dissipation map per pixel, and the pixels it leaves in doubt."""

import json

import numpy as np
import pytest
import tifffile
from scipy.stats import t as student_t

from cneep_engine import BeadRenderer, BeadSpringChain, TrainConfig, load_run, train
from cneep_engine import map_uncertainty as mu
from cneep_engine.export import write_mean_map
from cneep_engine.sites import density_map
from cneep_engine.synth import bead_spring_sites
from cneep_engine.verdict import block_bootstrap, verdict, verdict_blocks


def _windows(movies: int, frames: int):
    """Run order of `frames` windows in each of `movies` movies."""
    return np.repeat(np.arange(movies), frames), np.tile(np.arange(frames), movies)


def test_bootstrap_sem_is_the_block_bootstrap_of_each_pixel(rng, monkeypatch):
    movie, frame = _windows(3, 540)
    held_out = movie > 0          # two movies: 41 blocks of 13 windows each, the last of each 13 + 7
    maps = (3 + rng.standard_normal((movie.size, 3, 4))).astype(np.float32)
    u = mu.bootstrap_uncertainty(maps, movie, frame, held_out, per_time=0.5)
    block = verdict_blocks(movie, frame, held_out)[2]
    counts = np.bincount(block).astype(np.float64)
    assert u.method == "bootstrap" and u.blocks == 82 == counts.size and counts.max() == 20
    assert u.sem.shape == (3, 4)
    # a direct resampling of the blocks, pixel by pixel
    x = maps[held_out].reshape(-1, 12).astype(np.float64)
    direct = [block_bootstrap(np.bincount(block, weights=x[:, p]), counts, resamples=20_000).std(ddof=1) / 0.5
              for p in range(12)]
    np.testing.assert_allclose(u.sem.ravel(), direct, rtol=0.03)
    # read a few windows at a time, as from a long memory-mapped maps file: the same numbers
    monkeypatch.setattr(mu, "CHUNK_BYTES", 7 * 12 * 4)
    np.testing.assert_allclose(mu.bootstrap_uncertainty(maps, movie, frame, held_out, 0.5).sem, u.sem, rtol=1e-6)


def test_with_equal_blocks_it_is_the_spread_of_the_block_means(rng):
    movie, frame = _windows(2, 800)
    held_out = movie == 1                     # 800 windows: 80 blocks of 10
    maps = (100 + rng.standard_normal((movie.size, 2, 2))).astype(np.float32)   # a mean far above the noise
    means = maps[held_out].astype(np.float64).reshape(80, 10, 4).mean(1)
    expected = means.std(axis=0) / np.sqrt(80) / 0.01
    np.testing.assert_allclose(mu.bootstrap_uncertainty(maps, movie, frame, held_out, 0.01).sem.ravel(), expected,
                               rtol=1e-5)
    assert mu.bootstrap_uncertainty(maps, movie, frame, (movie == 1) & (frame == 0), 0.01) is None   # one block


def test_a_one_pixel_map_of_ds_has_the_verdicts_error_bar(rng):
    movie, frame = _windows(4, 600)
    ds = np.empty(movie.size)
    for m in range(4):                          # correlated: AR(1) about a positive mean
        e = rng.standard_normal(600)
        for t in range(1, 600):
            e[t] += 0.8 * e[t - 1]
        ds[movie == m] = 0.3 + e
    held_out = movie >= 2
    u = mu.bootstrap_uncertainty(ds.astype(np.float32)[:, None, None], movie, frame, held_out, per_time=0.1)
    v = verdict(ds, movie, frame, held_out, 0.1)
    assert u.blocks == v["block"]["blocks"]
    assert u.sem[0, 0] == pytest.approx(v["ep_rate_err"], rel=0.06)    # 2000 resamples: a few % of noise


def test_over_seeds_the_spread_and_the_standard_error_of_their_mean(rng):
    seed_maps = rng.standard_normal((3, 4, 5))
    u = mu.seed_uncertainty(seed_maps)
    spread = seed_maps.std(axis=0, ddof=1)
    np.testing.assert_allclose(u.seed_spread, spread, rtol=1e-6)
    np.testing.assert_allclose(u.sem, spread / np.sqrt(3), rtol=1e-6)
    assert u.describe(seed_maps.mean(0))["seeds"] == 3
    frame = u.at_resolution((8, 10))      # each cell over 2 x 2 pixels, its values spread evenly as the map's
    np.testing.assert_allclose(frame.sem[::2, ::2], u.sem / 4, rtol=1e-6)


def test_the_mask_hides_pixels_within_two_standard_errors_of_zero():
    seeds = mu.MapUncertainty("seeds", sem=np.ones((1, 1)), seed_spread=np.ones((1, 1)), seeds=2)
    assert seeds.threshold == pytest.approx(13.97, abs=0.01)     # Student's t, 1 degree of freedom, 95.45%
    u = mu.MapUncertainty("bootstrap", sem=np.array([[1.0, 1.0, 1.0, 0.0]]), blocks=80)
    mean = np.array([[2.5, -2.5, 1.5, 0.0]], np.float32)
    assert u.significant(mean).tolist() == [[True, True, False, False]]
    np.testing.assert_array_equal(u.hide_uncertain(mean), [[2.5, -2.5, 0, 0]])
    assert u.describe(mean) == {"method": "bootstrap", "z": 2.0, "significant_fraction": 0.5, "blocks": 80}


@pytest.mark.parametrize("method", ["bootstrap", "seeds"])
def test_on_the_n2_chain_the_mask_keeps_the_pixels_where_the_exact_density_is_large(rng, method):
    chain, renderer = BeadSpringChain(), BeadRenderer()
    # each bead's exact velocity density over the pixels of its spot, none elsewhere
    exact = density_map(bead_spring_sites(chain, renderer), (20, 40), radius=renderer.psf_sigma)
    assert exact.sum() == pytest.approx(chain.ep_rate, rel=1e-6) and (exact == 0).mean() > 0.8
    dt = chain.dt
    movie, frame = _windows(3, 1000)
    held_out = movie == 2
    noise = 0.3 * exact.max()      # per window and pixel, as a rate; the mean's error is 30 times less
    if method == "bootstrap":      # the exact density standing in for every window's expectation
        maps = (exact * dt + noise * dt * rng.standard_normal((movie.size, 20, 40))).astype(np.float32)
        u = mu.bootstrap_uncertainty(maps, movie, frame, held_out, dt)
        mean = maps[held_out].mean(axis=0, dtype=np.float64) / dt
    else:                          # four seeds whose maps differ about the exact one
        seed_maps = exact + 0.05 * noise * rng.standard_normal((4, 20, 40))
        u, mean = mu.seed_uncertainty(seed_maps), seed_maps.mean(0)
    kept = u.significant(mean)
    assert exact[kept].sum() > 0.97 * exact.sum()                # nearly all the exact mass is kept
    assert kept[exact > 0].all()                                  # every pixel of either bead is
    # The others are kept by chance only, as often as a Student t with the standard error's degrees of freedom
    # lies beyond the threshold: 5% with 80 blocks (threshold 2), 4.6% with four seeds (threshold 4.5).
    chance = 2 * student_t.sf(u.threshold, u.blocks - 1 if method == "bootstrap" else 3)
    assert kept[exact == 0].mean() == pytest.approx(chance, abs=0.04)


def test_a_trained_run_with_seeds_writes_its_spread_and_error_beside_the_map(tmp_path, tiny_movie, tiny_config):
    short = {**tiny_config.__dict__, "seeds": 2, "iterations": 10, "eval_every": 5, "batch": 16}
    run = train(tiny_movie, TrainConfig(**short), run_dir=tmp_path)
    s = run.summary["map_uncertainty"]
    u = run.map_uncertainty
    assert s["method"] == "seeds" and s["seeds"] == 2 and 0 <= s["significant_fraction"] <= 1
    assert s["significant_fraction"] == pytest.approx(u.significant(run.mean_map).mean())
    assert u.sem.shape == u.seed_spread.shape == run.mean_map.shape
    np.testing.assert_allclose(u.sem, u.seed_spread / np.sqrt(2), rtol=1e-6)
    written = {name: tifffile.imread(tmp_path / f"dissipation_map_{name}.tif") for name in ("sem", "seed_spread")}
    np.testing.assert_array_equal(written["sem"], u.sem)
    np.testing.assert_array_equal(written["seed_spread"], u.seed_spread)
    with tifffile.TiffFile(tmp_path / "dissipation_map_sem.tif") as f:   # calibrated for Fiji as the map
        assert f.imagej_metadata["unit"] == "um" and "standard error" in f.imagej_metadata["Info"]
    again = load_run(tmp_path)
    assert again.summary["map_uncertainty"] == json.loads(json.dumps(s))
    np.testing.assert_array_equal(again.map_uncertainty.sem, u.sem)
    np.testing.assert_array_equal(again.map_uncertainty.seed_spread, u.seed_spread)


def test_one_seed_gets_the_bootstrap_and_a_run_without_it_leaves_no_stale_file(tmp_path, toy_run):
    toy_run.add_map_uncertainty()
    s = toy_run.summary["map_uncertainty"]
    assert s["method"] == "bootstrap" and s["blocks"] > 1
    # the toy maps are a window-to-window pattern about a fixed map: its columns of + and - are far beyond 2 SE
    assert s["significant_fraction"] == pytest.approx(0.7)
    toy_run.save(tmp_path)
    assert (tmp_path / "dissipation_map_sem.tif").is_file()
    assert not (tmp_path / "dissipation_map_seed_spread.tif").exists()
    write_mean_map(toy_run, tmp_path / "mean.tif")          # the app's and the CLI's export of the map: the same
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "mean_sem.tif"), toy_run.map_uncertainty.sem)
    toy_run.map_uncertainty = None
    del toy_run.summary["map_uncertainty"]
    toy_run.save(tmp_path)
    assert not (tmp_path / "dissipation_map_sem.tif").exists() and load_run(tmp_path).map_uncertainty is None
