"""The dissipation map scored against the exact per-site EP of synthetic movies (truth.map)."""

import json

import numpy as np
import pytest

from cneep_engine import BeadRenderer, BeadSpringChain, load_run, simulate_bead_spring
from cneep_engine.io import load_movie, save_movie
from cneep_engine.io.preprocess import Preprocess, preprocess
from cneep_engine.io.truth import sidecar_path
from cneep_engine.sites import SiteTruth, describe_map, score_map
from cneep_engine.synth import bead_spring_sites


@pytest.mark.parametrize("beads", [2, 5])
def test_velocity_heat_and_spring_decompositions_sum_to_sigma(beads):
    chain = BeadSpringChain(beads=beads)
    for decomposition in (chain.ep_density, chain.heat_density, chain.bond_ep):
        assert decomposition.sum() == pytest.approx(chain.ep_rate, abs=1e-6)


def test_decompositions_match_reference_values_and_each_other():
    n2, n5 = BeadSpringChain(), BeadSpringChain(beads=5)
    np.testing.assert_allclose(n2.heat_density, [2.25, -0.225], atol=1e-4)
    np.testing.assert_allclose(n5.heat_density, [0.6727, 0.0420, 0.0, -0.0176, -0.0673], atol=1e-4)
    np.testing.assert_allclose(n2.bond_ep, [0, n2.ep_rate, 0], atol=1e-12)   # the one spring between the baths
    # Heat flows through springs only: the heat bead p gives its bath, T_p h_p, is what the spring on its right
    # brings in minus what the spring on its left takes, J_b = bond_ep_b / (1/T_p - 1/T_q).
    t = n5.temperatures
    inner = n5.bond_ep[1:-1] / (1 / t[:-1] - 1 / t[1:])
    flux = np.concatenate([[0.0], inner, [0.0]])
    np.testing.assert_allclose(t * n5.heat_density, flux[1:] - flux[:-1], atol=1e-12)


def test_equilibrium_chain_has_no_site_or_spring_ep():
    chain = BeadSpringChain(beads=4, tc=3, th=3)
    for decomposition in (chain.ep_density, chain.heat_density, chain.bond_ep):
        np.testing.assert_allclose(decomposition, 0, atol=1e-10)


def test_map_mass_on_one_bead_is_attributed_to_it():
    sites = bead_spring_sites(BeadSpringChain(), BeadRenderer())   # beads rest at x = 10 and 30 px, y = 10
    image = np.zeros((20, 40))
    image[10, 10] = 3.0
    m = score_map(image, sites)
    assert [e["site"] for e in m["per_site"]] == ["bead 0", "bead 1"]
    assert [e["map"] for e in m["per_site"]] == [3.0, 0.0] and m["outside"] == 0 and m["total"] == 3.0
    np.testing.assert_allclose([e["exact"] for e in m["per_site"]], [1.4284, 0.5966], atol=1e-4)
    np.testing.assert_allclose([e["heat"] for e in m["per_site"]], [2.25, -0.225], atol=1e-4)
    assert m["rank_correlation"] == 1.0 and "hot_fraction" not in m
    # a pixel on a bead lies at the end of two springs: it is shared between them
    assert [(b["bond"], b["map"]) for b in m["per_bond"]] == [("wall-0", 1.5), ("0-1", 1.5), ("1-wall", 0.0)]
    image[10, 10], image[10, 30], image[3, 20] = 0.0, 2.0, 1.0   # on bead 1; on the spring, level with both
    m = score_map(image, sites)
    assert [e["map"] for e in m["per_site"]] == [0.5, 2.5] and m["rank_correlation"] == -1.0
    assert [b["map"] for b in m["per_bond"]] == [0.0, 2.0, 1.0]
    assert "bead 0 17% (exact 71%, heat 111%)" in describe_map(m)


def test_every_pixel_of_the_frame_belongs_to_a_bead_and_a_spring():
    m = score_map(np.ones((20, 60)), bead_spring_sites(BeadSpringChain(beads=3), BeadRenderer()))
    assert m["outside"] == 0 and sum(e["map"] for e in m["per_site"]) == 1200
    assert sum(b["map"] for b in m["per_bond"]) == pytest.approx(1200)
    assert np.isnan(score_map(np.zeros((20, 60)), bead_spring_sites(BeadSpringChain(beads=3),
                                                                     BeadRenderer()))["rank_correlation"])


def test_hot_fraction_counts_the_map_near_hot_sites():
    sites = SiteTruth(labels=("a", "b", "c"), pixels=np.array([[2.0, 2.0], [12.0, 2.0], [22.0, 2.0]]),
                      velocity=np.array([2.0, 1.0, 0.1]), radius=3.0, hot=(0,), hot_radius=11.0)
    image = np.zeros((5, 25))
    image[2, 2], image[2, 12], image[2, 22], image[0, 17] = 4.0, 3.0, 2.0, 1.0
    m = score_map(image, sites)
    assert [e["map"] for e in m["per_site"]] == [4.0, 3.0, 2.0] and m["outside"] == 1.0
    assert m["rank_correlation"] == 1.0 and "heat" not in m["per_site"][0] and "per_bond" not in m
    assert m["hot_fraction"] == pytest.approx(0.7)                # sites a and b lie within 11 px of a
    assert m["hot_fraction_exact"] == pytest.approx(3.0 / 3.1)
    assert "hot fraction 70% (exact 97%)" in describe_map(m)


def test_sites_follow_rendering_binning_and_preprocessing():
    chain = BeadSpringChain()
    binned = bead_spring_sites(chain, BeadRenderer(binning=2))
    np.testing.assert_allclose(binned.pixels, [[4.75, 4.75], [14.75, 4.75]])   # binned pixel j: centre 2j + 1/2
    assert binned.radius == pytest.approx(20 / np.sqrt(2) / 2)
    movie = simulate_bead_spring(chain, BeadRenderer(), movies=1, frames=20)
    cut = preprocess(movie, Preprocess(crop=(2, 18, 4, 40), bin=2))
    np.testing.assert_allclose(cut.truth.sites.pixels, [[2.75, 3.75], [12.75, 3.75]])
    np.testing.assert_allclose(cut.truth.sites.bond_ends[1], [[2.75, 3.75], [12.75, 3.75]])
    np.testing.assert_allclose(cut.truth.sites.velocity, chain.ep_density)


def test_sidecar_keeps_the_sites_and_old_sidecars_get_them_from_their_parameters(tmp_path):
    movie = simulate_bead_spring(BeadSpringChain(beads=3), BeadRenderer(cell=12), movies=1, frames=20)
    path = save_movie(movie, tmp_path / "beads.tif")
    loaded = load_movie(path).truth.sites
    np.testing.assert_allclose(loaded.pixels, movie.truth.sites.pixels)
    np.testing.assert_allclose(loaded.bond_ep, movie.truth.sites.bond_ep)
    assert loaded.labels == ("bead 0", "bead 1", "bead 2") and loaded.radius == movie.truth.sites.radius
    side = sidecar_path(path)   # an older sidecar: no sites, and parameters without the new densities
    with np.load(side) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    del meta["sites"], meta["params"]["heat_density"], meta["params"]["bond_ep"]
    arrays["meta"] = np.array(json.dumps(meta))
    with open(side, "wb") as f:
        np.savez(f, **arrays)
    old = load_movie(path).truth.sites
    np.testing.assert_allclose(old.pixels, movie.truth.sites.pixels)
    np.testing.assert_allclose(old.heat, movie.truth.sites.heat)


def test_a_short_run_reports_the_map_and_the_cli_and_app_show_it(tiny_movie, tmp_path, capsys):
    from cneep_engine.cli import main
    from cneep_gui.summary_view import summary_text
    path = save_movie(tiny_movie, tmp_path / "beads.tif")
    assert main(["train", str(path), "-o", str(tmp_path / "run"), "--iters", "2", "--eval-every", "1", "--batch", "8",
                 "--channels", "4", "--depth", "1", "-q"]) == 0
    m = json.loads((tmp_path / "run" / "summary.json").read_text())["truth"]["map"]
    assert {"per_site", "rank_correlation", "radius_px", "total", "outside", "per_bond"} <= set(m)
    assert [set(e) for e in m["per_site"]] == [{"site", "map", "exact", "heat"}] * 2
    assert m["per_site"][0]["exact"] == pytest.approx(1.4284, abs=1e-4)
    assert m["total"] == pytest.approx(float(load_run(tmp_path / "run").mean_map.sum()), rel=1e-5)
    assert sum(e["map"] for e in m["per_site"]) + m["outside"] == pytest.approx(m["total"], rel=1e-5, abs=1e-9)
    out = capsys.readouterr().out
    assert "dissipation map: bead 0 " in out and "springs wall-0 " in out
    assert "dissipation map: bead 0 " in summary_text(json.loads((tmp_path / "run" / "summary.json").read_text()))
