"""The elastic filament network: exact EP and its three decompositions, the movie's geometry, crops, the CLI."""

from dataclasses import fields

import numpy as np
import pytest

from cneep_engine import CneepError, load_movie, save_movie
from cneep_engine.cli import main
from cneep_engine.sites import score_map
from cneep_engine.synth import FilamentNetwork, FilamentRenderer, GeometricSprings, Sampling, network, simulate_network

DEFAULT = FilamentNetwork()


def test_stationary_covariance_solves_the_lyapunov_equation():
    a, c, d = DEFAULT.drift, DEFAULT.covariance, DEFAULT.diffusion
    assert DEFAULT.dimension == 72 and len(DEFAULT.bonds) == 161 and len(DEFAULT.free) == 36
    np.testing.assert_allclose(a @ c + c @ a.T + 2 * d, 0, atol=1e-12)
    rates = -np.linalg.eigvals(a).real
    assert rates.min() == pytest.approx(0.3142, abs=1e-4) and rates.max() == pytest.approx(5.6782, abs=1e-4)


def test_default_rate_ceiling_and_the_spec_table():
    assert DEFAULT.ep_rate == pytest.approx(24.7299, abs=1e-4)
    assert DEFAULT.ep_rate_two_frame == pytest.approx(24.0040, abs=1e-4)
    assert FilamentNetwork(dt=0.1).ep_rate_two_frame == pytest.approx(17.880, abs=1e-3)
    assert FilamentNetwork(ratio=3).ep_rate == pytest.approx(4.0708, abs=1e-4)
    assert FilamentNetwork(hot="3,3").ep_rate == pytest.approx(8.4085, abs=1e-4)
    assert FilamentNetwork(prestress=0.3).ep_rate == pytest.approx(23.248, abs=1e-3)
    # Linear EP is invariant under T -> lambda T: only the contrast matters.
    assert FilamentNetwork(tc=1.0).ep_rate == pytest.approx(DEFAULT.ep_rate, rel=1e-9)


def test_velocity_heat_and_bond_decompositions_each_sum_to_sigma():
    sigma = DEFAULT.ep_rate
    velocity, heat, bonds = DEFAULT.node_ep_density, DEFAULT.node_heat_density, DEFAULT.bond_ep
    for parts in (velocity, heat, bonds):
        assert parts.sum() == pytest.approx(sigma, abs=1e-6)
    hot = [DEFAULT.node(i, j) for i, j in DEFAULT.hot_nodes]
    assert np.all((velocity[hot] > 1.97) & (velocity[hot] < 2.02)) and velocity.min() >= 0
    assert np.all((heat[hot] > -0.93) & (heat[hot] < -0.90))
    rest = DEFAULT.rest_positions
    first_shell = np.linalg.norm(rest[:, None] - rest[hot][None], axis=-1).min(axis=1) < 1.01
    assert velocity[first_shell].sum() / sigma == pytest.approx(0.983, abs=1e-3)
    # Only the 18 bonds joining a hot node to a cold one dissipate; pinned bonds carry nothing.
    t = DEFAULT.temperatures[DEFAULT.bonds]
    unequal = t[:, 0] != t[:, 1]
    assert unequal.sum() == 18
    np.testing.assert_allclose(bonds[~unequal], 0, atol=1e-10)
    assert bonds[unequal].mean() == pytest.approx(1.374, abs=1e-3)


def test_equal_temperatures_are_equilibrium():
    eq = FilamentNetwork(ratio=1.0)
    assert eq.ep_rate == pytest.approx(0, abs=1e-10) and eq.ep_rate_two_frame == pytest.approx(0, abs=1e-10)
    np.testing.assert_allclose([eq.node_ep_density, eq.node_heat_density], 0, atol=1e-10)
    assert FilamentNetwork(hot="").ep_rate == pytest.approx(0, abs=1e-10)


def test_mean_transition_ep_of_exact_pairs_is_the_two_frame_ceiling():
    x = DEFAULT.sample(100, 300, seed=2)
    ds = DEFAULT.transition_ep(x)
    per_movie = ds.mean(axis=1)   # movies are independent; steps within one are not
    se = per_movie.std(ddof=1) / np.sqrt(len(per_movie))
    assert abs(per_movie.mean() - DEFAULT.ep_rate_two_frame * DEFAULT.dt) < 3 * se


@pytest.mark.parametrize("settings, message", [
    (dict(lattice="square"), "independent one-dimensional chains"),
    (dict(hot="0,3"), "pinned boundary"),
    (dict(hot="2,2;9,9"), "outside"),
    (dict(hot="2,2;2,2"), "twice"),
    (dict(hot="2;2"), "expected i,j"),
    (dict(prestress=1.0), "rest length"),
])
def test_invalid_networks_are_refused(settings, message):
    with pytest.raises(CneepError, match=message):
        FilamentNetwork(**settings)


def test_a_prestressed_square_lattice_couples_and_is_accepted():
    square = FilamentNetwork(lattice="square", prestress=0.2)
    assert len(square.bonds) == 2 * 8 * 7 and square.ep_rate > 0


def _centroids(frame: np.ndarray, points: np.ndarray, radius: float) -> np.ndarray:
    """Intensity centroid of `frame` within `radius` of each point (x, y)."""
    rows, cols = np.mgrid[:frame.shape[0], :frame.shape[1]]
    out = []
    for x, y in points:
        w = frame * ((cols - x) ** 2 + (rows - y) ** 2 <= radius**2)
        out.append([(w * cols).sum() / w.sum(), (w * rows).sum() / w.sum()])
    return np.array(out)


@pytest.mark.parametrize("renderer", [FilamentRenderer(dtype="uint16", peak=60000),
                                      FilamentRenderer(dtype="uint16", peak=60000, crop="10:80,20:110", binning=2)])
def test_sidecar_node_pixels_are_where_the_filaments_meet(renderer, tmp_path):
    """The nodes' pixels from the sidecar (rest position + scale x displacement) sit at the centre of the light
    around them in every frame; the rest positions alone do not (nodes move 1-3 px)."""
    movie = simulate_network(DEFAULT, renderer, movies=1, frames=5, seed=3)
    path = save_movie(movie, tmp_path / "net.tif")
    back = load_movie(path)
    frame_info = back.truth.params["frame"]
    rest = np.array(frame_info["node_pixels"])
    u = back.truth.positions[0, -1].reshape(-1, 2)
    free = DEFAULT.free
    moved = rest[free] + frame_info["px_per_unit"] * u
    h, w = back.frame_shape
    inside = np.all((moved > 3) & (moved < [w - 4, h - 4]), axis=1)
    assert inside.sum() >= 10
    frame = np.asarray(back.frames[0, -1], np.float64)
    radius = 4 / renderer.binning
    err = np.linalg.norm(_centroids(frame, moved[inside], radius) - moved[inside], axis=1)
    err_rest = np.linalg.norm(_centroids(frame, rest[free][inside], radius) - moved[inside], axis=1)
    assert err.max() < 0.3 / renderer.binning + 0.1
    assert err.mean() < 0.5 * err_rest.mean()


def test_the_rendered_frame_has_the_specified_size_and_one_intensity_scale():
    movie = simulate_network(DEFAULT, FilamentRenderer(), movies=2, frames=20, seed=1)
    assert movie.frames.shape == (2, 20, 99, 119) and movie.frames.dtype == np.uint8
    assert movie.pixel_size == pytest.approx(1 / 14) and movie.dt == 0.01
    assert movie.truth.ds.shape == (2, 19) and movie.truth.positions.shape == (2, 20, 72)
    rest = FilamentRenderer().render(DEFAULT, np.zeros((1, 72)))
    assert rest.max() == 200   # the peak, at the network at rest, in every data set
    again = simulate_network(DEFAULT, FilamentRenderer(), movies=2, frames=20, seed=1)
    np.testing.assert_array_equal(again.frames, movie.frames)


def test_a_crop_is_partial_observation_with_a_lower_ceiling():
    renderer = FilamentRenderer(crop="10:50,15:60")   # around hot node (2,2)
    movie = simulate_network(DEFAULT, renderer, movies=3, frames=200, seed=4)
    t = movie.truth
    assert movie.frames.shape[2:] == (40, 45)
    seen = t.params["frame"]["visible_free_nodes"]
    assert DEFAULT.node(2, 2) in seen and DEFAULT.node(5, 5) not in seen
    assert 0 < t.sigma_2pt < DEFAULT.ep_rate_two_frame and t.sigma == DEFAULT.ep_rate
    coords = (2 * np.searchsorted(DEFAULT.free, seen)[:, None] + np.arange(2)).ravel()
    np.testing.assert_allclose(t.ds, DEFAULT.transition_ep(t.positions[..., coords], coords))
    assert [t.sites.labels[i] for i in t.sites.hot] == ["(2,2)"]


def test_the_sidecar_rebuilds_the_truth():
    movie = network(DEFAULT, GeometricSprings(), FilamentRenderer(binning=2), Sampling(movies=1, frames=30, seed=2))
    p = movie.truth.params
    model = FilamentNetwork(**{f.name: p[f.name] for f in fields(FilamentNetwork)})
    assert model.ep_rate == movie.truth.sigma
    np.testing.assert_allclose(model.transition_ep(movie.truth.positions), movie.truth.ds)
    renderer = FilamentRenderer(**p["renderer"])
    np.testing.assert_array_equal(renderer.render(model, movie.truth.positions[0]), movie.frames[0])
    sites = movie.truth.sites
    assert sum(sites.velocity) == pytest.approx(movie.truth.sigma) and len(sites.labels) == 64
    assert sum(sites.bond_ep) == pytest.approx(movie.truth.sigma)


def test_trajectories_are_the_free_nodes_coordinates():
    tracks = network(DEFAULT, GeometricSprings(), FilamentRenderer(), Sampling(trajectories=2, frames=50, seed=2))
    assert tracks.data.shape == (2, 50, 72) and tracks.labels[:2] == ["x(1,1)", "y(1,1)"]
    movie = network(DEFAULT, GeometricSprings(), FilamentRenderer(), Sampling(movies=2, frames=50, seed=2))
    np.testing.assert_array_equal(movie.truth.positions, tracks.data)


def test_cli_simulate_network_writes_a_movie_that_info_reads(tmp_path, capsys):
    out = tmp_path / "net.tif"
    assert main(["simulate", "network", "--movies", "1", "--frames", "12", "--ratio", "3", "--hot", "3,3",
                 "--binning", "2", "-o", str(out)]) == 0
    assert "sigma = 1.3841" in capsys.readouterr().out   # the spec's single hot node at contrast 3
    assert (tmp_path / "net.truth.npz").exists()
    assert main(["info", str(out)]) == 0
    assert "1 movie(s) x 12 frames of 49x59" in capsys.readouterr().out
    movie = load_movie(out)
    assert movie.truth.sigma == pytest.approx(1.3841, abs=1e-4)
    assert main(["simulate", "network", "--lattice", "square", "--frames", "5", "-o", str(out)]) == 2
    assert "independent" in capsys.readouterr().err


def test_the_2d_renderer_keeps_light_and_places_a_spot_at_its_subpixel_position():
    from cneep_engine.synth.render2d import Renderer2D, splat
    points = np.array([[[10.3, 7.6], [-0.5, 3.0], [30.0, 4.0]]])   # the last one outside a 20 x 25 frame
    assert splat(points, (20, 25)).sum() == pytest.approx(1.5, abs=1e-6)
    r = Renderer2D(psf_sigma=1.5, crop="2:18,4:24", binning=2, dtype="uint16", peak=1000)
    spot = np.array([[[12.3, 9.6]]])
    img = r.blur(spot, (20, 25))[0]
    rows, cols = np.mgrid[:20, :25]
    assert [(img * cols).sum() / img.sum(), (img * rows).sum() / img.sum()] == pytest.approx([12.3, 9.6], abs=0.02)
    frame = r.render(spot, (20, 25), scale=img.max())[0].astype(float)
    assert frame.shape == r.recorded_shape((20, 25)) == (8, 10)
    rows, cols = np.mgrid[:8, :10]
    centre = [(frame * cols).sum() / frame.sum(), (frame * rows).sum() / frame.sum()]
    assert centre == pytest.approx(r.in_frame([12.3, 9.6]), abs=0.05)


@pytest.mark.parametrize("renderer", [FilamentRenderer(dtype="uint16", background=5.0),
                                      FilamentRenderer(crop="10:91,3:110", binning=2, dtype="uint16")])
def test_frames_rendered_in_blocks_are_the_splat_blurred_frame_by_frame(renderer):
    """Blocks of frames against the definition, one frame at a time: the splat blurred by scipy's Gaussian
    filter, scaled by the brightest pixel at rest, cropped and binned. Equal to float rounding, so each recorded
    count is the expected count rounded (uint16: nothing clipped)."""
    from scipy.ndimage import gaussian_filter
    from cneep_engine.synth.render2d import splat
    x = DEFAULT.sample(1, 40, seed=4)[0]
    shape = renderer.frame_shape(DEFAULT)
    points = renderer.emitter_pixels(DEFAULT, renderer.node_pixels(DEFAULT, x))
    y0, _, x0, _ = renderer.box or (0, 0, 0, 0)
    h, w, b = renderer.recorded_shape(shape) + (renderer.binning,)
    def blurred(frame):
        return gaussian_filter(splat(frame[None], shape)[0], renderer.psf_sigma, mode="constant")

    scale = blurred(renderer.emitter_pixels(DEFAULT, renderer.node_pixels(DEFAULT))).max()
    assert renderer.scale(DEFAULT) == pytest.approx(scale, rel=1e-6)
    expected = []
    for frame in points:
        img = renderer.background + renderer.peak * blurred(frame) / scale
        expected.append(img[y0:y0 + h * b, x0:x0 + w * b].reshape(h, b, w, b).mean(axis=(1, 3)))
    frames = renderer.render(DEFAULT, x)
    assert frames.shape == (40, h, w)
    assert np.abs(frames - np.array(expected)).max() <= 0.5 + 1e-3
    # frame by frame through the renderer too: the blocks change nothing but rounding
    one_by_one = np.array([renderer.render(DEFAULT, u) for u in x])
    assert np.abs(one_by_one.astype(int) - frames).max() <= 1


def test_a_run_on_the_network_movie_scores_its_map_against_the_hot_nodes(tmp_path):
    """The report a run gets from the truth's sites: every node, the hot fraction, and the sidecar keeps them."""
    from cneep_engine import load_movie, save_movie
    from cneep_engine.sites import score_map
    movie = network(DEFAULT, GeometricSprings(), FilamentRenderer(binning=2), Sampling(movies=1, frames=20, seed=2))
    back = load_movie(save_movie(movie, tmp_path / "net.tif"))
    assert back.truth.sites.labels == movie.truth.sites.labels
    hot = np.zeros(back.frame_shape)
    for x, y in back.truth.sites.pixels[list(back.truth.sites.hot)]:
        hot[int(round(y)), int(round(x))] = 1.0
    report = score_map(hot, back.truth.sites)
    assert report["hot_fraction"] == pytest.approx(1.0) and len(report["per_site"]) == 64
    assert report["rank_correlation"] > 0.3


def test_a_window_showing_one_node_and_none_of_its_bonds_scores_its_map():
    movie = simulate_network(DEFAULT, FilamentRenderer(crop="21:41,25:45"), movies=1, frames=3)   # hot node (2,2)
    t = movie.truth
    assert 0 < t.sigma_2pt < DEFAULT.ep_rate_two_frame   # of the nodes whose filaments reach into the window
    spot = np.zeros(movie.frame_shape)
    x, y = t.sites.pixels[0]
    spot[int(round(y)), int(round(x))] = 1.0
    report = score_map(spot, t.sites)
    assert t.sites.bond_labels == () and "per_bond" not in report
    assert [e["site"] for e in report["per_site"]] == ["(2,2)"] and report["per_site"][0]["map"] == 1.0
