"""Trajectory files: CSV, .npy and .npz round trips, what CSV layouts mean, one-line errors, the CLI."""

import json

import numpy as np
import pytest

from cneep_engine import (BeadSpringChain, CneepError, FlashingRatchet, load_input, load_trajectories,
                          save_trajectories, simulate_bead_spring_trajectories, simulate_ratchet)
from cneep_engine.cli import main
from cneep_engine.io import is_trajectory_file


@pytest.fixture(scope="module")
def beads():
    return simulate_bead_spring_trajectories(BeadSpringChain(beads=3), trajectories=3, frames=50, seed=1)


@pytest.mark.parametrize("suffix", ["csv", "npy", "npz"])
def test_coordinates_round_trip_with_dt_and_truth(beads, tmp_path, suffix):
    path = save_trajectories(beads, tmp_path / f"beads.{suffix}")
    back = load_trajectories(path)
    assert back.kind == "coordinates" and back.data.shape == (3, 50, 3)
    np.testing.assert_array_equal(back.data, beads.data)
    assert back.dt == pytest.approx(0.01) and back.dt_source == "metadata" and back.labels == ["x1", "x2", "x3"]
    np.testing.assert_array_equal(back.truth.ds, beads.truth.ds)
    assert is_trajectory_file(path)   # for a 3-D .npy, thanks to its sidecar


@pytest.mark.parametrize("suffix", ["csv", "npy", "npz"])
def test_states_round_trip(tmp_path, suffix):
    states = simulate_ratchet(trajectories=2, steps=40, partial=True, seed=3)
    back = load_trajectories(save_trajectories(states, tmp_path / f"r.{suffix}"))
    assert back.kind == "states" and back.n_states == 3
    np.testing.assert_array_equal(back.data, states.data)
    assert back.truth.sigma == pytest.approx(0.21307, abs=1e-5)


def test_state_labels_are_kept_and_renumbered(tmp_path):
    path = tmp_path / "motor.csv"
    path.write_text("state\n" + "\n".join(str(v) for v in [5, -1, 9, 9, 5, -1]) + "\n")
    t = load_trajectories(path)
    assert t.kind == "states" and t.labels == [-1, 5, 9] and t.data.tolist() == [[1, 0, 2, 2, 1, 0]]
    again = load_trajectories(save_trajectories(t, tmp_path / "again.csv"))
    assert again.labels == [-1, 5, 9] and again.data.tolist() == t.data.tolist()


def test_csv_tracks_interleaved_by_frame_are_regrouped(tmp_path):
    # trackpy-style: rows sorted by frame, particles interleaved, extra columns kept as coordinates
    path = tmp_path / "tracks.csv"
    rows = ["frame,x,y,particle"] + [f"{t},{t + 0.5 * p},{-t},{p}" for t in range(4) for p in (7, 3)]
    path.write_text("\n".join(reversed(rows[1:])).join([rows[0] + "\n", "\n"]))   # even out of order
    t = load_trajectories(path)
    assert sorted(t.provenance["ids"]) == ["3", "7"]
    i = t.provenance["ids"].index("7")
    np.testing.assert_array_equal(t.data[i, :, 0], [3.5, 4.5, 5.5, 6.5])
    np.testing.assert_array_equal(t.data[i, :, 1], [0, -1, -2, -3])
    assert t.labels == ["x", "y"] and t.dt_source == "default"


def test_headerless_csv_is_one_trajectory_of_coordinates(tmp_path):
    path = tmp_path / "plain.csv"
    path.write_text("0.1,0.2\n0.3,0.4\n0.5,0.7\n")
    t = load_trajectories(path, dt=0.5)
    assert t.data.shape == (1, 3, 2) and (t.dt, t.dt_source) == (0.5, "user")


def test_tracks_of_unequal_length_are_cut_with_a_note(tmp_path):
    path = tmp_path / "uneven.csv"
    path.write_text("id,x\n" + "".join(f"a,{i}.5\n" for i in range(5)) + "".join(f"b,{i}.5\n" for i in range(3)))
    t = load_trajectories(path)
    assert t.data.shape == (2, 3, 1) and "trajectories of 3 frames" in t.provenance["notes"][0]


def test_one_short_track_does_not_cut_the_others_short(tmp_path):
    path = tmp_path / "tracker.csv"       # a tracker's output: two long tracks and a particle seen twice
    path.write_text("id,x\n" + "".join(f"{k},{i}.5\n" for k, n in (("a", 50), ("b", 2), ("c", 40)) for i in range(n)))
    t = load_trajectories(path)
    assert t.data.shape == (2, 40, 1) and t.provenance["ids"] == ["a", "c"]
    assert t.provenance["notes"][0] == ("tracks have 2 to 50 frames: read as 2 trajectories of 40 frames, pieces of "
                                        "the tracks (87.6% of the transitions are used; 1 shorter track left out)")


def test_tracks_that_skip_frames_are_cut_at_the_gaps(tmp_path):
    path = tmp_path / "gaps.csv"          # track a loses its particle at frames 4-5, b for frame 3 only
    path.write_text("id,frame,x\n" + "".join(f"a,{f},{f}.5\n" for f in (0, 1, 2, 3, 6, 7, 8, 9))
                    + "".join(f"b,{f},{f}.25\n" for f in (0, 1, 2, 4, 5, 6, 8)))
    t = load_trajectories(path)
    # pieces a 0-3 (4 frames), a 6-9 (4), b 0-2 (3), b 4-6 (3); b's frame 8 alone between a gap and the end
    assert t.provenance["ids"] == ["a:0", "a:4", "b:8", "b:11"]
    assert t.data.shape == (4, 3, 1) and t.data[1, :, 0].tolist() == [6.5, 7.5, 8.5]
    assert t.provenance["notes"][0] == ("2 tracks skip frames (steps of more than 1 in frame): cut at the gaps into "
                                        "pieces, 1 lone frame left out")


def test_trackmate_spots_table_reads_positions_by_track_in_time(tmp_path):
    keys = "LABEL,ID,TRACK_ID,QUALITY,POSITION_X,POSITION_Y,POSITION_Z,POSITION_T,FRAME,RADIUS,VISIBILITY"
    names = "Label,Spot ID,Track ID,Quality,X,Y,Z,T,Frame,Radius,Visibility"
    units = ",,,(quality),(micron),(micron),(micron),(sec),,(micron),"
    spots = [f"ID{i},{i},{track},9.5,{x:.2f},{2 * x:.2f},0.0,{0.05 * f:.2f},{f},0.5,1"
             for i, (track, f, x) in enumerate([(1, 2, 1.0), (0, 1, 5.0), (0, 0, 4.0), (1, 1, 0.5), ("None", 0, 9.0),
                                               (0, 2, 6.0), (1, 0, 0.0)])]
    path = tmp_path / "spots.csv"
    path.write_text("\n".join([keys, names, names, units, *spots]) + "\n")
    t = load_trajectories(path)
    assert t.provenance["format"] == "TrackMate spots (CSV)" and t.labels == ["POSITION_X", "POSITION_Y"]
    assert t.data[:, :, 0].tolist() == [[0.0, 0.5, 1.0], [4.0, 5.0, 6.0]] and t.data[1, 2, 1] == 12.0
    assert (t.dt, t.dt_source) == (pytest.approx(0.05), "metadata")
    assert t.provenance["notes"] == ["positions in micron", "1 spot in no track left out"]


def test_trackpy_table_reads_positions_without_the_features(tmp_path):
    path = tmp_path / "linked.csv"        # pandas' DataFrame.to_csv of trackpy.link's output: index first
    lines = [",y,x,mass,size,ecc,signal,raw_mass,ep,frame,particle"]
    lines += [f"{i},{2.5 * f + p},{10 + f + p},300.5,1.9,0.1,12.0,900.0,0.05,{f},{p}"
              for i, (f, p) in enumerate((f, p) for f in range(4) for p in (7, 3))]
    path.write_text("\n".join(lines) + "\n")
    t = load_trajectories(path)
    assert t.provenance["format"] == "trackpy (CSV)" and t.labels == ["x", "y"] and t.provenance["ids"] == ["7", "3"]
    assert t.data.shape == (2, 4, 2) and t.data[1, :, 0].tolist() == [13.0, 14.0, 15.0, 16.0]
    assert t.provenance["notes"][0] == "positions in pixels"


def test_trackmate_tracks_xml_reads_each_particle_in_frame_order(tmp_path):
    path = tmp_path / "tracks.xml"        # TrackMate: Export tracks to XML file
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<Tracks nTracks="2" spaceUnits="micron" '
                    'frameInterval="0.05" timeUnits="sec" from="TrackMate v7.11.1">\n'
                    '  <particle nSpots="3">\n' + "".join(f'    <detection t="{t}" x="{t + 0.5}" y="{2 * t}" z="0.0" />\n'
                                                         for t in (1, 0, 2)) +
                    '  </particle>\n  <particle nSpots="3">\n' + "".join(
                        f'    <detection t="{t}" x="{10 + t}" y="1.0" z="0.0" />\n' for t in (4, 5, 6)) +
                    "  </particle>\n</Tracks>\n")
    t = load_trajectories(path)
    assert t.provenance["format"] == "TrackMate tracks (XML)" and t.labels == ["POSITION_X", "POSITION_Y"]
    assert t.data[:, :, 0].tolist() == [[0.5, 1.5, 2.5], [14.0, 15.0, 16.0]] and t.data[0, 2, 1] == 4.0
    assert (t.dt, t.dt_source) == (0.05, "metadata") and t.provenance["notes"] == ["positions in micron"]
    assert load_input(path).n_trajectories == 2          # .xml opens as trajectories, in the app too


@pytest.mark.parametrize("text, problem", [
    ("x,y\n1,2\n3\n", "line 3 has 1 cells but the header has 2"),
    ("x,y\n1,2\n3,abc\n", "line 3, column 'y': 'abc' is not a number"),
    ("x,y\n1,2\n3,\n", "line 3, column 'y': the cell is empty"),
    ("x,y\n1,2\nnan,4\n", "line 3, column 'x': nan is not a finite number"),
    ("track,x\n1,2\n,4\n1,5\n", "line 3 has no value in the trajectory id column 'track'"),
    ("x,y\n", "a header and no data rows"),
    ("time,x\n0,1\n1,2\n2.5,4\n", "not evenly spaced in time"),
    ("id,time,x\na,0,1\na,1,2\nb,0,1\nb,2,2\nb,4,3\n", "sampled at different intervals (1 and 2)"),
    ("time,x\n0,1\n0,2\n", "two rows at time 0"),
    ("id,x\na,1\nb,3\n", "every trajectory has 1 frame"),
    ("frame,id\n0,1\n1,1\n", "no coordinate columns"),
    ("TRACK_ID,POSITION_X,POSITION_Y,POSITION_T,FRAME\n0,1,1,0,0\n0,2,2,0.1,1\n0,3,3,0.5,2\n",
     "POSITION_T does not grow in step with FRAME"),
    ("TRACK_ID,POSITION_X,POSITION_Y,FRAME\nNone,1,1,0\n,2,2,1\n", "no spot in a track"),
    ('<TrackMate version="7"><Model/></TrackMate>', "a TrackMate session file; open its tracks instead"),
    ("<Tracks><particle><detection t='0' x='a' y='1'/><detection t='1' x='2' y='1'/></particle></Tracks>",
     "detection 1, column 'POSITION_X': 'a' is not a number"),
    ("<Spots/>", "an XML file of <Spots>, not TrackMate's tracks"),
    ("<Tracks><particle><detection x='1' y='1'/><detection t='1' x='2' y='1'/></particle></Tracks>",
     "detection 1, column 't': the cell is empty"),
    ("<Tracks><particle>", "not a readable XML file"),
])
def test_malformed_tables_give_one_line_naming_the_file(tmp_path, text, problem):
    path = tmp_path / ("bad.xml" if text.startswith("<") else "bad.csv")
    path.write_text(text)
    with pytest.raises(CneepError) as e:
        load_trajectories(path)
    message = str(e.value)
    assert message.startswith(str(path)) and problem in message and "\n" not in message


def test_other_bad_trajectory_files(tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(CneepError, match="empty"):
        load_trajectories(empty)
    np.save(tmp_path / "nan.npy", np.array([[[0.0], [np.nan]]]))
    with pytest.raises(CneepError, match="NaN"):
        load_trajectories(tmp_path / "nan.npy")
    np.savez(tmp_path / "two.npz", a=np.zeros(3), b=np.zeros(3))
    with pytest.raises(CneepError, match="'coordinates' or 'states'"):
        load_trajectories(tmp_path / "two.npz")
    with pytest.raises(CneepError, match="no column .cell. for the trajectory id"):
        load_trajectories(save_trajectories(simulate_ratchet(steps=5), tmp_path / "r.csv"), id_column="cell")


def test_load_input_picks_trajectories_or_movie(beads, tmp_path):
    npy = save_trajectories(beads, tmp_path / "beads.npy")
    assert load_input(npy).kind == "coordinates"                # its sidecar says: simulated trajectories
    (tmp_path / "beads.truth.npz").unlink()
    assert type(load_input(npy)).__name__ == "Movie"              # a bare 3-D .npy: a movie unless told
    assert load_input(npy, kind="coordinates").kind == "coordinates"
    assert load_input(save_trajectories(beads, tmp_path / "b.npz")).kind == "coordinates"


# --- the command line --------------------------------------------------------------------------------------
def test_cli_simulates_describes_and_trains_on_trajectories(tmp_path, capsys):
    data = tmp_path / "ratchet.csv"
    assert main(["simulate", "ratchet", "--potential", "2", "--trajectories", "3", "--steps", "3000", "-o",
                 str(data)]) == 0
    assert "0.213069" in capsys.readouterr().out and (tmp_path / "ratchet.truth.npz").is_file()
    assert main(["info", str(data), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["kind"], d["n_states"], d["trajectories"], d["frames"]) == ("states", 6, 3, 3000)
    out = tmp_path / "run"
    assert main(["train", str(data), "-o", str(out), "--iters", "20", "--eval-every", "10", "--batch", "64",
                 "--hidden", "16", "--loss", "alpha", "-q"]) == 0
    assert "EP rate" in capsys.readouterr().out
    s = json.loads((out / "summary.json").read_text())
    assert s["truth"]["sigma"] == pytest.approx(0.21307, abs=1e-5) and s["movies"] == 3
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["train"]["model"] == "neep" and cfg["train"]["loss"] == "alpha"
    assert cfg["models"][0]["input"] == "states" and not (out / "dissipation_map.tif").exists()


def test_cli_scores_rneep_on_a_saved_partial_ratchet_against_the_best_reachable(tmp_path, capsys):
    data = tmp_path / "partial.npz"
    assert main(["simulate", "ratchet", "--partial", "--trajectories", "3", "--steps", "2000", "-o", str(data)]) == 0
    out = tmp_path / "run"
    assert main(["train", str(data), "--model", "rneep", "--seq-len", "4", "-o", str(out), "--iters", "10",
                 "--eval-every", "5", "--batch", "32", "--hidden", "8", "-q"]) == 0
    assert "best reachable from windows of 4 observations" in capsys.readouterr().out
    observed = json.loads((out / "summary.json").read_text())["truth"]["observed"]
    assert 0 < observed["ep_rate"] < FlashingRatchet().ep_per_step   # rebuilt from the sidecar's parameters


def test_cli_bead_spring_trajectories_and_rneep(tmp_path, capsys):
    data = tmp_path / "beads.npy"
    assert main(["simulate", "bead-spring", "--beads", "3", "--trajectories", "3", "--frames", "200", "-o",
                 str(data)]) == 0
    assert np.load(data).shape == (3, 200, 3)
    assert main(["info", str(data), "--kind", "coordinates"]) == 0
    assert "3 coordinate(s)" in capsys.readouterr().out
    out = tmp_path / "run"
    assert main(["train", str(data), "-o", str(out), "--model", "rneep", "--seq-len", "4", "--iters", "10",
                 "--eval-every", "5", "--batch", "32", "--hidden", "8", "-q"]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["models"][0]["model"] == "rneep" and cfg["dt"] == pytest.approx(0.01)


def _error(capsys, argv):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("cneep: error: ")
    return err


def test_cli_errors_for_trajectories(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("x,y\n1,2\n3,oops\n")
    assert str(bad) in _error(capsys, ["train", str(bad), "-o", str(tmp_path / "r")])
    good = tmp_path / "r.npz"
    save_trajectories(simulate_ratchet(steps=100), good)
    assert "--crop applies to movies" in _error(capsys, ["train", str(good), "-o", str(tmp_path / "r"),
                                                        "--crop", "0:4,0:4"])
    assert "use neep or rneep" in _error(capsys, ["train", str(good), "-o", str(tmp_path / "r"),
                                                 "--model", "cneep", "--kind", "states"])
    assert ".csv" in _error(capsys, ["simulate", "bead-spring", "--trajectories", "2", "-o", str(tmp_path / "x.tif")])
