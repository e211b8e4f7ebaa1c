"""Form rows built from declared parameters (cneep_engine/params.py): the same ranges, units and help as the CLI.

    form = ParamForm(BeadSpringChain)
    form["tc"].setValue(2.0)
    chain = form.build()          # BeadSpringChain(tc=2.0, ...); raises CneepError for an impossible one
"""

from __future__ import annotations

import math

from PyQt6.QtCore import pyqtSignal
from PyQt6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLineEdit, QSpinBox, QWidget

from cneep_engine.params import Param, specs

_LARGEST = {int: 2**31 - 1, float: 1e9}   # a spin box's end where none is declared; a Qt int holds no more


def tooltip(p: Param) -> str:
    """The declared help, with the unit and the command line's name of the same setting."""
    s = p.spec
    unit = f" ({s.unit})" if s.unit else ""
    return f"{s.help[0].upper()}{s.help[1:]}{unit}. Command line: {p.option}"


UNSET = "none"   # what a spin box shows at its lowest value for an optional setting left unset (None)


def editor(p: Param) -> QWidget:
    """The widget for one parameter, showing its default: a check box, a choice, a line of text, or a spin box over the
    declared range (an open lower bound starts at the smallest step the box shows; an optional setting gets
    one step more below it, which reads "none")."""
    s = p.spec
    if p.kind is bool:
        w = QCheckBox(checked=bool(p.default))
    elif s.choices:
        w = QComboBox()
        w.addItems([str(c) for c in s.choices])
        w.setCurrentText(str(p.default))
    elif p.kind is str:   # free text the dataclass parses and checks, e.g. "2,2;5,3" or "0:50,0:60"
        w = QLineEdit(p.default or "", placeholderText="none" if not p.default else "")
    else:
        w = QSpinBox() if p.kind is int else QDoubleSpinBox(decimals=s.decimals, singleStep=s.step)
        low = s.low if s.low is not None else (s.above + 10.0 ** -s.decimals if s.above is not None else 0)
        if p.optional:
            low -= 1 if p.kind is int else 10.0 ** -s.decimals
            w.setSpecialValueText(UNSET)
        high = min(s.high if s.high is not None else math.inf, _LARGEST[p.kind])
        w.setRange(p.kind(low) if p.kind is int else low, high)
        if s.unit:
            w.setSuffix(f" {s.unit}")
        set_value(w, p.default)
    w.setToolTip(tooltip(p))
    return w


def value(w: QWidget):
    if isinstance(w, QCheckBox):
        return w.isChecked()
    if isinstance(w, QComboBox):
        return w.currentText()
    if isinstance(w, QLineEdit):
        return w.text().strip()
    return None if w.specialValueText() and w.value() == w.minimum() else w.value()


def set_value(w: QWidget, v) -> None:
    if isinstance(w, QCheckBox):
        w.setChecked(bool(v))
    elif isinstance(w, QComboBox):
        w.setCurrentText(str(v))
    elif isinstance(w, QLineEdit):
        w.setText(v or "")
    else:
        w.setValue(w.minimum() if v is None else v)


def changed_signal(w: QWidget):
    return (w.toggled if isinstance(w, QCheckBox) else w.currentIndexChanged if isinstance(w, QComboBox)
            else w.textChanged if isinstance(w, QLineEdit) else w.valueChanged)


class ParamForm(QWidget):
    """One row per declared parameter of `cls` (except `skip`), labelled as declared."""

    changed = pyqtSignal()

    def __init__(self, cls, skip: tuple[str, ...] = (), parent=None):
        super().__init__(parent)
        self.cls = cls
        self.form = QFormLayout(self)
        self.widgets: dict[str, QWidget] = {}
        for p in specs(cls):
            if p.name in skip:
                continue
            w = self.widgets[p.name] = editor(p)
            self.form.addRow(p.label, w)
            changed_signal(w).connect(self.changed)

    def __getitem__(self, name: str) -> QWidget:
        return self.widgets[name]

    def values(self) -> dict:
        return {name: value(w) for name, w in self.widgets.items()}

    def build(self, **given):
        """The dataclass with the values shown (and `given`); its checks raise CneepError."""
        return self.cls(**{**self.values(), **given})

    def set_values(self, obj) -> None:
        for name, w in self.widgets.items():
            set_value(w, getattr(obj, name))
