"""Synthetic data against exact answers: closed forms, independent derivations, sampling statistics."""

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from cneep_engine import BeadRenderer, BeadSpringChain, CneepError, simulate_bead_spring


@pytest.mark.parametrize("tc,th,k,gamma", [(1, 10, 1, 1), (1, 2, 1, 1), (1, 5, 1, 1), (2, 7, 3, 0.5)])
def test_two_beads_rate_matches_closed_form(tc, th, k, gamma):
    chain = BeadSpringChain(beads=2, tc=tc, th=th, k=k, gamma=gamma)
    assert chain.ep_rate == pytest.approx(k * (th - tc) ** 2 / (4 * gamma * tc * th), rel=1e-10)


@pytest.mark.parametrize("tc,th,k,gamma", [(1, 10, 1, 1), (2, 3, 1, 2), (0.5, 4, 2, 1)])
def test_five_beads_rate_matches_closed_form(tc, th, k, gamma):
    exact = (k * (th - tc) ** 2 * (111 * tc**2 + 430 * tc * th + 111 * th**2)
             / (495 * gamma * tc * th * (3 * tc + th) * (tc + 3 * th)))
    assert BeadSpringChain(beads=5, tc=tc, th=th, k=k, gamma=gamma).ep_rate == pytest.approx(exact, rel=1e-10)


@pytest.mark.parametrize("beads,tc", [(8, 0.416997), (16, 0.20768), (64, 0.05171), (128, 0.02583)])
def test_long_chains_at_the_neep_papers_temperatures_have_unit_rate(beads, tc):
    assert BeadSpringChain(beads=beads, tc=tc, th=10).ep_rate == pytest.approx(1.0, abs=5e-4)


def test_stationary_covariance_solves_lyapunov_and_matches_closed_form():
    chain = BeadSpringChain(beads=6, tc=1, th=4, k=2, gamma=3)
    a, c, d = chain.drift, chain.covariance, chain.diffusion
    np.testing.assert_allclose(a @ c + c @ a.T + 2 * d, 0, atol=1e-12)
    tc, th = 1, 10
    np.testing.assert_allclose(BeadSpringChain(tc=tc, th=th).covariance,
                               [[(7 * tc + th) / 12, (tc + th) / 6], [(tc + th) / 6, (tc + 7 * th) / 12]])


def test_two_frame_ceiling_is_below_sigma_and_tends_to_it():
    ceilings = [BeadSpringChain(dt=dt).ep_rate_two_frame for dt in (1e-4, 1e-3, 1e-2, 1e-1, 1.0)]
    assert np.all(np.diff(ceilings) < 0)
    assert ceilings[0] == pytest.approx(2.025, rel=1e-3)
    # Values quoted in the literature notes: 1.985 at dt = 0.01, 80.8% and 6.5% of sigma at 0.1 and 1.
    assert ceilings[2] == pytest.approx(1.985, abs=5e-4)
    assert ceilings[3] / 2.025 == pytest.approx(0.808, abs=1e-3)
    assert ceilings[4] / 2.025 == pytest.approx(0.065, abs=1e-3)


def test_transition_ep_is_the_log_ratio_of_forward_and_reverse_path_densities(rng):
    chain = BeadSpringChain(beads=3, tc=1, th=6, dt=0.05)
    c, e = chain.covariance, chain.propagator
    q = c - e @ c @ e.T
    x, y = rng.normal(size=(2, 20, 3)) * 2
    stat, step = multivariate_normal(cov=c), lambda a, b: multivariate_normal(mean=e @ a, cov=q).logpdf(b)
    expected = [stat.logpdf(a) + step(a, b) - stat.logpdf(b) - step(b, a) for a, b in zip(x, y)]
    got = chain.transition_ep(np.stack([x, y], axis=1))[:, 0]
    np.testing.assert_allclose(got, expected, rtol=1e-8, atol=1e-10)


def test_mean_transition_ep_of_sampled_pairs_is_the_two_frame_ceiling():
    chain = BeadSpringChain(dt=0.05)
    pairs = chain.sample(200_000, 2, seed=7)  # independent stationary pairs: plain standard error
    ds = chain.transition_ep(pairs)[:, 0]
    se = ds.std() / np.sqrt(ds.size)
    assert abs(ds.mean() - chain.ep_rate_two_frame * chain.dt) < 4 * se


def test_exact_propagator_reproduces_stationary_and_lag_covariances():
    chain = BeadSpringChain(beads=3, tc=1, th=5, dt=0.1)
    x = chain.sample(4000, 30, seed=1)
    first, last = x[:, 0], x[:, -1]
    tol = 4 * np.sqrt(2 / 4000) * chain.covariance.max()
    np.testing.assert_allclose(np.cov(last.T), chain.covariance, atol=tol)
    np.testing.assert_allclose(np.cov(first.T), chain.covariance, atol=tol)
    lag = (x[:, 1:].reshape(-1, 3).T @ x[:, :-1].reshape(-1, 3)) / (4000 * 29)
    np.testing.assert_allclose(lag, chain.propagator @ chain.covariance, atol=tol / 3)


def test_per_bead_density_sums_to_sigma_and_matches_reference_values():
    np.testing.assert_allclose(BeadSpringChain().ep_density, [1.4284, 0.5966], atol=1e-4)
    chain = BeadSpringChain(beads=5)
    assert chain.ep_density.sum() == pytest.approx(chain.ep_rate, rel=1e-10)
    assert (chain.ep_density >= 0).all()


@pytest.mark.parametrize("beads", [2, 3, 5])
def test_equal_temperatures_are_equilibrium(beads):
    chain = BeadSpringChain(beads=beads, tc=4, th=4)
    # exactly 0 (not a rounding residue of 1e-15, shown as a rate), whatever the CPU
    assert chain.ep_rate == 0.0 and chain.ep_rate_two_frame == 0.0
    assert np.abs(chain.transition_ep(chain.sample(5, 50, seed=0))).max() < 1e-8


def test_invalid_chains_are_refused():
    with pytest.raises(CneepError, match="--beads .* at least 2, not 1"):
        BeadSpringChain(beads=1)
    with pytest.raises(CneepError, match="--tc .* above 0, not 0"):
        BeadSpringChain(tc=0)
    with pytest.raises(CneepError, match="--binning 5 is larger than the bead cell"):
        BeadRenderer(cell=4, binning=5)


def _centroid_x(img):
    cols = np.arange(img.shape[-1])
    return (img.sum(axis=-2) * cols).sum(-1) / img.sum(axis=(-2, -1))


def test_renderer_puts_beads_at_rest_positions_and_moves_them_on_one_pixel_scale():
    r = BeadRenderer(cell=20, pixel_size=0.5, psf_sigma=2.0, dtype="uint16", peak=1000)
    frame = r.expected_counts(np.array([0.0, 0.0]))
    assert frame.shape == (20, 40) == r.frame_shape(2)
    assert np.unravel_index(frame[:, :20].argmax(), (20, 20)) == (10, 10)
    assert frame.max() == pytest.approx(1000, rel=1e-4)
    # A displacement of 1.3 um at 0.5 um per pixel moves the (isolated) left bead by 2.6 px.
    moved = r.expected_counts(np.array([1.3, 0.0]))
    assert _centroid_x(moved[:, :20]) - _centroid_x(frame[:, :20]) == pytest.approx(2.6, abs=0.02)


def test_renderer_binning_noise_and_dtype():
    pos = np.zeros((50, 2))
    clean = BeadRenderer(binning=2, background=100, peak=1000, dtype="uint16").render(pos)
    assert clean.shape == (50, 10, 20) and clean.dtype == np.uint16
    assert clean.min() == 100
    noisy = BeadRenderer(binning=2, background=100, peak=1000, dtype="uint16", poisson=True,
                         read_noise=3).render(pos, seed=1)
    assert not np.array_equal(noisy, clean)
    assert noisy.astype(float).mean() == pytest.approx(clean.astype(float).mean(), rel=0.01)
    assert BeadRenderer().render(pos).max() == 255  # uint8 clips overlapping or bright beads


def test_simulated_movie_carries_consistent_truth_and_is_reproducible():
    m = simulate_bead_spring(BeadSpringChain(beads=3), BeadRenderer(binning=2), movies=2, frames=40, seed=5)
    assert m.frames.shape == (2, 40, 10, 30) and m.frames.dtype == np.uint8
    assert m.truth.ds.shape == (2, 39) and m.truth.positions.shape == (2, 40, 3)
    assert m.pixel_size == 2.0 and m.dt == 0.01
    np.testing.assert_allclose(m.truth.ds, BeadSpringChain(beads=3).transition_ep(m.truth.positions))
    again = simulate_bead_spring(BeadSpringChain(beads=3), BeadRenderer(binning=2), movies=2, frames=40, seed=5)
    np.testing.assert_array_equal(again.frames, m.frames)
    other = simulate_bead_spring(BeadSpringChain(beads=3), BeadRenderer(binning=2), movies=2, frames=40, seed=6)
    assert not np.array_equal(other.frames, m.frames)


def test_partial_observation_of_a_linear_system_is_its_covariance_block():
    """Seeing part of the chain: the exact ceiling is the KL of the seen coordinates' pairs, below the full one
    (0 for one coordinate: a scalar stationary Gaussian process is reversible), and the per-transition EP of what
    is seen averages to it."""
    from cneep_engine.synth import BeadSpringChain
    chain = BeadSpringChain(beads=3, dt=0.05)
    assert chain.two_frame_rate() == pytest.approx(chain.ep_rate_two_frame)
    assert chain.two_frame_rate([0, 1, 2]) == pytest.approx(chain.ep_rate_two_frame)
    assert chain.two_frame_rate([0]) == pytest.approx(0, abs=1e-9)
    seen = chain.two_frame_rate([0, 2])
    assert 0.01 * chain.ep_rate_two_frame < seen < chain.ep_rate_two_frame
    x = chain.sample(200, 500, seed=3)[..., [0, 2]]
    ds = chain.transition_ep(x, observed=[0, 2])
    assert ds.mean() / chain.dt == pytest.approx(seen, abs=4 * ds.std() / np.sqrt(ds.size) / chain.dt)
