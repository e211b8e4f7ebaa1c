"""Length and time units as microscope software writes them, to micrometres and seconds."""

from __future__ import annotations

TO_MICRON = {"um": 1.0, "µm": 1.0, "μm": 1.0, "micron": 1.0, "microns": 1.0, "micrometer": 1.0,
             "micrometre": 1.0, "\\u00b5m": 1.0, "nm": 1e-3, "nanometer": 1e-3, "å": 1e-4, "pm": 1e-6,
             "mm": 1e3, "millimeter": 1e3, "cm": 1e4, "m": 1e6, "meter": 1e6}
TO_SECOND = {"s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0, "ms": 1e-3, "msec": 1e-3,
             "millisecond": 1e-3, "µs": 1e-6, "μs": 1e-6, "us": 1e-6, "microsecond": 1e-6, "ns": 1e-9,
             "min": 60.0, "minute": 60.0, "minutes": 60.0, "h": 3600.0, "hr": 3600.0, "hour": 3600.0}


def micrometres(value, unit: str | None = "µm") -> float | None:
    """A positive length in micrometres, or None when the value or its unit is not understood."""
    scale = TO_MICRON.get(str(unit if unit is not None else "µm").strip().lower())
    return _positive(value, scale)


def seconds(value, unit: str | None = "s") -> float | None:
    """A positive time in seconds, or None when the value or its unit is not understood."""
    scale = TO_SECOND.get(str(unit if unit is not None else "s").strip().lower())
    return _positive(value, scale)


def _positive(value, scale: float | None) -> float | None:
    try:
        v = float(value) * scale
    except (TypeError, ValueError):
        return None
    return v if v > 0 and v < float("inf") else None
