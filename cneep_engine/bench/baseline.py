"""The published CNEEP training loop (Bae, Kim & Jeong 2022), re-implemented from its description as the
yardstick for every speed figure (the authors' published code and the paper's training description).

What it keeps of the published loop, on purpose, because these are what cost it time:
- the movies live on the host as float32, shaped (movies, frames, 1, H, W);
- every batch draws (movie, start) pairs on the host, fancy-indexes the movie once per frame of the window,
  concatenates the frames along channels with torch.cat and copies the batch to the device with a
  synchronous .to(device), then normalises it with the mean and std of one frame (the first training frame);
- the network runs twice, once on the window and once on the time-reversed window, in fp32;
- Adam, lr 1e-4, coupled weight decay 5e-5 (Adam's weight_decay, not AdamW), batch 4096, no schedule;
- every `record_every` iterations it sweeps all windows of the training and the validation movies in
  batches of 10,000 and copies each batch's predictions to the host.
The network weights and shapes are those of `cneep_engine.models.CNEEP`, its layers called in the published
order (`CNEEP.published_trunk`), so a speed ratio compares loops and our order of the same layers.
"""

from __future__ import annotations

import numpy as np
import torch

from ..metrics import compare
from ..models import CNEEP, CNEEPConfig
from ..movie import Movie

BATCH, LR, WEIGHT_DECAY, EVAL_BATCH = 4096, 1e-4, 5e-5, 10_000


class PublishedLoop:
    def __init__(self, movie: Movie, train_movies: np.ndarray, config: CNEEPConfig = CNEEPConfig(),
                 batch: int = BATCH, lr: float = LR, weight_decay: float = WEIGHT_DECAY,
                 device: str | torch.device = "cpu", seed: int = 0):
        self.movie, self.config, self.batch = movie, config, batch
        self.device = torch.device(device)
        self.frames = torch.from_numpy(np.asarray(movie.frames, dtype=np.float32)).unsqueeze(2)  # host, float32
        self.train_movies = torch.as_tensor(train_movies)
        first = self.frames[self.train_movies[0], 0]
        self.mean, self.std = float(first.mean()), float(first.std())
        torch.manual_seed(seed)
        self.model = CNEEP(movie.frame_shape, config).to(self.device)   # its own mean 0, std 1: unused here
        self.trunk = self.model.published_trunk()
        self.opt = torch.optim.Adam(self.model.parameters(), lr=lr, weight_decay=weight_decay)
        self.gen = torch.Generator().manual_seed(seed)

    def windows(self, movies: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
        """The published batch: one host gather per frame of the window, concatenated, copied, normalised."""
        frames = [self.frames[movies, starts + k] for k in range(self.config.seq_len)]
        x = torch.cat(frames, dim=1).to(self.device)
        return (x - self.mean) / self.std

    def h(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.head(self.trunk(x).flatten(1)).squeeze(-1)

    def ep(self, x: torch.Tensor) -> torch.Tensor:
        """dS = h(window) - h(reversed window): two separate passes through the network."""
        return self.h(x) - self.h(x.flip(1))

    def step(self) -> torch.Tensor:
        n_frames = self.frames.shape[1]
        movies = self.train_movies[torch.randint(len(self.train_movies), (self.batch,), generator=self.gen)]
        starts = torch.randint(n_frames - self.config.seq_len + 1, (self.batch,), generator=self.gen)
        ds = self.ep(self.windows(movies, starts))
        loss = (torch.exp(-ds) - ds).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.detach()

    @torch.no_grad()
    def evaluate(self, movies: np.ndarray) -> np.ndarray:
        """dS of every transition of `movies`, (len(movies), frames - 1), swept in order as published,
        each batch's predictions copied to the host."""
        n = self.frames.shape[1] - self.config.seq_len + 1
        pairs = torch.cartesian_prod(torch.as_tensor(movies), torch.arange(n))
        out = [self.ep(self.windows(p[:, 0], p[:, 1])).cpu().numpy() for p in pairs.split(EVAL_BATCH)]
        return np.concatenate(out).reshape(len(movies), n)

    def report(self, movies: np.ndarray) -> dict:
        """The published pred_rate (slope of the movie-averaged cumulative dS against the step, over dt)
        and, with ground truth, R^2 against the exact dS."""
        pred = self.evaluate(movies)
        curve = np.cumsum(pred, axis=1).mean(0)
        rate = float(np.polyfit(np.arange(1, curve.size + 1), curve, 1)[0]) / self.movie.dt
        out = {"rate": rate}
        if self.movie.truth is not None and self.config.seq_len == 2:
            out["r2"] = compare(pred.ravel(), self.movie.truth.ds[movies].ravel())["r2"]
        return out
