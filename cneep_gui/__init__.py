"""CNEEP Studio desktop app: a thin Qt face on `cneep_engine`. Start it with `cneep-studio [FILE]`."""

import pyqtgraph as pg

# Movies are (T, Y, X) numpy arrays: draw rows as rows, as every other tool our users know does.
pg.setConfigOptions(imageAxisOrder="row-major")
