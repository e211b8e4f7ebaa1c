"""CNEEP Studio engine: entropy production and dissipation maps from movies and trajectories. Never imports Qt.

    import cneep_engine as ce
    movie = ce.load_movie("movie.tif")                 # or ce.simulate_bead_spring(...)
    run = ce.train(movie, ce.TrainConfig(), callback=print, run_dir="run")
    run.summary["ep_rate"], run.mean_map               # EP rate per s, time-averaged dissipation map

    tracks = ce.load_trajectories("tracks.csv")       # or ce.simulate_ratchet(...), simulate_bead_spring_trajectories
    run = ce.train(tracks, ce.TrainConfig(model="neep"))   # rneep with seq_len = n for hidden degrees of freedom
"""

from .errors import CneepError
from .io import load_input, load_movie, load_trajectories, save_movie, save_trajectories
from .maps import upsample
from .movie import GroundTruth, Movie
from .run import Run, load_run, train
from .synth import (BeadRenderer, BeadSpringChain, FilamentNetwork, FilamentRenderer, FlashingRatchet,
                    simulate_bead_spring, simulate_bead_spring_trajectories, simulate_network,
                    simulate_network_trajectories, simulate_ratchet)
from .training import Progress, TrainConfig
from .trajectories import Trajectories

__all__ = ["BeadRenderer", "BeadSpringChain", "CneepError", "FilamentNetwork", "FilamentRenderer", "FlashingRatchet",
           "GroundTruth", "Movie", "Progress", "Run", "TrainConfig", "Trajectories", "load_input", "load_movie",
           "load_run", "load_trajectories", "save_movie", "save_trajectories", "simulate_bead_spring",
           "simulate_bead_spring_trajectories", "simulate_network", "simulate_network_trajectories",
           "simulate_ratchet", "train", "upsample"]
