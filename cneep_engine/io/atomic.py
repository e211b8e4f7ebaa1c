"""Outputs appear whole or not at all: write to a hidden temporary file, then rename over the target."""

from __future__ import annotations

import json
import math
import os
from contextlib import contextmanager
from pathlib import Path

from ..errors import CneepError


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    A failure (full disk, cancelled write) leaves any previous file untouched and no partial file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        raise CneepError(f"{path}: could not write ({e.strerror or e})") from e
    finally:
        tmp.unlink(missing_ok=True)


def _json_ready(obj):
    """NaN and infinity are not JSON: they become null (an R^2 of a constant prediction, say)."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_ready(v) for v in obj]
    return obj


def write_json(path: str | os.PathLike, obj) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(_json_ready(obj), indent=2, allow_nan=False) + "\n")
