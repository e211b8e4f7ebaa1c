"""CNEEP Studio engine: entropy production and dissipation maps from movies. Never imports Qt.

    import cneep_engine as ce
    movie = ce.load_movie("movie.tif")                 # or ce.simulate_bead_spring(...)
    run = ce.train(movie, ce.TrainConfig(), callback=print, run_dir="run")
    run.summary["ep_rate"], run.mean_map               # EP rate per s, time-averaged dissipation map
"""

from .errors import CneepError
from .io import load_movie, save_movie
from .maps import upsample
from .movie import GroundTruth, Movie
from .run import Run, load_run, train
from .synth import BeadRenderer, BeadSpringChain, simulate_bead_spring
from .training import Progress, TrainConfig

__all__ = ["BeadRenderer", "BeadSpringChain", "CneepError", "GroundTruth", "Movie", "Progress", "Run",
           "TrainConfig", "load_movie", "load_run", "save_movie", "simulate_bead_spring", "train", "upsample"]
