"""Figures of the overlay: enlarged smoothly, the colour bar on the overlay's colour range and labelled in EP per
µm² (or per pixel), a scale bar of a round length in µm; written as PNG, TIFF and movies; `cneep export`."""

import imageio.v3 as iio
import numpy as np
import pytest
import tifffile

from cneep_engine import Movie
from cneep_engine.cli import main
from cneep_engine.export import diverging_lut, lut_index, map_limits, save_run, write_image, write_overlay_movie
from cneep_engine.figure import figure_renderer, known_pixel_size, render_figure, resample, round_length
from cneep_engine.io import Preprocess, prepare

LUT = diverging_lut()[:, :3].astype(int)
STEP = np.abs(np.diff(LUT, axis=0)).max()       # the largest change between neighbouring table rows


def test_small_frames_are_enlarged_to_512_pixels_on_the_long_side():
    fig = render_figure(np.zeros((20, 40)), np.zeros((20, 40)), (0, 1), 1.0)
    x0, y0, x1, y1 = fig.image
    assert (x1 - x0, y1 - y0) == (512, 256) and fig.scale == pytest.approx(12.8)
    assert fig.rgb.shape[1] > 512 and fig.rgb.dtype == np.uint8
    big = render_figure(np.zeros((600, 800)), None, (0, 1), 1.0)
    assert big.scale == 1 and big.image[2] - big.image[0] == 800           # large frames stay native
    assert render_figure(np.zeros((20, 40)), None, (0, 1), 1.0, scale=3).image[2:] == (fig.image[0] + 120,
                                                                                       fig.image[1] + 60)


def test_enlarging_is_smooth_and_keeps_values():
    step = np.array([[0.0, 1.0]])
    up = resample(step, (1, 8))[0]
    assert up[0] == 0 and up[-1] == 1 and np.all(np.diff(up) >= 0) and 0 < up[3] < 1   # a ramp, not a jump
    assert np.allclose(resample(np.full((3, 5), 7.0), (30, 50)), 7.0)
    assert resample(np.array([[1.0, 3.0], [5.0, 7.0]]), (2, 2)).tolist() == [[1, 3], [5, 7]]   # native size: unchanged


@pytest.mark.parametrize("pixel_size, unit", [(0.2, "EP rate (k_B/s per µm²)"), (None, "EP rate (k_B/s per pixel)")])
def test_colour_bar_shows_the_overlay_colours_at_the_labelled_values(pixel_size, unit):
    limit = 0.37                                    # map values (per pixel) from -limit to +limit span the table
    fig = render_figure(np.zeros((20, 40)), np.zeros((20, 40)), (0, 1), limit, pixel_size=pixel_size)
    assert fig.unit == unit
    per_unit = pixel_size ** 2 if pixel_size else 1.0
    values = [v for v, _ in fig.ticks]
    assert 0 in values and max(values) == -min(values) and 5 <= len(values) <= 11
    assert limit / 2 < max(values) * per_unit <= limit        # the labels span most of the bar
    x0, y0, x1, y1 = fig.colour_bar
    assert (y0, y1) == fig.image[1::2]                        # as tall as the image
    for value, row in fig.ticks:
        colour = fig.rgb[row, (x0 + x1) // 2].astype(int)
        expected = LUT[lut_index(value * per_unit, -limit, limit)]
        assert np.abs(colour - expected).max() <= STEP, (value, colour, expected)
    assert fig.rgb[y0, x0, 0] > 150 and fig.rgb[y1 - 1, x0, 2] > 150   # hot at the top, cold at the bottom


def test_scale_bar_is_a_round_length_drawn_to_scale():
    for pixel_size, scale in ((0.2, None), (0.13, 3.0), (1.7, 12.0)):
        fig = render_figure(np.zeros((20, 40)), None, (0, 1), 1.0, pixel_size=pixel_size, scale=scale)
        um, x0, y0, x1, y1 = fig.scale_bar
        mantissa = um / 10 ** np.floor(np.log10(um))
        assert np.isclose(mantissa, [1, 2, 5]).any()
        width_um = 40 * pixel_size
        assert width_um / 10 < um < width_um / 2.5                   # about a fifth of the width
        row = fig.rgb[(y0 + y1) // 2]
        white = np.all(row == 255, axis=1)
        start = x0
        end = start + np.argmin(white[start:])                       # the white run that starts at the bar
        assert white[start - 1] == 0 and end - start == round(um / pixel_size * fig.scale)
    assert render_figure(np.zeros((20, 40)), None, (0, 1), 1.0).scale_bar is None   # no pixel size, no scale bar


def test_a_binned_movie_has_a_known_pixel_size_only_when_the_unbinned_one_had():
    frames = np.zeros((1, 4, 20, 40), np.uint8)
    unknown = Movie(frames=frames, dt=0.1)                                   # the default 1 µm, not in the file
    measured = Movie(frames=frames, dt=0.1, pixel_size=0.2, pixel_size_source="metadata")
    assert known_pixel_size(unknown) is None and known_pixel_size(measured) == 0.2
    assert known_pixel_size(prepare(unknown, Preprocess(bin=2))) is None    # 2 µm, but nobody measured it
    assert known_pixel_size(prepare(measured, Preprocess(bin=2))) == pytest.approx(0.4)


def test_round_lengths():
    assert [round_length(x) for x in (0.9, 1.6, 3.0, 4.0, 6.0, 7.5, 140)] == [1, 2, 2, 5, 5, 10, 100]


def test_figures_round_trip_as_tiff_png_and_movies(toy_run, tiny_movie, tmp_path):
    render = figure_renderer(tiny_movie.frames, toy_run, False, (0, 255), 2.0, pixel_size=0.5)
    figs = [render(2, t).rgb for t in range(6)]
    assert figs[0].shape == figs[5].shape and not np.array_equal(figs[0], figs[5])
    for name in ("f.tif", "f.png"):
        assert np.array_equal(iio.imread(write_image(figs[3], tmp_path / name)), figs[3])
    assert tifffile.TiffFile(tmp_path / "f.tif").pages[0].photometric == tifffile.PHOTOMETRIC.RGB
    avi = iio.imread(write_overlay_movie(tmp_path / "f.avi", figs, fps=5), plugin="pyav")
    assert np.array_equal(avi, np.stack(figs))                # lossless
    mp4 = iio.imread(write_overlay_movie(tmp_path / "f.mp4", figs, fps=5), plugin="pyav")
    h, w, _ = figs[0].shape
    assert mp4.shape == (6, h + h % 2, w + w % 2, 3)
    assert np.abs(mp4[:, :h, :w].astype(int) - np.stack(figs)).mean() < 6     # H.264: close, not exact
    with pytest.raises(Exception, match=r"f\.gif: images are written as \.png, \.tif or \.tiff"):
        write_image(figs[0], tmp_path / "f.gif")


def test_the_hot_columns_of_the_map_are_red_in_the_figure(toy_run, tiny_movie):
    limit = map_limits(toy_run)[0]
    fig = figure_renderer(tiny_movie.frames, toy_run, False, (0, 255), limit, opacity=1.0)(2, 4)
    x0, y0, x1, y1 = fig.image
    hot = fig.rgb[(y0 + y1) // 2, x0 + 2 * (x1 - x0) // 40]   # frame column 2: feature column 0, dissipating
    cold = fig.rgb[(y0 + y1) // 2, x0 + 37 * (x1 - x0) // 40]
    assert hot[0] > 150 and hot[2] < 100 and cold[2] > cold[0] + 50


def test_cneep_export_draws_a_saved_run(toy_run, tiny_movie, tmp_path, capsys):
    save_run(toy_run, tiny_movie, tmp_path / "run")
    assert main(["export", str(tmp_path / "run"), "-o", str(tmp_path / "fig.png"), "--frame", "4", "--movie",
                 "2"]) == 0
    png = iio.imread(tmp_path / "fig.png")
    assert max(png.shape[:2]) >= 512
    assert main(["export", str(tmp_path / "run"), "-o", str(tmp_path / "mean.tif"), "--mean", "--scale", "4"]) == 0
    assert tifffile.imread(tmp_path / "mean.tif").shape[0] >= 80
    assert main(["export", str(tmp_path / "run"), "-o", str(tmp_path / "m.mp4"), "--movie", "1", "-q"]) == 0
    assert iio.improps(tmp_path / "m.mp4", plugin="pyav").shape[0] == tiny_movie.n_frames
    assert main(["export", str(tmp_path / "run"), "-o", str(tmp_path / "x.png"), "--frame", "999"]) == 2
    assert "no frame 999 of movie 0" in capsys.readouterr().err
