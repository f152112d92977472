"""TrainingRun: what a finished training hands over to be released."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from training.dataset import DatasetIndex
from training.hparams import HParams

if TYPE_CHECKING:
    import keras


@dataclass
class HeldOutLab:
    """The lab a leave-one-lab-out run never trained or tuned on (training.labs), to score."""

    name: str
    images: np.ndarray
    labels: np.ndarray
    no_white_cell: int
    """Crops left out because no white cell was found to frame (framed runs only)."""


@dataclass
class TrainingRun:
    """One run's models, the data they are measured on, and the facts its model card records."""

    out: Path
    """The release folder, tflite_models/<name>/<version>."""
    name: str
    version: str
    index: DatasetIndex
    """The dataset the run trained on: labels, layout, counts and notes."""
    arrays: dict[str, tuple[np.ndarray, np.ndarray]]
    """split ("train", "val", "test") -> (images as the model sees them, label indices)."""
    skipped: dict[str, list[str]]
    """split -> one message per image left out (unreadable, or no white cell to frame)."""
    trained: keras.Model
    """The fitted network before calibration: its test ECE is the 'before' figure."""
    released: keras.Model
    """Calibrated, with the familiarity output: the model the .tflite files are converted from."""
    temperature: float
    hp: HParams
    history: list[dict]
    """Keras fit history per stage (head, fine-tune)."""
    ood: dict[str, tuple[np.ndarray, int]]
    """name -> (images that should come out 'unfamiliar', images left out: no white cell)."""
    training_seconds: float
    log: Callable[[str], None]
    labs: dict[str, dict[str, int]] = field(default_factory=dict)
    """With other labs (training.labs): set -> lab -> images; empty for a pbc-only run."""
    held_out: HeldOutLab | None = None

    @property
    def labels(self) -> list[str]:
        return self.index.labels
