"""TIFF input: stacks, ImageJ hyperstacks, OME-TIFF, BigTIFF, dtypes, metadata, laziness."""

import numpy as np
import pytest
import tifffile

from cneep_engine.errors import CneepError
from cneep_engine.io import LazyFrames, describe, load_movie
from cneep_engine.io.tiff import read_tiff


def stack(dtype, shape=(6, 12, 10), seed=0):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind == "f":
        return rng.normal(size=shape).astype(dtype)
    return rng.integers(0, np.iinfo(dtype).max, size=shape, endpoint=True).astype(dtype)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
@pytest.mark.parametrize("layout", ["imagej", "plain", "bigtiff", "zlib"])
def test_dtypes_and_layouts_read_back_exactly(tmp_path, dtype, layout):
    data = stack(dtype)
    path = tmp_path / "m.tif"
    kw = {"imagej": dict(imagej=True, metadata={"axes": "TYX"}), "plain": {}, "bigtiff": dict(bigtiff=True),
          "zlib": dict(compression="zlib")}[layout]
    tifffile.imwrite(path, data, **kw)
    movie = load_movie(path)
    assert movie.frames.shape == (1, *data.shape)
    assert movie.frames.dtype == dtype
    np.testing.assert_array_equal(np.asarray(movie.frames[0]), data)
    np.testing.assert_array_equal(movie.frames[0, 2:4, 1:5], data[2:4, 1:5])
    lazy = layout == "zlib"
    assert isinstance(movie.frames, LazyFrames) == lazy
    assert isinstance(movie.frames, np.memmap) == (not lazy)
    if layout == "bigtiff":
        assert "BigTIFF" in movie.provenance["format"]


def test_imagej_calibration_round_trip(tmp_path):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, stack(np.uint16), imagej=True, resolution=(1 / 0.125, 1 / 0.125),
                     metadata={"axes": "TYX", "unit": "um", "finterval": 0.05})
    m = load_movie(path)
    assert (m.dt, m.dt_source) == (0.05, "metadata")
    assert (m.pixel_size, m.pixel_size_source) == (0.125, "metadata")
    tifffile.imwrite(path, stack(np.uint16), imagej=True, resolution=(2, 2),
                     metadata={"axes": "TYX", "unit": "nm", "finterval": 20, "tunit": "ms"})
    m = load_movie(path)
    assert m.dt == pytest.approx(0.02) and m.pixel_size == pytest.approx(5e-4)


def test_ome_physical_size_and_time_increment_with_units(tmp_path):
    path = tmp_path / "m.ome.tif"
    tifffile.imwrite(path, stack(np.uint16), ome=True,
                     metadata={"axes": "TYX", "PhysicalSizeX": 65.0, "PhysicalSizeXUnit": "nm",
                               "PhysicalSizeY": 65.0, "PhysicalSizeYUnit": "nm",
                               "TimeIncrement": 30.0, "TimeIncrementUnit": "ms"})
    m = load_movie(path)
    assert m.provenance["format"] == "OME-TIFF"
    assert m.pixel_size == pytest.approx(0.065) and m.pixel_size_source == "metadata"
    assert m.dt == pytest.approx(0.03) and m.dt_source == "metadata"


def test_ome_plane_delta_t(tmp_path):
    path = tmp_path / "planes.ome.tif"
    n = 5
    planes = {"TheT": list(range(n)), "TheZ": [0] * n, "TheC": [0] * n,
              "DeltaT": [0.5 * t for t in range(n)], "DeltaTUnit": ["s"] * n}
    tifffile.imwrite(path, stack(np.uint8, (n, 8, 8)), ome=True,
                     metadata={"axes": "TYX", "PhysicalSizeX": 0.2, "Plane": planes})
    m = load_movie(path)
    assert m.dt == pytest.approx(0.5) and m.dt_source == "metadata"
    assert m.pixel_size == pytest.approx(0.2)


def test_hyperstack_channel_and_z_selection(tmp_path):
    data = stack(np.uint16, (5, 3, 2, 8, 9))   # T Z C Y X
    path = tmp_path / "hyper.tif"
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "TZCYX", "finterval": 2.0})
    for c in range(2):
        for z in range(3):
            m = load_movie(path, channel=c, z=z)
            np.testing.assert_array_equal(m.frames[0], data[:, z, c])
            assert (m.provenance["channel"], m.provenance["z"]) == (c, z)
    m = load_movie(path)                        # first channel and plane, and the choice is said
    np.testing.assert_array_equal(m.frames[0], data[:, 0, 0])
    info = describe(m)
    assert (info["channels"], info["z_planes"], info["frames"], info["dt"]) == (2, 3, 5, 2.0)
    assert any("channel 0" in n for n in info["notes"]) and any("z-plane 0" in n for n in info["notes"])
    for bad in (dict(channel=2), dict(z=3), dict(channel=-1)):
        with pytest.raises(CneepError, match="does not exist"):
            load_movie(path, **bad)


def test_page_reader_matches_memmap(tmp_path):
    data = stack(np.uint16, (4, 2, 10, 12))     # T C Y X
    path = tmp_path / "h.tif"
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "TCYX"})
    paged, mapped = read_tiff(path, channel=1, memmap=False), read_tiff(path, channel=1)
    assert isinstance(paged.frames, LazyFrames)
    np.testing.assert_array_equal(paged.frames[0], mapped.frames[0])
    np.testing.assert_array_equal(paged.frames[0], data[:, 1])


def test_colour_tiff_grey_or_one_channel(tmp_path):
    rgb = stack(np.uint8, (4, 8, 9, 3))
    path = tmp_path / "rgb.tif"
    tifffile.imwrite(path, rgb, photometric="rgb")
    np.testing.assert_array_equal(load_movie(path, channel=2).frames[0], rgb[..., 2])
    grey = load_movie(path).frames[0]
    assert grey.dtype == np.uint8
    np.testing.assert_allclose(grey, rgb @ np.array([0.299, 0.587, 0.114]), atol=0.51)


def test_slices_without_time_axis_are_frames(tmp_path):
    path = tmp_path / "slices.tif"
    data = stack(np.uint8, (7, 8, 8))
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "ZYX"})
    m = load_movie(path)
    assert m.n_frames == 7 and any("z-slices are read as frames" in n for n in m.provenance["notes"])


def test_our_own_movies_tag_and_sidecar_survive(tmp_path):
    from cneep_engine.io import save_movie
    from cneep_engine.movie import GroundTruth, Movie
    frames = stack(np.uint8, (3, 4, 8, 8))
    truth = GroundTruth(ds=np.arange(9.0).reshape(3, 3), sigma=1.0, sigma_2pt=0.5)
    save_movie(Movie(frames=frames, dt=0.1, pixel_size=0.2, truth=truth), tmp_path / "s.tif")
    m = load_movie(tmp_path / "s.tif")
    assert m.frames.shape == (3, 4, 8, 8) and m.dt == 0.1 and m.pixel_size == pytest.approx(0.2)
    np.testing.assert_array_equal(m.frames, frames)
    np.testing.assert_array_equal(m.truth.ds, truth.ds)
    assert m.provenance["truth"].endswith("s.truth.npz")


def _rss() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) * 1024


@pytest.mark.parametrize("memmap", [True, False])
def test_lazy_open_does_not_grow_memory_with_file_size(tmp_path, memmap):
    """A 256 MB stack: opening it and reading a few frames costs a few frames, not the file."""
    n, h, w = 1024, 256, 512
    path = tmp_path / "big.tif"
    frame = np.arange(h * w, dtype=np.uint16).reshape(h, w)
    tifffile.imwrite(path, (frame + t for t in range(n)), shape=(n, h, w), dtype=np.uint16,
                     imagej=True, metadata={"axes": "TYX", "finterval": 0.01})
    before = _rss()
    movie = read_tiff(path, memmap=memmap)
    for t in (0, 1, 500, n - 1):
        np.testing.assert_array_equal(movie.frames[0, t], frame + t)
    grown = _rss() - before
    assert path.stat().st_size > 250e6
    assert grown < 32e6, f"resident memory grew by {grown / 1e6:.0f} MB"
