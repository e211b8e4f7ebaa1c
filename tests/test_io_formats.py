"""Video (AVI, MP4), folders of numbered images and NumPy arrays, and `cneep info`."""

import json

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from cneep_engine.cli import main
from cneep_engine.errors import CneepError
from cneep_engine.io import LazyFrames, load_movie


def grey_movie(n=8, h=32, w=48):
    t, y, x = np.mgrid[:n, :h, :w]
    return ((x * 5 + y * 3 + t * 17) % 256).astype(np.uint8)


def test_lossless_grey_avi_reads_exactly_with_the_container_frame_rate(tmp_path):
    data = grey_movie()
    path = tmp_path / "g.avi"
    iio.imwrite(path, data, plugin="pyav", codec="ffv1", fps=20, in_pixel_format="gray", out_pixel_format="gray")
    m = load_movie(path)
    assert isinstance(m.frames, LazyFrames) and m.frames.shape == (1, *data.shape)
    np.testing.assert_array_equal(m.frames[0], data)
    np.testing.assert_array_equal(m.frames[0, [5, 1, 6]], data[[5, 1, 6]])   # random access, any order
    assert m.dt == pytest.approx(0.05) and m.dt_source == "metadata"
    assert m.pixel_size_source == "default"


def test_mp4_colour_channel(tmp_path):
    rgb = np.zeros((6, 32, 48, 3), np.uint8)
    rgb[..., 1] = 200                       # a green movie: green channel bright, red dark
    path = tmp_path / "c.mp4"
    iio.imwrite(path, rgb, plugin="pyav", codec="libx264", fps=12.5)
    green, red = load_movie(path, channel=1), load_movie(path, channel=0)
    assert green.frames.shape == (1, 6, 32, 48) and green.dt == pytest.approx(0.08)
    assert abs(float(np.mean(green.frames[0])) - 200) < 6 and float(np.mean(red.frames[0])) < 10
    with pytest.raises(CneepError, match="channel 3 does not exist"):
        load_movie(path, channel=3)


def test_mjpeg_avi(tmp_path):
    path = tmp_path / "m.avi"
    iio.imwrite(path, np.repeat(grey_movie()[..., None], 3, -1), plugin="pyav", codec="mjpeg", fps=10,
                out_pixel_format="yuvj420p")
    m = load_movie(path)
    assert m.frames.shape == (1, 8, 32, 48) and m.dt == pytest.approx(0.1)
    assert np.abs(m.frames[0].astype(int) - grey_movie()).mean() < 8   # lossy, but the same picture


@pytest.mark.parametrize("suffix", [".tif", ".png"])
def test_folder_of_numbered_images_in_numeric_order(tmp_path, suffix):
    data = grey_movie(n=12).astype(np.uint16) * 100
    for t in range(12):                      # frame_2 must come before frame_10
        path = tmp_path / f"frame_{t}{suffix}"
        tifffile.imwrite(path, data[t]) if suffix == ".tif" else iio.imwrite(path, data[t])
    (tmp_path / "notes.txt").write_text("acquisition notes")
    m = load_movie(tmp_path, dt=0.2)
    assert m.frames.dtype == np.uint16 and m.frames.shape == (1, 12, 32, 48)
    np.testing.assert_array_equal(m.frames[0], data)
    assert (m.dt, m.dt_source) == (0.2, "user")


def test_numpy_arrays(tmp_path):
    data = grey_movie().astype(np.float32)
    np.save(tmp_path / "a.npy", data)
    m = load_movie(tmp_path / "a.npy")
    assert isinstance(m.frames, np.memmap) and m.frames.shape == (1, 8, 32, 48)
    np.savez(tmp_path / "b.npz", frames=np.stack([data, data + 1]), other=np.zeros(3))
    m = load_movie(tmp_path / "b.npz")
    assert m.frames.shape == (2, 8, 32, 48)
    np.testing.assert_array_equal(m.frames[1], data + 1)
    np.savez(tmp_path / "c.npz", a=data, b=data)
    with pytest.raises(CneepError, match="name the movie 'frames'"):
        load_movie(tmp_path / "c.npz")


def test_user_values_override_metadata(tmp_path):
    path = tmp_path / "ij.tif"
    tifffile.imwrite(path, grey_movie(), imagej=True, resolution=(10, 10),
                     metadata={"axes": "TYX", "unit": "um", "finterval": 0.5})
    m = load_movie(path, dt=0.25, pixel_size=0.3)
    assert (m.dt, m.dt_source, m.pixel_size, m.pixel_size_source) == (0.25, "user", 0.3, "user")


def test_cneep_info_json(tmp_path, capsys):
    path = tmp_path / "hyper.tif"
    data = np.zeros((5, 3, 2, 16, 20), np.uint16)
    tifffile.imwrite(path, data, imagej=True, resolution=(4, 4),
                     metadata={"axes": "TZCYX", "unit": "um", "finterval": 0.1})
    assert main(["info", str(path), "--json", "--channel", "1"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert {k: info[k] for k in ("movies", "frames", "height", "width", "dtype", "dt", "dt_source", "pixel_size",
                                 "pixel_size_source", "channels", "z_planes")} == {
        "movies": 1, "frames": 5, "height": 16, "width": 20, "dtype": "uint16", "dt": 0.1, "dt_source": "metadata",
        "pixel_size": 0.25, "pixel_size_source": "metadata", "channels": 2, "z_planes": 3}
    assert info["file_bytes"] == path.stat().st_size
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "5 frames of 16x20 uint16" in out and "0.1 s (metadata)" in out and "z-planes 3" in out
