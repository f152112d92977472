"""--weight-average-from: the run ends with the average of the trainable weights over every
batch from that fine-tuning epoch on (training.train.WeightAverage)."""

import keras
import numpy as np
import pytest

from training.train import WeightAverage
from training.train import main as train_main


class Recorder(keras.callbacks.Callback):
    """The trainable weights after every batch, per epoch."""

    def __init__(self):
        super().__init__()
        self.epochs: list[list[list[np.ndarray]]] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epochs.append([])

    def on_train_batch_end(self, batch, logs=None):
        self.epochs[-1].append([w.numpy().copy() for w in self.model.trainable_weights])


def test_the_fit_ends_with_the_mean_of_the_weights_after_each_batch_from_its_epoch():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 6)).astype("float32"), rng.integers(0, 3, 40)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4), keras.layers.Dense(3)])
    model.layers[1].trainable = False  # frozen layers are left as they are
    frozen = [w.copy() for w in model.layers[1].get_weights()]
    model.compile(keras.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    recorder = Recorder()
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[recorder, WeightAverage(2)])

    averaged = [s for epoch in recorder.epochs[1:] for s in epoch]  # epochs 2 and 3: 10 batches
    assert len(averaged) == 10
    expected = [np.mean([s[k] for s in averaged], axis=0) for k in range(len(averaged[0]))]
    for got, want, last in zip(model.trainable_weights, expected, averaged[-1], strict=True):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
        assert not np.allclose(want, last)  # the average is not simply the last weights
    for got, want in zip(model.layers[1].get_weights(), frozen, strict=True):
        np.testing.assert_array_equal(got, want)


def test_an_averaging_epoch_outside_the_fine_tuning_is_refused_before_training(tmp_path, capsys):
    out = tmp_path / "m" / "0.1.0"
    args = ["--data", "pbc", "--out", str(out), "--fine-tune-epochs", "4",
            "--weight-average-from", "5"]  # fmt: skip
    with pytest.raises(SystemExit):
        train_main(args)
    assert "--weight-average-from must be" in capsys.readouterr().err and not out.exists()
