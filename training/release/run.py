"""TrainingRun: what a finished training hands over to be released."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from training.dataset import DatasetIndex
from training.hparams import HParams

if TYPE_CHECKING:
    import keras


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

    @property
    def labels(self) -> list[str]:
        return self.index.labels
