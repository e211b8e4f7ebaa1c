"""Typed parameters, declared once on a dataclass's fields, read by everything that shows or checks them.

A field declared with `param(default, "help", unit=..., low=..., high=...)` carries its help text, unit, valid
range or choices, the name of its command-line option and the label of its row in the app. From these,
`add_options` writes the argparse options, `from_options` builds the dataclass back from parsed arguments,
`check` refuses values out of range with the option's name, and `describe` lists them (`cneep list --json`);
the app builds its forms from the same `specs`.

    @dataclass(frozen=True)
    class Chain:
        beads: int = param(2, "beads in the chain", low=2, high=50)
"""

from __future__ import annotations

import argparse
import math
import types
import typing
from dataclasses import MISSING, Field, dataclass, field, fields

from .errors import CneepError


@dataclass(frozen=True)
class Spec:
    help: str
    label: str = ""           # the app's row label; default: the name, spaced and capitalised
    unit: str = ""
    low: float | None = None  # inclusive bounds
    above: float | None = None   # exclusive lower bound ("positive": above=0)
    high: float | None = None
    choices: tuple = ()
    option: str = ""          # the command-line option without "--"; default: the name with "-" for "_"
    only: tuple = ()          # the estimators that read it; empty: all
    app: bool = True          # a row in the app's form
    decimals: int = 3         # shown in the app for floats
    step: float = 0.05        # the app's step for floats


def param(default, help: str, **spec) -> Field:
    return field(default=default, metadata={"spec": Spec(help=help, **spec)})


def redefault(cls, name: str, default) -> Field:
    """The declared field `name` of `cls` with another default, for a subclass that keeps its help, unit and
    range: `sharpness: float = redefault(Repulsion, "sharpness", 30.0)`."""
    return field(default=default, metadata=cls.__dataclass_fields__[name].metadata)


@dataclass(frozen=True)
class Param:
    """One declared field: its name, Python type (None allowed when `optional`), default and Spec."""

    name: str
    kind: type
    optional: bool
    default: object
    spec: Spec

    @property
    def option(self) -> str:
        return "--" + (self.spec.option or self.name.replace("_", "-"))

    @property
    def label(self) -> str:
        return self.spec.label or self.name.replace("_", " ").capitalize()

    def describe(self) -> dict:
        s = self.spec
        return {"name": self.name, "option": self.option, "type": self.kind.__name__, "optional": self.optional,
                "default": self.default, "unit": s.unit or None, "low": s.low, "above": s.above, "high": s.high,
                "choices": list(s.choices) or None, "only": list(s.only) or None, "help": s.help}


def specs(cls) -> list[Param]:
    """The declared fields of a dataclass (fields without a Spec are left out), in declaration order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in fields(cls):
        spec = f.metadata.get("spec")
        if spec is None:
            continue
        kind, optional = hints[f.name], False
        if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
            args = [a for a in typing.get_args(kind) if a is not type(None)]
            kind, optional = args[0], True
        default = f.default if f.default is not MISSING else None
        out.append(Param(f.name, kind, optional, default, spec))
    return out


def check(obj) -> None:
    """Refuse a value out of its declared range or choices, naming the command-line option."""
    for p in specs(type(obj)):
        value = getattr(obj, p.name)
        if value is None and p.optional:
            continue
        s = p.spec
        if s.choices and value not in s.choices:
            raise CneepError(f"{p.option} must be one of {', '.join(map(str, s.choices))}, not {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise CneepError(f"{p.option} ({p.label.lower()}) must be a finite number, not {value}")
        if s.above is not None and value <= s.above:
            raise CneepError(f"{p.option} ({p.label.lower()}) must be above {s.above:g}, not {value:g}")
        if s.low is not None and value < s.low:
            raise CneepError(f"{p.option} ({p.label.lower()}) must be at least {s.low:g}, not {value:g}")
        if s.high is not None and value > s.high:
            raise CneepError(f"{p.option} ({p.label.lower()}) must be at most {s.high:g}, not {value:g}")


def _help(p: Param) -> str:
    s = p.spec
    def n(v) -> str:   # whole numbers in full: "2 to 100000000", not "2 to 1e+08"
        return str(v) if isinstance(v, int) else f"{v:g}"
    bounds = (f"{n(s.low)} to {n(s.high)}" if s.low is not None and s.high is not None
              else f">= {n(s.low)}" if s.low is not None else f"> {n(s.above)}" if s.above is not None
              else f"<= {n(s.high)}" if s.high is not None else "")
    notes = "; ".join(n for n in (s.unit, bounds, f"{', '.join(s.only)} only" if s.only else "") if n)
    return (f"{s.help} ({notes})" if notes else s.help).replace("%", "%%")


def add_options(parser: argparse.ArgumentParser, cls, skip: tuple[str, ...] = ()) -> None:
    """One option per declared field of `cls` (except `skip`), with its default, type, choices and help."""
    for p in specs(cls):
        if p.name in skip:
            continue
        if p.kind is bool:
            parser.add_argument(p.option, action=argparse.BooleanOptionalAction, default=p.default,
                                help=_help(p), dest=p.name)
            continue
        parser.add_argument(p.option, type=p.kind, default=p.default, help=_help(p), dest=p.name,
                            choices=list(p.spec.choices) or None)


def from_options(cls, args: argparse.Namespace, **given):
    """`cls` built from parsed arguments (the fields `add_options` declared), with `given` taking precedence."""
    values = {p.name: getattr(args, p.name) for p in specs(cls) if hasattr(args, p.name)}
    return cls(**{**values, **given})


def describe(cls) -> list[dict]:
    return [p.describe() for p in specs(cls)]
