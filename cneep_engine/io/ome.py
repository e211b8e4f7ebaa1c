"""OME-XML (the first image of an OME-TIFF): pixel size and frame interval with their units."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np

from .units import micrometres, seconds


def ome_calibration(xml: str) -> tuple[float | None, float | None]:
    """(pixel size in µm, frame interval in s) of the first image; None for what the XML does not say.

    The frame interval is Pixels@TimeIncrement, else the median step of Plane@DeltaT between time points."""
    try:
        root = ET.fromstring(xml)
    except ET.ParseError:
        return None, None
    pixels = next((el for el in root.iter() if _local(el.tag) == "Pixels"), None)
    if pixels is None:
        return None, None
    a = pixels.attrib
    pixel_size = micrometres(a.get("PhysicalSizeX"), a.get("PhysicalSizeXUnit", "µm")) \
        if "PhysicalSizeX" in a else None
    dt = seconds(a.get("TimeIncrement"), a.get("TimeIncrementUnit", "s")) if "TimeIncrement" in a else None
    if dt is None:
        dt = _plane_interval(pixels)
    return pixel_size, dt


def _plane_interval(pixels: ET.Element) -> float | None:
    times = {}
    for plane in pixels:
        if _local(plane.tag) != "Plane" or "DeltaT" not in plane.attrib:
            continue
        p = plane.attrib
        if p.get("TheZ", "0") == "0" and p.get("TheC", "0") == "0":
            scale = seconds(1.0, p.get("DeltaTUnit", "s"))
            try:
                times[int(p.get("TheT", "0"))] = float(p["DeltaT"]) * scale
            except (TypeError, ValueError):
                continue
    if len(times) < 2:
        return None
    order = sorted(times)
    steps = np.diff([times[k] for k in order]) / np.diff(order)
    step = float(np.median(steps))
    return step if step > 0 else None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
