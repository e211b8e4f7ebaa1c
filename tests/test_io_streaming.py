"""Movies larger than the data budget stream their batches from the file and give the same windows."""

import numpy as np
import pytest
import tifffile
import torch

from cneep_engine import BeadRenderer, BeadSpringChain, TrainConfig, simulate_bead_spring, train
from cneep_engine.errors import CneepError
from cneep_engine.io import LazyFrames, load_movie, save_movie
from cneep_engine.io.tiff import read_tiff
from cneep_engine.windows import WindowGather, data_budget, frame_statistics

CPU = torch.device("cpu")


@pytest.fixture(params=["memmap", "pages"])
def lazy_movie(tmp_path, request):
    data = np.random.default_rng(0).integers(0, 65535, (30, 10, 12)).astype(np.uint16)
    kw = dict(imagej=True, metadata={"axes": "TYX"}) if request.param == "memmap" else dict(compression="zlib")
    tifffile.imwrite(tmp_path / "m.tif", data, **kw)
    movie = load_movie(tmp_path / "m.tif")
    assert isinstance(movie.frames, np.memmap if request.param == "memmap" else LazyFrames)
    return movie, data


def test_streaming_gives_the_resident_windows(lazy_movie):
    movie, data = lazy_movie
    resident = WindowGather(movie.frames, 3, CPU)
    streaming = WindowGather(movie.frames, 3, CPU, budget=1024)
    assert not resident.streaming and streaming.streaming
    starts = torch.tensor([0, 27, 5, 5, 12, 6])
    a, b = resident(starts), streaming(starts)
    assert a.dtype == b.dtype == torch.int32 and a.shape == (6, 3, 10, 12)
    assert torch.equal(a, b)
    np.testing.assert_array_equal(b[1].numpy(), data[27:30])


def test_frame_statistics_read_lazily_equal_in_memory(lazy_movie):
    movie, data = lazy_movie
    parts = np.zeros((1, 30), np.int8)
    assert frame_statistics(movie.frames, parts, samples=20) == frame_statistics(data[None], parts, samples=20)
    mean, std = frame_statistics(movie.frames, parts, samples=20, max_bytes=5 * 240)   # chunked path
    assert mean == pytest.approx(data[np.sort(np.random.default_rng(0).choice(30, 5, replace=False))].mean())


def test_budget_from_environment(monkeypatch):
    monkeypatch.setenv("CNEEP_DATA_BUDGET", "3M")
    assert data_budget(CPU) == 3 << 20
    monkeypatch.setenv("CNEEP_DATA_BUDGET", "lots")
    with pytest.raises(CneepError, match="CNEEP_DATA_BUDGET"):
        data_budget(CPU)
    monkeypatch.delenv("CNEEP_DATA_BUDGET")
    assert data_budget(CPU) > 0


def test_nan_frames_are_refused_on_either_path(tmp_path):
    data = np.ones((6, 8, 8), np.float32)
    data[4, 2, 2] = np.nan
    tifffile.imwrite(tmp_path / "nan.tif", data, imagej=True, metadata={"axes": "TYX"})
    with pytest.raises(CneepError, match="nan.tif: the frames contain NaN"):
        load_movie(tmp_path / "nan.tif")                  # small files are checked when opened
    frames = read_tiff(tmp_path / "nan.tif").frames       # larger ones when training reads them
    with pytest.raises(CneepError, match="nan.tif: the frames contain NaN"):
        WindowGather(frames, 2, CPU)
    with pytest.raises(CneepError, match="nan.tif: the frames contain NaN"):
        WindowGather(frames, 2, CPU, budget=0)(torch.tensor([3]))


def test_training_streams_when_over_budget_with_the_same_result(tmp_path, monkeypatch, caplog):
    # uint16 frames need converting (to int32), so over budget they stream; see below for uint8 on a CPU.
    movie = simulate_bead_spring(BeadSpringChain(), BeadRenderer(cell=12, psf_sigma=2.0, dtype="uint16"), movies=2,
                                 frames=150, seed=2)
    path = save_movie(movie, tmp_path / "beads.tif")
    cfg = TrainConfig(iterations=6, eval_every=3, batch=16, channels=4, depth=1)
    resident = train(load_movie(path), cfg)
    monkeypatch.setenv("CNEEP_DATA_BUDGET", "4K")
    with caplog.at_level("INFO", logger="cneep_engine.windows"):
        streamed = train(load_movie(path), cfg)
    assert "streaming batches" in caplog.text
    assert streamed.summary["ep_rate"] == resident.summary["ep_rate"]
    np.testing.assert_array_equal(streamed.ds, resident.ds)


def test_uint8_memmap_on_the_cpu_is_indexed_in_place(tmp_path, monkeypatch):
    movie = simulate_bead_spring(BeadSpringChain(), BeadRenderer(cell=12, psf_sigma=2.0), movies=2, frames=50, seed=2)
    frames = load_movie(save_movie(movie, tmp_path / "beads.tif")).frames
    assert isinstance(frames, np.memmap) and frames.dtype == np.uint8
    monkeypatch.setenv("CNEEP_DATA_BUDGET", "4K")      # no copy, so no budget to exceed
    gather = WindowGather(frames, 2, CPU)
    assert not gather.streaming and gather.frames.data_ptr() == frames.ctypes.data   # no second copy
    np.testing.assert_array_equal(gather(torch.tensor([0, 60]))[1].numpy(), movie.frames[1, 10:12])
