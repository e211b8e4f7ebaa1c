"""Import contracts between the layers: the engine never pulls in Qt, the app reaches torch only through the engine,
and reading data does not depend on the simulators."""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
QT = ("PyQt6", "pyqtgraph", "PySide6", "qtpy")


def _imports(path: Path, package: str) -> set[str]:
    """Absolute names of every module `path` imports, anywhere in it (also inside functions); relative imports
    resolved against the module's own package."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[:len(package.split(".")) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            names.add(module)
            names.update(f"{module}.{a.name}" for a in node.names)   # `from . import synth` imports a module too
    return names


def _package(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).parts[:-1])   # a module's package, or the package of an __init__.py


def test_no_engine_module_imports_qt():
    """In a fresh interpreter, every module of cneep_engine imported: neither PyQt6 nor pyqtgraph is loaded."""
    code = ("import pkgutil, sys, importlib, cneep_engine\n"
            "for m in pkgutil.walk_packages(cneep_engine.__path__, 'cneep_engine.'):\n"
            "    if not m.name.endswith('__main__'):\n"   # runs the command line
            "        importlib.import_module(m.name)\n"
            f"print(len(sys.modules), sorted(m for m in sys.modules if m.split('.')[0] in {QT!r}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split(maxsplit=1)[1].strip() == "[]"


def test_the_app_reaches_torch_only_through_the_engine():
    offenders = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "cneep_gui").rglob("*.py"))
                 if any(name.split(".")[0] == "torch" for name in _imports(p, _package(p)))]
    assert offenders == []


def test_reading_data_does_not_depend_on_the_simulators():
    offenders = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "cneep_engine" / "io").rglob("*.py"))
                 if any(name == "cneep_engine.synth" or name.startswith("cneep_engine.synth.")
                        for name in _imports(p, _package(p)))]
    assert offenders == []


def test_the_checks_see_relative_and_late_imports(tmp_path):
    """The ast reading resolves `from ..synth import x` and finds imports inside functions."""
    (tmp_path / "m.py").write_text("def f():\n    import torch.nn\n    from ..synth.ratchet import R\n")
    names = _imports(tmp_path / "m.py", "cneep_engine.io")
    assert {"torch.nn", "cneep_engine.synth.ratchet", "cneep_engine.synth.ratchet.R"} <= names
