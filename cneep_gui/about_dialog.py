"""Help: About (versions and the device training uses) and the README's sections for the app, the verdict and
the command line, shown from the README in the source tree; an installed package has no README, and says so."""

from __future__ import annotations

import importlib.metadata
import platform
import re
from pathlib import Path

from PyQt6.QtCore import QUrl
from PyQt6.QtGui import QDesktopServices
from PyQt6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QTextBrowser, QVBoxLayout

import cneep_engine
from cneep_engine import CneepError
from cneep_engine.device import describe_device, resolve_device

README = Path(__file__).resolve().parent.parent / "README.md"
# Help menu entries: (menu text, the README heading they show)
SECTIONS = (("Using the app", "The desktop app: CNEEP Studio"),
            ("Reading the result: the verdict", "The verdict: error bar, equilibrium test, convergence"),
            ("Command line", "Command line"))


def version() -> str:
    try:
        return importlib.metadata.version("cneep-studio")
    except importlib.metadata.PackageNotFoundError:
        return "not installed (run from the source tree)"


def device_text(setting: str) -> str:
    """The device a training with this Device setting uses, by name."""
    try:
        return describe_device(resolve_device(setting))
    except CneepError as e:
        return str(e)


def about_text(device_setting: str = "auto") -> str:
    return (f"<h3>CNEEP Studio {version()}</h3>"
            "<p>Entropy production and dissipation maps from microscopy movies and trajectories, with neural "
            "estimators (CNEEP; Bae, Kim &amp; Jeong, PRR 4, 033094, 2022).</p>"
            f"<p>Engine: cneep_engine {version()}, {Path(cneep_engine.__file__).parent}<br>"
            f"PyTorch {importlib.metadata.version('torch')}, Python {platform.python_version()}<br>"
            f"Training device ({device_setting}): {device_text(device_setting)}</p>")


def readme_section(heading: str, readme: Path = README) -> str | None:
    """The README's section under `heading` (Markdown, down to the next heading of its level or higher), or
    None when there is no README or no such heading."""
    if not readme.is_file():
        return None
    text = readme.read_text(encoding="utf-8")
    start = re.search(rf"^(#+) {re.escape(heading)}\s*$", text, re.M)
    if start is None:
        return None
    level = len(start.group(1))
    end = re.compile(rf"^#{{1,{level}}} ", re.M).search(text, start.end())
    return text[start.start():end.start() if end else len(text)].strip()


class HelpDialog(QDialog):
    """Text (rich text for About, Markdown for a README section) with an Open README button where it exists."""

    def __init__(self, title: str, text: str, markdown: bool, parent=None):
        super().__init__(parent, windowTitle=title)
        # Links open outside, those of the README (docs/benchmarks.md#...) resolved against its folder.
        self.text = QTextBrowser(openLinks=False)
        self.text.anchorClicked.connect(
            lambda url: QDesktopServices.openUrl(QUrl.fromLocalFile(str(README)).resolved(url)))
        if markdown:
            self.text.setMarkdown(text)
        else:
            self.text.setHtml(text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        if README.is_file():
            buttons.addButton("Open README.md", QDialogButtonBox.ButtonRole.ActionRole).clicked.connect(
                lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(README))))
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        if markdown and README.is_file():
            layout.addWidget(QLabel(f"From {README}", wordWrap=True))
        layout.addWidget(buttons)
        self.resize(720, 520 if markdown else 300)


def about_dialog(device_setting: str, parent=None) -> HelpDialog:
    return HelpDialog("About CNEEP Studio", about_text(device_setting), False, parent)


def section_dialog(title: str, heading: str, parent=None) -> HelpDialog:
    text = readme_section(heading)
    if text is None:
        text = (f"# {heading}\n\nThe README is not installed with the package: read it in the project's source, "
                "or run `cneep --help` and `cneep train --help` for the command line.")
    return HelpDialog(title, text, True, parent)
