"""Generate synthetic data with exact EP: any system of the registry, its declared settings, a live preview.

Every system in `cneep_engine.registry.SYSTEMS` gets a page of forms, one per settings class; a system added there
appears here unchanged. While the settings are edited, one movie or trajectory of two frames is simulated with
them (`System.preview`), which gives the exact EP and, for a movie, the frame shown; a system that takes minutes
is previewed without its burn-in, for the data's shape only. The dialog only collects settings; the main window runs
`system.run` in the background, showing a long one's progress with a Cancel (`GenerationProgress`).
"""

from __future__ import annotations

import re

import pyqtgraph as pg
from PyQt6.QtCore import QTimer
from PyQt6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QGroupBox, QHBoxLayout, QLabel,
                             QProgressDialog, QVBoxLayout, QWidget)

from cneep_engine import CneepError, Movie, Progress, Trajectories
from cneep_engine.registry import SYSTEMS, System

from .param_form import ParamForm


def title(cls: type) -> str:
    """A settings class's name in words, acronyms kept: BeadRenderer -> "Bead renderer", TrappedAOUP -> "Trapped
    AOUP"."""
    words = re.findall(r"[A-Z]+(?![a-z])|[A-Z][a-z0-9]*", cls.__name__)
    return " ".join(w if i == 0 or w.isupper() else w.lower() for i, w in enumerate(words))


def describe(data: Movie | Trajectories, series: int, frames: int) -> str:
    """What `series` × `frames` of data like this sample are, and the memory they take."""
    if isinstance(data, Movie):
        h, w = data.frame_shape
        unit, what = data.frames[0, 0].nbytes, f"{h} × {w} px ({data.frames.dtype})"
        names = "movies" if series > 1 else "movie"
    else:
        unit = data.data[0, 0].nbytes
        what = f"{data.n_states} states" if data.n_states else f"{data.n_coordinates} coordinates"
        names = "trajectories" if series > 1 else "trajectory"
    size = series * frames * unit
    amount = f"{size / 1e9:.3g} GB" if size >= 1e9 else f"{size / 1e6:.3g} MB"
    return f"{series} {names} × {frames} frames of {what}, {amount}"


def exact(data: Movie | Trajectories, system: System) -> str:
    """The EP the estimators should find, in the system's unit of time: exact, or for a system whose truth is
    simulated (its params say sigma_exact: False) a Monte Carlo value of this simulation's length."""
    t, unit = data.truth, f"k_B/{system.time_unit}"
    name = t.params.get("sigma_label", "σ")   # an active system's convention: σ_A or σ_B
    hidden = f" ({t.params['hidden']})" if "hidden" in t.params else ""   # what these data cannot show of sigma
    if not t.params.get("sigma_exact", True):
        convention = f"; convention {t.params['convention']}" if "sigma_label" in t.params else ""
        return (f"EP rate {name} ≈ {t.sigma:.4g} {unit} from the simulation itself (Monte Carlo: exact only as it "
                f"grows){convention}{hidden}")
    ceiling = (f"; two-frame ceiling σ_2pt = {t.sigma_2pt:.4g} {unit} (the most pairs of frames reveal)"
               if t.params.get("sigma_2pt_exact", True) else "")
    return f"exact EP rate σ = {t.sigma:.4g} {unit}{ceiling}{hidden}"


def not_previewed(sample: Trajectories) -> str:
    """What the preview of a long simulation says instead of its EP, which only the burn-in makes meaningful."""
    p = sample.truth.params
    return (f"EP rate {p.get('sigma_label', 'σ')} measured by the simulation after its burn-in (minutes; not "
            f"previewed); convention {p['convention']}" if "convention" in p else
            "EP rate measured by the simulation after its burn-in (minutes; not previewed)")


class GenerationProgress(QProgressDialog):
    """A long simulation's progress (time steps done, time left) and its Cancel, while the main window runs it."""

    def __init__(self, name: str, parent=None):
        super().__init__(f"Simulating {name}…", "Cancel", 0, 1000, parent, windowTitle="Generating synthetic data")
        self.setMinimumDuration(0)
        self.setMinimumWidth(420)

    def show_progress(self, ev: Progress) -> None:
        left = "" if ev.left_s is None else f", about {ev.left_s:.0f} s left"
        self.setLabelText(f"{ev.message}: {ev.done}/{ev.total} time steps, {ev.elapsed_s:.0f} s elapsed{left}")
        self.setValue(round(1000 * ev.done / max(ev.total, 1)))


class GenerateDialog(QDialog):
    def __init__(self, parent=None):
        super().__init__(parent, windowTitle="Generate synthetic data")
        self.system = QComboBox(toolTip="The system to simulate; each has an exactly known EP")
        self.system.addItems(list(SYSTEMS))
        self.summary = QLabel(wordWrap=True)
        top = QFormLayout()
        top.addRow("System", self.system)
        top.addRow(self.summary)
        # Typing fires many edits; the preview is simulated once they pause.
        self._debounce = QTimer(self, singleShot=True, interval=150)
        self._debounce.timeout.connect(self.update_preview)
        # One page per system, each a group per settings class; a hidden page takes no room.
        self.forms: dict[str, dict[type, ParamForm]] = {}
        self.groups: dict[str, dict[type, QGroupBox]] = {}
        self.pages: dict[str, QWidget] = {}
        for s in SYSTEMS.values():
            page = self.pages[s.name] = QWidget()
            row = QHBoxLayout(page)
            row.setContentsMargins(0, 0, 0, 0)
            self.forms[s.name], self.groups[s.name] = {}, {}
            for cls in s.configs:
                form = self.forms[s.name][cls] = ParamForm(cls)
                group = self.groups[s.name][cls] = QGroupBox(title(cls), toolTip=(cls.__doc__ or "").strip())
                QVBoxLayout(group).addWidget(form)
                row.addWidget(group)
                form.changed.connect(self._debounce.start)
        self.preview = pg.PlotWidget()
        self.preview.setAspectLocked(True)
        self.preview.invertY(True)
        self.preview.hideAxis("left")
        self.preview.hideAxis("bottom")
        self.preview_image = pg.ImageItem()
        self.preview.addItem(self.preview_image)
        self.preview.setMinimumHeight(120)
        self.message = QLabel(wordWrap=True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Generate")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        for page in self.pages.values():
            layout.addWidget(page)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.message)
        layout.addStretch()   # room the wrapped labels leave over goes here, not between the forms, when no preview
        layout.addWidget(self.buttons)
        self._shown = None     # the system and kind of data the dialog's layout was last sized for
        self.system.currentTextChanged.connect(self._show_system)
        self._show_system()

    def current(self) -> System:
        return SYSTEMS[self.system.currentText()]

    def request(self) -> tuple[System, list]:
        """The chosen system and one settings instance per class of it; raises CneepError for impossible ones.

        The movie-only settings are read only when a movie is written (otherwise they do not matter, and a hidden
        form must not block)."""
        system = self.current()
        forms = self.forms[system.name]
        built = {cls: form.build() for cls, form in forms.items() if cls not in system.movie_configs}
        movie = system.writes(*built.values()) == "movie"
        return system, [built[cls] if cls in built else forms[cls].build() if movie else cls()
                        for cls in system.configs]

    def _show_system(self) -> None:
        system = self.current()
        self.summary.setText(system.summary[0].upper() + system.summary[1:])
        for name, page in self.pages.items():
            page.setVisible(name == system.name)
        self.update_preview()

    def update_preview(self) -> None:
        """Simulate the least data of the current settings: its exact EP, and for a movie its first frame."""
        self._debounce.stop()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        try:
            system, configs = self.request()
            sample = system.preview(*configs)
        except CneepError as e:
            self.message.setText(f"<span style='color:#d62728'>{e}</span>")
            ok.setEnabled(False)
            return
        movie = isinstance(sample, Movie)
        for cls in system.movie_configs:
            self.groups[system.name][cls].setVisible(movie)
        self.preview.setVisible(movie)
        if movie:
            self.preview_image.setImage(sample.frames[0, 0], autoLevels=True)
            self.preview.autoRange(padding=0)
        ep = not_previewed(sample) if system.quick else exact(sample, system)
        self.message.setText(f"{describe(sample, *system.amount(*configs))}<br>{ep}")
        ok.setEnabled(True)
        if self._shown != (system.name, movie):   # only then, so that a size the user chose stays
            self._shown = system.name, movie
            QTimer.singleShot(0, self.adjustSize)   # once the layout has taken in what was just hidden or shown
