"""write_release checks model.json with the parser every client uses before writing anything."""

import pytest

from classifier.model_card import ModelCardError
from training.hparams import HParams
from training.release import TrainingRun
from training.release.files import write_release


def test_a_card_clients_would_refuse_is_not_written(tmp_path):
    out = tmp_path / "tiny" / "0.1.0"
    run = TrainingRun(out=out, name="tiny", version="0.1.0", index=None, arrays={}, skipped={},
                      trained=None, released=None, temperature=1.0, hp=HParams(), history=[],
                      ood={}, training_seconds=0.0, log=print)  # fmt: skip
    card = {"name": "tiny", "version": "0.1.0", "labels": ["a", "b"], "file": {"sha256": "zz"}}
    with pytest.raises(ModelCardError, match="sha256"):
        write_release(run, {"path": tmp_path / "none.tflite"}, card, {})
    assert not out.exists()
