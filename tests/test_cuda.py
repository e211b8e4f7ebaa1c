"""On a CUDA GPU: the same numbers as on the CPU, frames kept on the GPU as stored, training and maps there.

Skipped without a GPU (CI has none); `bench/gpu_check.sh` runs them on a lent one. The other engine tests
run there too, on the GPU, since their configurations leave the device on "auto"."""

import copy

import numpy as np
import pytest
import torch

from cneep_engine import TrainConfig, train
from cneep_engine.models import CNEEP
from cneep_engine.training import Trainer
from cneep_engine.windows import WindowGather

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
GPU = torch.device("cuda")


@pytest.fixture
def strict_fp32():
    """Convolutions and matrix products in full fp32 (PyTorch lets cuDNN use TF32 for convolutions by default)."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def _pair(shape=(20, 40)):
    torch.manual_seed(0)
    cpu = CNEEP(shape, mean=40.0, std=60.0)
    gpu = CNEEP(shape, mean=40.0, std=60.0).to(GPU)
    gpu.load_state_dict(cpu.state_dict())
    x = torch.randint(0, 256, (512, 2, *shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    return cpu, gpu, x


def test_the_gpu_computes_the_cpus_ep_and_gradients(strict_fp32):
    cpu, gpu, x = _pair()
    out = []
    for model, windows in ((cpu, x), (gpu, x.to(GPU))):
        ds = model(windows)
        (torch.exp(-ds) - ds).mean().backward()
        out.append((ds.detach().cpu(), [p.grad.cpu() for p in model.parameters()]))
    torch.testing.assert_close(out[1][0], out[0][0], rtol=1e-4, atol=1e-5)
    for g_gpu, g_cpu in zip(out[1][1], out[0][1]):
        torch.testing.assert_close(g_gpu, g_cpu, rtol=1e-3, atol=1e-6)


def test_tf32_convolutions_keep_the_ep_of_a_window(tiny_movie):
    """dS is the small difference of the outputs for a window and its reverse: on consecutive frames, rounding
    inside the trunk shows up magnified. TF32 (cuDNN's default for fp32 convolutions) emulated on a CPU moved
    dS by 0.6-0.9% of its spread here, bf16 by 5-7% (docs/benchmarks.md, "Precision")."""
    torch.manual_seed(0)
    cpu = CNEEP((20, 40), mean=float(tiny_movie.frames.mean()), std=float(tiny_movie.frames.std()))
    gpu = copy.deepcopy(cpu).to(GPU)
    windows = WindowGather(tiny_movie.frames, 2, torch.device("cpu"))(torch.arange(590))
    assert torch.backends.cudnn.allow_tf32   # PyTorch's default, which training keeps
    with torch.no_grad():
        ref, fast = cpu(windows), gpu(windows.to(GPU)).cpu()
    assert float((fast - ref).std()) < 0.03 * float(ref.std())


def test_maps_sum_to_the_ep_on_the_gpu(strict_fp32):
    _, gpu, x = _pair((21, 37))
    with torch.no_grad():
        ds, ep_map = gpu.ep_and_map(x.to(GPU))
        torch.testing.assert_close(ep_map.flatten(1).sum(1), gpu(x.to(GPU)), rtol=1e-4, atol=1e-5)
    assert ds.device.type == "cuda"


def test_frames_stay_on_the_gpu_as_stored_and_windows_match_the_cpus(tiny_movie):
    gather = WindowGather(tiny_movie.frames, 3, GPU)
    assert gather.frames.device.type == "cuda" and gather.frames.dtype == torch.uint8 and not gather.streaming
    streaming = WindowGather(tiny_movie.frames, 3, GPU, budget=1024)
    starts = torch.tensor([0, 5, 400, 197, 5])
    cpu = WindowGather(tiny_movie.frames, 3, torch.device("cpu"))(starts)
    assert torch.equal(gather(starts.to(GPU)).cpu(), cpu)
    assert torch.equal(streaming(starts.to(GPU)).cpu(), cpu)


def test_training_on_the_gpu_reports_it_and_learns(tiny_movie):
    config = TrainConfig(iterations=300, eval_every=50, batch=256, channels=8, lr=3e-3, patience=0)
    assert Trainer(tiny_movie, config).device.type == "cuda"   # "auto" picks the GPU
    run = train(tiny_movie, config)
    s = run.summary
    assert s["device"].startswith("cuda") and np.isfinite(s["ep_rate"])
    np.testing.assert_allclose(run.maps.sum((1, 2)), run.ds, rtol=1e-3, atol=1e-4)
    assert s["ep_rate"] > 0 and s["truth"]["slope"] > 0, s


def test_the_model_known_estimators_train_on_the_gpu_and_hand_back_a_cpu_network(tmp_path):
    from cneep_engine import BeadSpringChain, simulate_bead_spring_trajectories
    from cneep_engine.drift_models import drift_model
    from cneep_engine.errors import CneepError
    from cneep_engine.estimators.epr_net import epr_net_fit
    from cneep_engine.estimators.model_known import ModelKnownConfig
    from cneep_engine.estimators.score import estimate_score
    from cneep_engine.windows import assign_parts

    beads = simulate_bead_spring_trajectories(BeadSpringChain(beads=2, tc=1, th=10, dt=1.0), trajectories=20,
                                              frames=500, seed=4)
    parts = assign_parts(20, 500, 0.2, 0.2, 2)
    config = TrainConfig(model="score", iterations=300, eval_every=100, batch=256, lr=3e-3)
    est = estimate_score(beads, parts, ModelKnownConfig(bootstrap=20), config, drift_model(beads))
    d = est.details
    assert d["device"].startswith("cuda") and next(est.network.parameters()).device.type == "cpu"
    assert est.rate == pytest.approx(d["exact_score_rate"], rel=0.15)   # as loose as the CPU's short fit
    assert d["bounds"]["lower"] < d["exact_score_rate"] + 3 * d["exact_score_rate_err"]
    est = epr_net_fit(beads, parts, ModelKnownConfig(), TrainConfig(model="epr-net", iterations=200, eval_every=50),
                      drift_model(beads))
    b = est.details["bounds"]
    assert est.details["device"].startswith("cuda") and b["lower"] < est.rate < b["upper"]
    # a drift file whose constants live on the CPU: one line saying how to fix it
    path = tmp_path / "cpu_drift.py"
    path.write_text("import torch\nD = [1.0, 10.0]\nA = torch.tensor([[-2.0, 1.0], [1.0, -2.0]])\n"
                    "def drift(x):\n    return x @ A.T\n")
    with pytest.raises(CneepError, match="device=x.device"):
        estimate_score(beads, parts, ModelKnownConfig(), config, drift_model(beads, str(path)))
