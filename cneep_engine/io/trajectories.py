"""Reading and writing trajectories: tracked coordinates or discrete states.

CSV: one row per frame. A header names the columns; a column called trajectory, track, track_id, particle
or id (or the one named by `id_column`) says which trajectory a row belongs to, and a column called frame
or time orders the rows and, for time, gives dt. Every other column is a coordinate. One integer column
and nothing else is read as discrete states. Without a header every column is a coordinate of one
trajectory.
.npy / .npz: coordinates (frames, N) or (trajectories, frames, N) float; states (frames,) or
(trajectories, frames) int. An .npz names its array `coordinates` or `states` (or holds one array) and
may hold `dt`. A 3-D .npy could as well be a movie: it is read as trajectories when asked to.
"""

from __future__ import annotations

import csv
import json
import math
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np

from ..errors import CneepError
from ..trajectories import KINDS, Trajectories
from .arrays import check_npy
from .atomic import atomic_path
from .truth import check_sidecar_free, load_truth, save_truth, sidecar_path

SAVED = (".csv", ".npy", ".npz")
SUFFIXES = (*SAVED, ".xml")   # XML: TrackMate's tracks, read only
ID_NAMES = ("trajectory", "track", "track_id", "particle", "id")
# Trackers' tables, read as they are: name, the columns that tell it, track id, frame, positions (the last where it
# varies), time (None: frame numbers only). Their other columns (intensities, sizes, qualities) are no coordinates.
TRACKERS = (("TrackMate spots", ("TRACK_ID", "POSITION_X", "POSITION_Y", "FRAME"), "TRACK_ID", "FRAME",
             ("POSITION_X", "POSITION_Y", "POSITION_Z"), "POSITION_T"),
            ("trackpy", ("particle", "frame", "x", "y", "mass"), "particle", "frame", ("x", "y", "z"), None))
TIME_NAMES = ("frame", "time")


def is_trajectory_file(path: str | Path) -> bool:
    """True where the file holds trajectories: CSV, an .npz with `coordinates` or `states`, a 1-D or 2-D
    .npy, or a 3-D .npy whose ground-truth sidecar says it was simulated as trajectories. Other 3-D .npy
    files are movies unless asked otherwise."""
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".xml"):
            return True
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                return bool({"coordinates", "states"} & set(z.files))
        if suffix == ".npy":
            if np.load(path, mmap_mode="r", allow_pickle=False).ndim <= 2:
                return True
            with np.load(sidecar_path(path), allow_pickle=False) as z:
                return "trajectories" in json.loads(str(z["meta"])).get("params", {})
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return False   # no sidecar, or an unreadable file: the reader that follows names the problem
    return False


def load_trajectories(path: str | Path, truth: bool = True, *, kind: str | None = None, dt: float | None = None,
                      id_column: str | None = None) -> Trajectories:
    """Open trajectories and, when `NAME.truth.npz` lies beside them, their exact ground truth.

    kind: "coordinates" or "states"; None decides from the file. dt (s) overrides what the file says."""
    path = Path(path)
    if kind not in (None, *KINDS):
        raise CneepError(f"unknown kind {kind!r} (use {' or '.join(KINDS)})")
    if dt is not None and not (math.isfinite(dt) and dt > 0):
        raise CneepError(f"dt must be a positive number, not {dt}")
    if not path.is_file():
        raise CneepError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise CneepError(f"{path}: unsupported trajectory file {suffix!r} (use {', '.join(SUFFIXES)})")
    if path.stat().st_size == 0:
        raise CneepError(f"{path}: the file is empty")
    traj = (_read_csv(path, kind, id_column) if suffix == ".csv" else _read_xml(path, kind) if suffix == ".xml"
            else _read_array(path, kind))
    if traj.n_frames < 2:
        raise CneepError(f"{path}: each trajectory has {traj.n_frames} frame; at least 2 are needed")
    notes = traj.provenance.setdefault("notes", [])
    if truth and sidecar_path(path).is_file():
        traj.truth = load_truth(sidecar_path(path), path, _values(traj), notes)
        traj.provenance["truth"] = str(sidecar_path(path))
        if traj.dt_source == "default" and "dt" in traj.truth.params:
            traj.dt, traj.dt_source = float(traj.truth.params["dt"]), "metadata"
    if dt is not None:
        traj.dt, traj.dt_source = float(dt), "user"
    elif traj.dt_source == "default":
        notes.append(f"no frame interval in the file: using dt = {traj.dt:g} s (set it with --dt)")
    traj.provenance.update(dt=traj.dt, dt_source=traj.dt_source, kind=traj.kind)
    return traj


def describe_trajectories(traj: Trajectories) -> dict:
    """What was found, as `cneep info --json` prints it for trajectories."""
    path = Path(traj.path) if traj.path else None
    return {"path": str(path) if path else None, "format": traj.provenance.get("format"), "kind": traj.kind,
            "trajectories": traj.n_trajectories, "frames": traj.n_frames,
            "coordinates": traj.n_coordinates if traj.kind == "coordinates" else None, "n_states": traj.n_states,
            "labels": [str(v) for v in traj.labels], "dt": traj.dt, "dt_source": traj.dt_source,
            "file_bytes": path.stat().st_size if path is not None and path.is_file() else None,
            "notes": traj.provenance.get("notes", [])}


def check_suffix(path: Path) -> None:
    if path.suffix.lower() not in SAVED:
        raise CneepError(f"{path}: trajectories are saved as {', '.join(SAVED)}")


def save_trajectories(traj: Trajectories, path: str | Path) -> Path:
    """Write .npy (the array alone), .npz (array, dt, labels) or .csv (trajectory, time, one column per
    coordinate or a state column), plus the ground-truth sidecar when there is one."""
    path = Path(path)
    check_suffix(path)
    suffix = path.suffix.lower()
    # States are written as the values the labels give them, so a file reads back as it was written.
    values = _values(traj)
    if traj.truth is not None:
        check_sidecar_free(path)
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            with open(tmp, "w", newline="") as f:
                _write_csv(f, traj, values)
        else:
            with open(tmp, "wb") as f:   # a file object keeps numpy from appending its own suffix
                if suffix == ".npy":
                    np.save(f, values)
                else:
                    names = {} if traj.kind == "states" else {"labels": np.array([str(v) for v in traj.labels])}
                    np.savez(f, **{traj.kind: values}, dt=np.float64(traj.dt), **names)
    if traj.truth is not None:
        save_truth(traj.truth, sidecar_path(path), values, path.name)
    traj.path = path
    return path


def _values(traj: Trajectories) -> np.ndarray:
    """The values as the file holds them: states as the labels they stand for."""
    return np.asarray(traj.labels)[traj.data] if traj.kind == "states" and traj.labels else traj.data


def _write_csv(f, traj: Trajectories, values: np.ndarray) -> None:
    w = csv.writer(f)
    names = ["state"] if traj.kind == "states" else [str(v) for v in traj.labels]
    w.writerow(["trajectory", "time", *names])
    times = [repr(float(t)) for t in np.arange(traj.n_frames) * traj.dt]
    for m, series in enumerate(values):
        rows = series.reshape(traj.n_frames, -1).tolist()   # Python floats print with round-trip precision
        w.writerows([m, t, *row] for t, row in zip(times, rows))


# --- reading --------------------------------------------------------------------------------------------
def _read_array(path: Path, kind: str | None) -> Trajectories:
    dt, labels, name = None, [], "array"
    try:
        if path.suffix.lower() == ".npy":
            check_npy(path)
            data = np.load(path, allow_pickle=False)
        else:
            with np.load(path, allow_pickle=False) as z:
                arrays = [n for n in z.files if n not in ("dt", "labels")]
                name = next((n for n in ("coordinates", "states") if n in arrays), arrays[0] if len(arrays) == 1 else None)
                if name is None:
                    raise CneepError(f"{path}: holds arrays {', '.join(z.files) or 'none'}; name the trajectories "
                                     "'coordinates' or 'states', or keep one array")
                data = z[name]
                dt = float(z["dt"]) if "dt" in z.files else None
                labels = z["labels"].tolist() if "labels" in z.files else []
    except CneepError:
        raise
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile, EOFError) as e:
        raise CneepError(f"{path}: not a readable NumPy file ({type(e).__name__}: {e})") from e
    if data.dtype.kind not in "uifb":
        raise CneepError(f"{path}: values of type {data.dtype} are not supported (integers or floats only)")
    kind = kind or ("states" if name == "states" or (name != "coordinates" and data.dtype.kind in "uib"
                                                      and data.ndim <= 2) else "coordinates")
    if kind == "states":
        if data.ndim not in (1, 2):
            raise CneepError(f"{path}: states of shape {data.shape}; expected (frames,) or (trajectories, frames)")
        data = data[None] if data.ndim == 1 else data
    else:
        if data.ndim not in (1, 2, 3):
            raise CneepError(f"{path}: coordinates of shape {data.shape}; expected (frames, N) or "
                             "(trajectories, frames, N)")
        data = data.reshape(1, -1, 1) if data.ndim == 1 else data[None] if data.ndim == 2 else data
    reader = "numpy .npy" if path.suffix.lower() == ".npy" else f"numpy .npz ({name!r})"
    return _trajectories(path, data, kind, dt, labels, {"format": "NumPy array", "reader": reader})


def _read_csv(path: Path, kind: str | None, id_column: str | None) -> Trajectories:
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            delimiter = _delimiter(f.readline())
            f.seek(0)
            rows = [(n, row) for n, row in enumerate(csv.reader(f, delimiter=delimiter), 1)
                    if any(c.strip() for c in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise CneepError(f"{path}: not a readable CSV file ({type(e).__name__}: {e})") from e
    if not rows:
        raise CneepError(f"{path}: no rows")
    header = [c.strip() for c in rows[0][1]]
    if all(_is_number(c) for c in header):
        header = [f"x{i + 1}" for i in range(len(header))]
    else:
        rows = rows[1:]
    for n, row in rows:
        if len(row) != len(header):
            raise CneepError(f"{path}: line {n} has {len(row)} cells but the header has {len(header)} columns")
    return _table(path, header, rows, kind, id_column)


def _read_xml(path: Path, kind: str | None) -> Trajectories:
    """TrackMate's tracks (Export tracks to XML file): <Tracks frameInterval spaceUnits> of <particle> of
    <detection t x y z>, t the frame. Read as its spots table is, the detections numbered in file order."""
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError) as e:
        raise CneepError(f"{path}: not a readable XML file ({type(e).__name__}: {e})") from e
    if root.tag == "TrackMate":
        raise CneepError(f"{path}: a TrackMate session file; open its tracks instead (TrackMate: Export tracks to "
                         "XML file, or the spots table as CSV)")
    if root.tag != "Tracks":
        raise CneepError(f"{path}: an XML file of <{root.tag}>, not TrackMate's tracks (<Tracks> of <particle> of "
                         "<detection>)")
    header = ["TRACK_ID", "FRAME", "POSITION_X", "POSITION_Y", "POSITION_Z"]
    rows = [(n, [str(track), *(d.get(a, "0" if a == "z" else "") for a in ("t", "x", "y", "z"))])
            for n, (track, d) in enumerate(((k, d) for k, p in enumerate(root.iter("particle"))
                                            for d in p.iter("detection")), 1)]
    if not rows:
        raise CneepError(f"{path}: TrackMate's tracks with no detection")
    for n, row in rows:   # a frame that is no number would pass for a row of names, as in the spots table
        _number(path, f"detection {n}", "t", row[1])
    traj = _table(path, header, rows, kind, None, where="detection", fmt="TrackMate tracks (XML)")
    traj.provenance["reader"] = "xml"
    interval, unit = root.get("frameInterval"), root.get("spaceUnits")
    if interval and _is_number(interval) and float(interval) > 0 and root.get("timeUnits", "sec") != "frame":
        traj.dt, traj.dt_source = float(interval), "metadata"
    if unit:
        traj.provenance["notes"].insert(0, f"positions in {unit}")
    return traj


def _table(path: Path, header: list[str], rows: list, kind: str | None, id_column: str | None,
           where: str = "line", fmt: str = "CSV") -> Trajectories:
    """Trajectories from a table's rows ((number, cells), each as long as `header`): a tracker's (`TRACKERS`) or
    any with an id and a time column; `where` names a row in messages."""
    notes = []
    tracker = next((t for t in TRACKERS if set(t[1]) <= set(header)), None)
    if tracker:
        rows, id_col, time_col, value_cols, dt = _tracker(path, header, rows, notes, *tracker[2:])
    if not rows:
        raise CneepError(f"{path}: a header and no data rows")
    lower = [c.lower() for c in header]
    if not tracker:
        if id_column is not None and id_column.lower() not in lower:
            raise CneepError(f"{path}: no column {id_column!r} for the trajectory id (columns: {', '.join(header)})")
        id_col = (lower.index(id_column.lower()) if id_column
                  else next((lower.index(n) for n in ID_NAMES if n in lower), None))
        time_col = next((lower.index(n) for n in TIME_NAMES if n in lower and lower.index(n) != id_col), None)
        value_cols = [i for i in range(len(header)) if i not in (id_col, time_col)]
        dt = None
    if not value_cols:
        raise CneepError(f"{path}: no coordinate columns besides the trajectory id and time")

    ids, times, values = [], [], []
    for n, row in rows:
        if id_col is not None:
            if not row[id_col].strip():
                raise CneepError(f"{path}: {where} {n} has no value in the trajectory id column {header[id_col]!r}")
            ids.append(row[id_col].strip())
        if time_col is not None:
            times.append(_number(path, f"{where} {n}", header[time_col], row[time_col]))
        values.append([_number(path, f"{where} {n}", header[i], row[i]) for i in value_cols])
    values = np.array(values, dtype=np.float64)
    if kind is None:
        kind = "states" if len(value_cols) == 1 and all(_is_int(row[value_cols[0]]) for _, row in rows) \
            else "coordinates"
    name_of, pieces = _group_keys(ids), _group(ids) if ids else [np.arange(len(values))]
    if time_col is not None:
        name_of, pieces, step = _in_time(path, header[time_col], np.asarray(times), name_of, pieces, bool(ids), notes)
        if lower[time_col] == "time" and step is not None:
            dt = step
    series = [values[idx] for idx in pieces]
    lengths = [len(s) for s in series]
    if max(lengths) < 2:
        raise CneepError(f"{path}: every trajectory has 1 frame; at least 2 are needed")
    if min(lengths) != max(lengths):
        # Trajectories are of one length: every track is cut into as many pieces of one track's length as it
        # holds (each cut loses one transition), the length that keeps the most transitions, tracks shorter than it
        # left out. The shortest track's length would let one short track (common from a tracker) cut every other
        # one; any length would favour short pieces that tile the tracks, losing the long windows.
        size = max(sorted({n for n in lengths if n >= 2}), key=lambda m: sum(n // m for n in lengths) * (m - 1))
        cut = [(key if len(s) < 2 * size else f"{key}:{a}", s[a:a + size])   # id:first row of the piece
               for key, s in zip(name_of, series) for a in range(0, len(s) - size + 1, size)]
        name_of, series = [key for key, _ in cut], [piece for _, piece in cut]
        kept = len(series) * (size - 1) / sum(n - 1 for n in lengths)
        shorter = sum(n < size for n in lengths)
        notes.append(f"tracks have {min(lengths)} to {max(lengths)} frames: read as {len(series)} trajectories of "
                     f"{size} frames, pieces of the tracks ({kept:.1%} of the transitions are used"
                     + (f"; {shorter} shorter track{'s' if shorter > 1 else ''} left out)" if shorter else ")"))
    data = np.stack(series)
    labels = [header[i] for i in value_cols]
    if kind == "states":
        data, labels = data[..., 0], []
    fmt = f"{tracker[0]} (CSV)" if tracker and fmt == "CSV" else fmt
    provenance = {"format": fmt, "reader": "csv", "columns": header,
                  "ids": name_of, "notes": notes}
    return _trajectories(path, data, kind, dt, labels, provenance)


def _in_time(path: Path, column: str, times: np.ndarray, keys: list[str], rows: list[np.ndarray], named: bool,
             notes: list[str]) -> tuple[list[str], list[np.ndarray], float | None]:
    """Each trajectory's rows in time order, cut where it skips frames (a tracker that lost the particle for a
    while, or closed the gap): the pieces, their names (id:first row where a track is cut) and the step between
    frames. Steps that are no whole multiple of the smallest one are refused: the frames are not evenly spaced."""
    ordered = []
    for key, idx in zip(keys, rows):
        idx = idx[np.argsort(times[idx], kind="stable")]
        step = np.diff(times[idx])
        if (step <= 0).any():
            where = f"trajectory {key!r}" if named else "the file"
            raise CneepError(f"{path}: {where} has two rows at {column} {times[idx][1:][step <= 0][0]:g}")
        ordered.append(idx)
    steps = np.concatenate([np.diff(times[idx]) for idx in ordered])
    if not steps.size:
        return keys, ordered, None
    base = steps.min()
    names, pieces, gapped, lone = [], [], 0, 0
    for key, idx in zip(keys, ordered):
        multiple = np.diff(times[idx]) / base
        where = f"trajectory {key!r}" if named else "the file"
        # in time (not frame numbers) a track never sampled at the smallest step was sampled at another interval
        if column.lower() == "time" and multiple.size and multiple.min() > 1 + 1e-6:
            raise CneepError(f"{path}: trajectories are sampled at different intervals ({base:g} and "
                             f"{multiple.min() * base:g})")
        if not np.allclose(multiple, np.rint(multiple), rtol=1e-6, atol=0):
            raise CneepError(f"{path}: {where} is not evenly spaced in {column} ({column} {times[idx][0]:g} to "
                             f"{times[idx][-1]:g} in {len(idx)} rows, steps of {base:g} and more that are no "
                             "multiple of it)")
        parts = np.split(idx, np.flatnonzero(np.rint(multiple) > 1) + 1)
        gapped += len(parts) > 1
        for part in parts:
            if len(part) < 2 and len(parts) > 1:
                lone += 1            # a frame cut off by gaps: no transition to keep
                continue
            names.append(key if len(parts) == 1 else f"{key}:{part[0]}")
            pieces.append(part)
    if gapped:
        notes.append(f"{gapped} {'track skips' if gapped == 1 else 'tracks skip'} frames (steps of more than "
                     f"{base:g} in {column}): cut at the gaps into pieces"
                     + (f", {lone} lone frame{'s' if lone > 1 else ''} left out" if lone else ""))
    return names, pieces, float(base)


def _tracker(path: Path, header: list[str], rows: list, notes: list[str], track: str, frame: str,
             positions: tuple[str, ...], time: str | None):
    """A tracker's table (`TRACKERS`): the data rows, the id, frame and coordinate columns and dt (None where
    unknown). TrackMate's spots table has (from TrackMate 7) rows of names, short names and units under its header,
    spots in no track (TRACK_ID None) and the time of each frame in its time unit; trackpy's positions are pixels."""
    col = {name: header.index(name) for name in header}
    described = 0
    while described < 3 and rows and not _is_number(rows[0][1][col[frame]]):
        units, rows, described = rows[0][1], rows[1:], described + 1    # names, short names, units
    unit = units[col[positions[0]]].strip("() ") if described == 3 else "" if time else "pixels"
    if unit:
        notes.append(f"positions in {unit}")
    tracked = [(n, row) for n, row in rows if row[col[track]].strip() not in ("", "None")]
    if len(tracked) < len(rows):
        lost = len(rows) - len(tracked)
        notes.append(f"{lost} spot{'s' if lost > 1 else ''} in no track left out")
    rows = tracked
    if not rows:
        raise CneepError(f"{path}: no spot in a track ({track} is empty or None in every row)")
    value_cols = [col[c] for c in positions[:-1]]
    if positions[-1] in col and len({row[col[positions[-1]]].strip() for _, row in rows}) > 1:
        value_cols.append(col[positions[-1]])
    dt = None
    if time in col:
        f, t = (np.array([_number(path, f"line {n}", c, row[col[c]]) for n, row in rows]) for c in (frame, time))
        if np.ptp(f) > 0:
            slope = np.ptp(t) / np.ptp(f)
            if np.abs(t - t.min() - (f - f.min()) * slope).max() > 0.01 * slope:   # more than the times' rounding
                raise CneepError(f"{path}: {time} does not grow in step with {frame}: the frames are not evenly "
                                 "spaced in time")
            dt = None if slope == 1 and np.array_equal(t, f) else float(slope)   # time = frame: uncalibrated
    return rows, col[track], col[frame], value_cols, dt


def _delimiter(first_line: str) -> str:
    """Commas, or semicolons or tabs where the first line has those and no comma (spreadsheets in locales
    with a decimal comma write semicolons)."""
    if "," not in first_line:
        for sep in (";", "\t"):
            if sep in first_line:
                return sep
    return ","


def _trajectories(path: Path, data: np.ndarray, kind: str, dt: float | None, labels: list, provenance: dict) -> Trajectories:
    """Checked trajectories: finite coordinates as float, or states renumbered 0 .. n - 1 (labels: the values)."""
    provenance = {"source": str(path), "shape": list(data.shape), "dtype": str(data.dtype), "notes": [], **provenance}
    if kind == "states":
        if data.dtype.kind == "f" and not np.all(np.isfinite(data) & (data == np.round(data))):
            raise CneepError(f"{path}: states must be whole numbers")
        values, inverse = np.unique(data, return_inverse=True)
        return Trajectories(data=inverse.reshape(data.shape).astype(np.int64), dt=dt or 1.0,
                            dt_source="metadata" if dt else "default", n_states=len(values),
                            labels=values.astype(np.int64).tolist(),
                            path=path, provenance=provenance)
    data = np.asarray(data, dtype=np.float32 if data.dtype == np.float32 else np.float64)
    if not np.isfinite(data).all():
        raise CneepError(f"{path}: the coordinates contain NaN or infinite values")
    return Trajectories(data=data, dt=dt or 1.0, dt_source="metadata" if dt else "default",
                        labels=list(labels) or [f"x{i + 1}" for i in range(data.shape[2])], path=path,
                        provenance=provenance)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
        return True
    except ValueError:
        return False


def _is_int(cell: str) -> bool:
    try:
        int(cell)
        return True
    except ValueError:
        return False


def _number(path: Path, where: str, column: str, cell: str) -> float:
    """A cell's number; `where` names its row ("line 3")."""
    try:
        value = float(cell)
    except ValueError:
        text = cell.strip()
        raise CneepError(f"{path}: {where}, column {column!r}: " +
                         (f"{text!r} is not a number" if text else "the cell is empty")) from None
    if not math.isfinite(value):
        raise CneepError(f"{path}: {where}, column {column!r}: {cell.strip()} is not a finite number")
    return value


def _group(ids: list[str]) -> list[np.ndarray]:
    """Row indices of each id, ids in order of first appearance, rows in file order."""
    keys = _group_keys(ids)
    pos = {k: i for i, k in enumerate(keys)}
    code = np.array([pos[k] for k in ids])
    order = np.argsort(code, kind="stable")
    return np.split(order, np.cumsum(np.bincount(code, minlength=len(keys)))[:-1])


def _group_keys(ids: list[str]) -> list[str]:
    return list(dict.fromkeys(ids)) if ids else ["1"]
