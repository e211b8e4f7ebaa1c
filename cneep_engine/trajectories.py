"""Trajectories: tracked coordinates or discrete states, the input of NEEP and RNEEP."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import CneepError
from .movie import GroundTruth

KINDS = ("coordinates", "states")


@dataclass
class Trajectories:
    """One or several trajectories of equal length, sampled every dt.

    coordinates: data is (trajectories, frames, coordinates) float, e.g. bead displacements or x, y of a track.
    states: data is (trajectories, frames) int, states numbered 0 .. n_states - 1; `labels` keeps the
    value each number stood for in the file. For coordinates `labels` names the columns."""

    data: np.ndarray
    dt: float = 1.0
    dt_source: str = "default"        # metadata, default or user, as for a movie
    n_states: int | None = None       # set for discrete states
    labels: list = field(default_factory=list)
    path: Path | None = None
    truth: GroundTruth | None = None
    provenance: dict = field(default_factory=dict)

    def __post_init__(self):
        want = 2 if self.n_states is not None else 3
        if self.data.ndim != want:
            raise CneepError(f"{self.name}: {self.kind} need a {want}-D array, got shape {self.data.shape}")
        if self.n_states is not None and (self.data.dtype.kind not in "ui" or self.data.size and (
                self.data.min() < 0 or self.data.max() >= self.n_states)):
            raise CneepError(f"{self.name}: states must be integers from 0 to {self.n_states - 1}")

    @property
    def kind(self) -> str:
        return "states" if self.n_states is not None else "coordinates"

    @property
    def n_trajectories(self) -> int:
        return self.data.shape[0]

    @property
    def n_frames(self) -> int:
        return self.data.shape[1]

    @property
    def n_coordinates(self) -> int:
        """Numbers per frame: the coordinates, or 1 for a state."""
        return self.data.shape[2] if self.data.ndim == 3 else 1

    @property
    def coordinate_labels(self) -> list[str]:
        """The coordinates' names: the file's column labels, else x1, x2, ..."""
        if len(self.labels) == self.n_coordinates:
            return [str(s) for s in self.labels]
        return [f"x{i + 1}" for i in range(self.n_coordinates)]

    @property
    def name(self) -> str:
        return str(self.path) if self.path else "trajectories"


def coordinate_statistics(data: np.ndarray, parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each coordinate over the training frames (part 0), (N,) each.

    A coordinate that never moves gets a standard deviation of 1, so standardising it stays finite."""
    train = np.asarray(data[parts == 0], dtype=np.float64)
    std = train.std(0)
    return train.mean(0), np.where(std > 0, std, 1.0)
