"""The run folder as a place on disk: one writer at a time, never an input's file, cleared before a new run.

A lock file names its holder (pid, host, start time). It is created atomically (O_CREAT | O_EXCL), so of
two trainings started into one folder the second is refused and told who holds it; a lock left by a process
that died on this host is taken over with a note. `summary.json` is written last: a folder without it is a
run that did not finish, whatever else it holds.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path

from .errors import CneepError

log = logging.getLogger(__name__)

MAPS_FILE = "dissipation_maps.tif"
MEAN_MAP_FILE = "dissipation_map.tif"


def beside(path: Path, what: str) -> Path:
    """The file written beside the map `path` for `what` ("sem", "seed_spread"): map.tif -> map_sem.tif."""
    return path.with_name(f"{path.stem}_{what}{path.suffix}")


UNCERTAINTY_FILES = tuple(beside(Path(MEAN_MAP_FILE), what).name for what in ("sem", "seed_spread"))
SUMMARY_FILE = "summary.json"
NETWORK_FILE = "network.pt"   # a model-known estimator's fitted network
RESULT_FILES = ("config.json", SUMMARY_FILE, "ep_trace.csv", "train_log.csv", MEAN_MAP_FILE, *UNCERTAINTY_FILES,
                MAPS_FILE, NETWORK_FILE)
CHECKPOINTS = "model_seed*.pt"
LOCK_FILE = ".cneep.lock"

_held: set[Path] = set()          # folders this process holds: a save inside a training takes no second lock
_held_guard = threading.Lock()


def is_result_name(name: str) -> bool:
    return name in RESULT_FILES or Path(name).match(CHECKPOINTS)


def is_run_folder(path: str | Path) -> bool:
    """Whether a folder holds (part of) a run rather than, say, numbered images."""
    path = Path(path)
    return path.is_dir() and (any((path / n).is_file() for n in (*RESULT_FILES, LOCK_FILE))
                              or any(path.glob(CHECKPOINTS)))


def refuse_inputs(run_dir: Path, sources: list[str | Path]) -> None:
    """Refuse a run folder where a result would overwrite an input: a source file under a result name, or a
    folder of images that the maps would join."""
    folder = run_dir.resolve()
    for source in sources:
        src = Path(source).resolve()
        if src == folder:
            raise CneepError(f"{run_dir}: is the input folder {source} itself; write the run to another folder")
        if src.parent == folder and is_result_name(src.name):
            raise CneepError(f"{run_dir}: the input {source} has the name of a result file the run would write "
                             "there; write the run to another folder")


def holder(run_dir: Path) -> dict | None:
    """Who holds the folder's lock, or None."""
    try:
        return json.loads((run_dir / LOCK_FILE).read_text())
    except (OSError, ValueError):
        return None


def alive(info: dict) -> bool:
    """Whether the lock's holder may still run: always, unless it is a process of this host that is gone."""
    if info.get("host") != socket.gethostname():
        return True
    try:
        os.kill(int(info["pid"]), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, KeyError, TypeError, ValueError):
        return True
    return True


def describe_holder(info: dict) -> str:
    return f"pid {info.get('pid')} on {info.get('host')}, since {info.get('started')}"


@contextmanager
def locked(run_dir: Path):
    """Hold the run folder for this process while the block runs."""
    key = run_dir.resolve()
    with _held_guard:
        nested = key in _held
        if not nested:
            _acquire(run_dir)
            _held.add(key)
    try:
        yield
    finally:
        if not nested:
            with _held_guard:
                _held.discard(key)
                (run_dir / LOCK_FILE).unlink(missing_ok=True)


def _acquire(run_dir: Path) -> None:
    lock = run_dir / LOCK_FILE
    text = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                       "started": time.strftime("%Y-%m-%d %H:%M:%S")})
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            info = holder(run_dir)
            if info is None or alive(info):
                who = describe_holder(info) if info else "a process that is starting"
                raise CneepError(f"{run_dir}: in use by another run ({who}); wait for it to finish or choose "
                                 "another folder") from None
            _take_over(lock, info)
            continue
        except OSError as e:
            raise CneepError(f"{run_dir}: cannot lock the run folder ({e.strerror or e})") from e
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return
    raise CneepError(f"{run_dir}: could not lock the run folder (other processes keep taking it)")


def _take_over(lock: Path, stale: dict) -> None:
    """Remove a dead holder's lock. It is first moved aside and checked, so that a lock another process
    took meanwhile is put back rather than removed."""
    aside = lock.with_name(f"{lock.name}.{os.getpid()}.stale")
    try:
        os.rename(lock, aside)
    except FileNotFoundError:
        return
    try:
        if json.loads(aside.read_text()) != stale:
            os.link(aside, lock)
            return
    except (OSError, ValueError):
        pass
    finally:
        aside.unlink(missing_ok=True)
    log.warning("%s: took over the lock of %s, which no longer runs; its unfinished results are removed",
                lock.parent, describe_holder(stale))


def clear(run_dir: Path) -> None:
    """Remove an earlier run's results and unfinished temporary files (the folder must be held). Other files
    stay."""
    for old in run_dir.iterdir():
        name = old.name
        temporary = name.startswith(".") and name.endswith(".part") and is_result_name(name[1:].rsplit(".", 2)[0])
        if is_result_name(name) or temporary:
            old.unlink(missing_ok=True)
