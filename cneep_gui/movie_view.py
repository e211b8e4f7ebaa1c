"""The frame, the dissipation map laid over it, the frame's contrast/LUT control, the map's colour bar and a
scale bar in µm.

The overlay uses the engine's RGBA table (`cneep_engine.export.diverging_lut`) with symmetric levels, so
zero is transparent and what is drawn here is what `export.overlay_rgb` writes to PNG and movies.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from cneep_engine.export import diverging_lut, symmetric_limit
from cneep_engine.figure import round_length

_LUT = diverging_lut()
_BAR_COLOURS = pg.ColorMap(np.linspace(0, 1, len(_LUT)), _LUT[:, :3])


class MovieView(pg.GraphicsLayoutWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.view = self.addViewBox(row=0, col=0, lockAspect=True, invertY=True, enableMenu=False)
        self.image = pg.ImageItem()
        self.overlay = pg.ImageItem()
        self.overlay.setZValue(10)
        self.overlay.setLookupTable(_LUT)
        self.view.addItem(self.image)
        self.view.addItem(self.overlay)
        self.hist = pg.HistogramLUTItem(image=self.image)
        self.addItem(self.hist, row=0, col=1)
        self.colorbar = pg.ColorBarItem(values=(-1, 1), colorMap=_BAR_COLOURS, interactive=False, width=15,
                                        colorMapMenu=False)
        self.addItem(self.colorbar, row=0, col=2)
        self.limit = 1.0
        self._fixed_limit: float | None = 1.0
        self.set_opacity(0.7)
        self._shape: tuple[int, ...] | None = None
        self.pixel_size: float | None = None
        self.scale_bar: pg.ScaleBar | None = None
        self.scale_bar_on = True
        self.show_map(None)

    def show_frame(self, frame: np.ndarray) -> None:
        """Draw a frame; a frame of a new size resets the view and the contrast from its own range."""
        new = frame.shape != self._shape
        self.image.setImage(frame, autoLevels=new)
        if new:
            self._shape = frame.shape
            self.view.autoRange(padding=0)
            self.set_pixel_size(self.pixel_size)

    def set_pixel_size(self, pixel_size: float | None) -> None:
        """A scale bar of a round length in µm, about a fifth of the frame's width, at the bottom right;
        none while the pixel size is unknown (None)."""
        self.pixel_size = pixel_size
        if self.scale_bar is not None:
            self.scene().removeItem(self.scale_bar)
            self.scale_bar = None
        if pixel_size is None or self._shape is None:
            return
        um = round_length(self._shape[1] * pixel_size / 5)
        self.scale_bar = pg.ScaleBar(size=um / pixel_size, width=4, brush="w", pen=pg.mkPen("k"), suffix="",
                                     offset=(-15, -15))
        self.scale_bar.text.setText(f"{um:g} µm")
        self.scale_bar.setParentItem(self.view)
        self.scale_bar.setVisible(self.scale_bar_on)

    def show_scale_bar(self, on: bool) -> None:
        self.scale_bar_on = on
        if self.scale_bar is not None:
            self.scale_bar.setVisible(on)

    def set_scale(self, limit: float | None, label: str) -> None:
        """Map values -limit..+limit span the colour table; the colour bar says what they are. With limit
        None the scale follows each map shown (a single map, such as the time average, uses its own range)."""
        self._fixed_limit = limit
        if limit is not None:
            self._set_limit(limit)
        self.colorbar.setLabel("left", label)

    def _set_limit(self, limit: float) -> None:
        self.limit = limit
        self.overlay.setLevels((-limit, limit))
        self.colorbar.setLevels((-limit, limit))

    def show_map(self, ep_map: np.ndarray | None) -> None:
        visible = ep_map is not None
        if visible:
            if self._fixed_limit is None:
                self._set_limit(symmetric_limit(ep_map))
            self.overlay.setImage(ep_map, autoLevels=False, levels=(-self.limit, self.limit))
        self.overlay.setVisible(visible)
        self.colorbar.setVisible(visible)

    def set_opacity(self, opacity: float) -> None:
        self.opacity = opacity
        self.overlay.setOpacity(opacity)

    def levels(self) -> tuple[float, float]:
        low, high = self.image.getLevels()
        return float(low), float(high)

    def frame_lut(self) -> np.ndarray:
        """The frame's current colour table, as the user picked it in the histogram's gradient."""
        return self.hist.gradient.getLookupTable(256, alpha=False)

    def widget_pos(self, row: float, col: float):
        """Where pixel (row, col) of the frame appears in this widget, for picking colours in tests and tools."""
        scene = self.image.mapToScene(pg.Point(col + 0.5, row + 0.5))
        return self.mapFromScene(scene)
