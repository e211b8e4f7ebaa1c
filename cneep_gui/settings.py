"""What the app remembers between sessions: recent files, training settings, view choices, window layout, and
per file the calibration and preprocessing the user chose.

Everything goes through `store()`, an INI file in the user's config folder (tests point it at tmp_path)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, fields
from pathlib import Path

from PyQt6.QtCore import QSettings

from cneep_engine import CneepError, TrainConfig

MAX_RECENT = 8


def store() -> QSettings:
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "CNEEP", "CNEEP Studio")


def recent_files() -> list[str]:
    value = store().value("recent", [])
    return [value] if isinstance(value, str) else list(value or [])


def add_recent(path: str | Path) -> list[str]:
    """Put `path` first in the recent list, without duplicates, and return the list."""
    path = str(Path(path).resolve())
    paths = [path] + [p for p in recent_files() if p != path][:MAX_RECENT - 1]
    store().setValue("recent", paths)
    return paths


def default_runs_dir() -> Path:
    """The runs folder until the user picks another: beside the settings file."""
    return Path(store().fileName()).parent / "runs"


def runs_dir() -> Path:
    """Where every training writes its checkpoints and log as it goes, so a crash or a closed window never
    loses the best model; set in Preferences."""
    return Path(store().value("paths/runs", str(default_runs_dir())))


def set_runs_dir(path: str | Path) -> None:
    store().setValue("paths/runs", str(Path(path).expanduser()))


def load_train_config() -> TrainConfig:
    """The last training settings, or the defaults when none were saved or they no longer apply."""
    try:
        saved = json.loads(store().value("training/config", "{}"))
        known = {f.name for f in fields(TrainConfig)}
        return TrainConfig(**{k: v for k, v in saved.items() if k in known})
    except (CneepError, TypeError, ValueError, AttributeError):
        return TrainConfig()


def save_train_config(config: TrainConfig) -> None:
    store().setValue("training/config", json.dumps(asdict(config)))


def value(key: str, default, kind=None):
    """A stored view setting (fps, opacity, ...), converted to the type of `default`."""
    return store().value(key, default, type=kind or type(default))


def set_value(key: str, v) -> None:
    store().setValue(key, v)


def _input_key(path: Path) -> str | None:
    """The key of one version of a file: its path, size and modification time, so an edited or replaced
    file is not offered another's calibration. None for what is not a file."""
    try:
        stat = path.stat()
    except (OSError, TypeError):
        return None
    if not path.is_file():
        return None
    ident = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return "inputs/" + hashlib.sha1(ident.encode()).hexdigest()


def remembered(path: Path | None) -> dict:
    """What the user set for this file last time: {"dt": [seconds, "YYYY-MM-DD"], "pixel_size": [µm, date],
    "preprocess": Preprocess.describe()}, each only when set; {} for a file not seen or changed since."""
    key = _input_key(path) if path is not None else None
    if key is None:
        return {}
    try:
        saved = json.loads(store().value(key, "{}"))
    except (TypeError, ValueError):
        return {}
    return saved if isinstance(saved, dict) else {}


def remember(path: Path | None, **entries) -> None:
    """Keep `entries` (see `remembered`) for this file, beside what is kept already."""
    key = _input_key(path) if path is not None else None
    if key is not None:
        store().setValue(key, json.dumps({**remembered(path), **entries}))
