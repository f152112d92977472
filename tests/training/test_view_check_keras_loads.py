"""A view-check release's model.keras loads where training.model is imported (bench.model,
--start-from), in a process that never ran the release tool: its layers are registered with
the other custom layers. Before, `make bench-model` stopped on wbc-differential 2.3.0 with
"Could not locate class 'QuarterTurnBatch'"."""

import json
import subprocess
import sys

import pytest

from bench.inputs import MODELS_ROOT
from training.paths import REPO_ROOT, datasets_root

LOAD_AND_RUN = """
import json, sys
import numpy as np
import keras
import training.model  # noqa: F401  (registers the custom layers)
from classifier.classify import Classifier, load_image
release, image = sys.argv[1], sys.argv[2]
model = keras.saving.load_model(release + "/model.keras", compile=False)
classifier = Classifier(release)
pixels = load_image(image, classifier.size)  # the model input, as the client makes it
keras_views = model.predict_on_batch(pixels[None].astype(np.float32))[-1]
file_views = classifier.model.run_views(pixels)[3]
print(json.dumps([keras_views.shape[1], float(np.abs(keras_views - file_views).max())]))
"""


@pytest.mark.parametrize(("version", "count"), [("2.3.0", 1), ("2.7.0", 1), ("2.8.0", 2)])
def test_a_view_check_release_s_keras_model_loads_in_a_fresh_process(version, count):
    release = MODELS_ROOT / "wbc-differential" / version
    card = json.loads((release / "model.json").read_text())
    assert card["view_check"]["output"] == "views"
    image = sorted((datasets_root() / "pbc" / "test" / "neutrophil").iterdir())[0]
    done = subprocess.run(
        [sys.executable, "-c", LOAD_AND_RUN, str(release), str(image)],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    views, difference = json.loads(done.stdout.strip().splitlines()[-1])
    assert views == count  # the quarter turn (2.8.0: the image itself first)
    assert difference < 0.02  # the Keras model's views are the file's (float16 vs float32)
