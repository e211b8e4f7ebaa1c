"""The CNEEP network: published shape, exact antisymmetry, the map-sum identity, checkpoints."""

import numpy as np
import pytest
import torch

from cneep_engine import maps as maps_module
from cneep_engine.maps import time_average, upsample
from cneep_engine.models import CNEEP, CNEEPConfig
from cneep_engine.training import load_checkpoint, save_checkpoint


def _windows(seq_len, shape=(20, 40), n=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, seq_len, *shape), dtype=torch.uint8, generator=g)


def test_default_network_is_the_published_one():
    model = CNEEP((20, 40))
    assert model.feature_shape == (64, 5, 10)
    assert sum(p.numel() for p in model.parameters()) == 32_577


@pytest.mark.parametrize("depth,shape", [(1, (16, 16)), (2, (21, 37)), (3, (32, 48))])
def test_the_faster_layer_order_computes_the_published_network(depth, shape):
    """Our trunk pools before the ReLU, in place, channels-last on a CPU; the published one applies ReLU,
    then max-pool, in NCHW. Same convolutions, so the same dS and the same gradients, and checkpoints keep
    the published keys."""
    torch.manual_seed(3)
    model = CNEEP(shape, CNEEPConfig(depth=depth, channels=8), mean=40.0, std=60.0)
    published = model.published_trunk()
    names = [type(m).__name__ for m in published]
    assert names.count("MaxPool2d") == depth - 1
    assert all(names[i - 1] == "ReLU" for i, name in enumerate(names) if name == "MaxPool2d")
    assert not any(getattr(m, "inplace", False) for m in published)
    x = _windows(2, shape, n=32)

    def published_ds():
        z = (x.float() - model.mean) / model.std
        h = [model.head(published(w).flatten(1)).squeeze(-1) for w in (z, z.flip(1))]
        return h[0] - h[1]

    grads = []
    for ds in (model, lambda _: published_ds()):
        model.zero_grad()
        out = ds(x)
        (torch.exp(-out) - out).mean().backward()
        grads.append((out.detach(), [p.grad.clone() for p in model.parameters()]))
    torch.testing.assert_close(grads[0][0], grads[1][0], rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(grads[0][1], grads[1][1]):
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-5)
    convs = [f"trunk.{i}.weight" for i, m in enumerate(published) if isinstance(m, torch.nn.Conv2d)]
    assert convs == [k for k in model.state_dict() if k.startswith("trunk") and k.endswith("weight")]
    assert convs[:3] == ["trunk.0.weight", "trunk.3.weight", "trunk.5.weight"][:len(convs)]


@pytest.mark.parametrize("seq_len,depth,shape", [(2, 2, (20, 40)), (3, 1, (16, 16)), (4, 3, (32, 48)), (2, 2, (21, 37))])
def test_output_is_exactly_odd_under_time_reversal(seq_len, depth, shape):
    torch.manual_seed(0)
    model = CNEEP(shape, CNEEPConfig(seq_len=seq_len, depth=depth, channels=8), mean=40.0, std=60.0)
    x = _windows(seq_len, shape)
    ds = model(x)
    assert torch.equal(model(x.flip(1)), -ds)
    assert ds.abs().min() > 0  # not trivially zero
    if seq_len == 3:  # a window that reads the same backwards produces no entropy
        assert torch.equal(model(x[:, [0, 1, 0]]), torch.zeros(len(x)))


@pytest.mark.parametrize("seq_len,shape", [(2, (20, 40)), (3, (22, 30))])
def test_dissipation_map_sums_to_the_predicted_ep(seq_len, shape):
    torch.manual_seed(1)
    model = CNEEP(shape, CNEEPConfig(seq_len=seq_len), mean=30.0, std=50.0)
    x = _windows(seq_len, shape)
    ds, maps = model.ep_and_map(x)
    assert maps.shape == (len(x), *model.feature_shape[1:])
    torch.testing.assert_close(maps.sum((1, 2)), model(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(ds, model(x), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(model.ep_and_map(x.flip(1))[1], -maps)


@pytest.mark.parametrize("feature,frame", [((5, 10), (20, 40)), ((6, 8), (21, 37)), ((3, 3), (3, 3))])
def test_upsampling_keeps_the_sum_and_is_piecewise_constant(feature, frame, rng):
    maps = rng.normal(size=(4, *feature)).astype(np.float32)
    up = upsample(maps, frame)
    assert up.shape == (4, *frame)
    np.testing.assert_allclose(up.sum((1, 2)), maps.sum((1, 2)), rtol=1e-5)
    if frame == (20, 40):
        np.testing.assert_allclose(up[:, :4, :4], maps[:, :1, :1] / 16 * np.ones((1, 4, 4)), rtol=1e-6)


def test_time_average_is_a_rate_density(rng, monkeypatch):
    maps = rng.normal(size=(10, 2, 3)).astype(np.float32)
    select = np.arange(10) % 2 == 0
    avg = time_average(maps, select, per_time=0.5)
    np.testing.assert_allclose(avg.sum(), maps[select].sum((1, 2)).mean() / 0.5, rtol=1e-5)
    monkeypatch.setattr(maps_module, "CHUNK", 2)   # summed a few windows at a time, as for long runs
    np.testing.assert_allclose(time_average(maps, select, per_time=0.5), avg, rtol=1e-6)


def test_checkpoint_round_trip_keeps_weights_and_normalisation(tmp_path):
    torch.manual_seed(2)
    model = CNEEP((20, 40), CNEEPConfig(seq_len=3, channels=4), mean=12.5, std=33.0)
    save_checkpoint(model, tmp_path / "m.pt", seed=7)
    loaded = load_checkpoint(tmp_path / "m.pt")
    x = _windows(3)
    torch.testing.assert_close(loaded(x), model(x))
    assert float(loaded.mean) == 12.5 and loaded.config.seq_len == 3


def test_frames_too_small_for_the_depth_are_refused():
    with pytest.raises(ValueError, match="too small"):
        CNEEP((6, 6), CNEEPConfig(depth=3))
