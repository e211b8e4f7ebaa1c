"""Bad input: one clear line naming the file and the problem, never a crash, never a changed file."""

import hashlib

import av
import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from cneep_engine.cli import main
from cneep_engine.errors import CneepError
from cneep_engine.io import load_movie


def digest(path):
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    return [hashlib.sha256(f.read_bytes()).hexdigest() for f in files]


def expect_error(path, match, **options):
    """load_movie fails with a one-line message naming `path`, and leaves the bytes as they were."""
    before = digest(path)
    with pytest.raises(CneepError) as err:
        load_movie(path, **options)
    message = str(err.value)
    assert str(path) in message and "\n" not in message
    assert match in message, message
    assert digest(path) == before
    return message


def tiff_bytes(tmp_path, **kw):
    src = tmp_path / "src.tif"
    tifffile.imwrite(src, np.arange(6 * 64 * 64, dtype=np.uint16).reshape(6, 64, 64), **kw)
    data = src.read_bytes()
    src.unlink()
    return data


@pytest.mark.parametrize("kw", [dict(imagej=True, metadata={"axes": "TYX"}), dict(compression="zlib")])
@pytest.mark.parametrize("keep", [0.5, 0.97])
def test_truncated_tiff(tmp_path, kw, keep):
    data = tiff_bytes(tmp_path, **kw)
    path = tmp_path / "cut.tif"
    path.write_bytes(data[:int(len(data) * keep)])
    expect_error(path, "TIFF")


def test_corrupt_tiff_header_and_data(tmp_path):
    data = bytearray(tiff_bytes(tmp_path, compression="zlib"))
    path = tmp_path / "corrupt.tif"
    path.write_bytes(bytes(data[:4]) + b"\xff\xff\xff\x7f" + bytes(data[8:]))   # first IFD offset far away
    expect_error(path, "TIFF")
    data[len(data) // 2: len(data) // 2 + 4000] = b"\x00" * 4000                 # zeroed compressed strips
    path.write_bytes(bytes(data))
    expect_error(path, "TIFF")


def test_empty_file_and_text_named_tif(tmp_path):
    empty = tmp_path / "empty.tif"
    empty.write_bytes(b"")
    expect_error(empty, "empty")
    text = tmp_path / "notes.tif"
    text.write_text("exposure 10 ms, 488 nm laser\n" * 10)
    expect_error(text, "not a readable TIFF")


def test_avi_with_no_frames(tmp_path):
    path = tmp_path / "none.avi"
    container = av.open(str(path), "w")
    stream = container.add_stream("ffv1", rate=10)
    stream.width, stream.height, stream.pix_fmt = 32, 16, "gray"
    container.start_encoding()
    container.close()
    expect_error(path, "no frames")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(b"\x00\x01" * 500)
    expect_error(garbage, "not a readable video")


def test_folder_frames_of_different_sizes(tmp_path):
    for t in range(3):
        iio.imwrite(tmp_path / f"img{t:03d}.png", np.zeros((16, 16 + (t == 2)), np.uint8))
    message = expect_error(tmp_path, "differs from the first frame")
    assert "img002.png" in message
    (tmp_path / "empty").mkdir()
    expect_error(tmp_path / "empty", "holds no .tif")


@pytest.mark.parametrize("kind", ["tif", "npy", "png-folder", "avi"])
def test_single_frame_movie(tmp_path, kind):
    frame = np.zeros((16, 16), np.uint8)
    if kind == "tif":
        path = tmp_path / "one.tif"
        tifffile.imwrite(path, frame)
    elif kind == "npy":
        path = tmp_path / "one.npy"
        np.save(path, frame[None])
    elif kind == "avi":
        path = tmp_path / "one.avi"
        iio.imwrite(path, frame[None], plugin="pyav", codec="ffv1", fps=5, in_pixel_format="gray",
                    out_pixel_format="gray")
    else:
        path = tmp_path
        iio.imwrite(path / "a1.png", frame)
    expect_error(path, "frame")


def test_missing_metadata_falls_back_and_says_so(tmp_path):
    path = tmp_path / "bare.tif"
    tifffile.imwrite(path, np.zeros((4, 8, 8), np.uint8), metadata=None, photometric="minisblack")
    before = digest(path)
    m = load_movie(path, default_dt=0.5)
    assert (m.dt, m.dt_source, m.pixel_size, m.pixel_size_source) == (0.5, "default", 1.0, "default")
    notes = " ".join(m.provenance["notes"])
    assert "no frame interval" in notes and "no pixel size" in notes
    assert digest(path) == before


def test_unknown_suffix_missing_file_and_bad_options(tmp_path):
    odd = tmp_path / "movie.czi"
    odd.write_bytes(b"ZISRAWFILE")
    expect_error(odd, "unsupported file type")
    with pytest.raises(CneepError, match="no such file"):
        load_movie(tmp_path / "absent.tif")
    path = tmp_path / "ok.tif"
    tifffile.imwrite(path, np.zeros((4, 8, 8), np.uint8), photometric="minisblack")
    expect_error(path, "has no channels", channel=1)
    expect_error(path, "has no z-planes", z=2)
    expect_error(path, "outside", crop=(0, 9, 0, 4))
    expect_error(path, "outside", time_range=(3, 9))
    expect_error(path, "cannot make 3 movies", split_into=3)


def test_cli_reports_one_line_and_exit_code_2(tmp_path, capsys):
    path = tmp_path / "bad.tif"
    path.write_text("not an image")
    assert main(["info", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cneep: error: ") and str(path) in err and "\n" not in err
