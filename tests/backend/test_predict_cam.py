"""/predict with a release that declares the why-this-call map (wbc-differential 2.2.0) answers
what its source (2.1.0) answers plus that map, the one the Python classifier makes; the source
itself answers no map; field mode gives each cell its own."""

import io

import pytest

from backend.storage import blobs
from bench.inputs import MODELS_ROOT, dataset_images
from classifier.classify import Classifier
from tests.conftest import publish_folder
from training.annotations import bccd_photos

NEW, SOURCE = MODELS_ROOT / "wbc-differential" / "2.2.0", MODELS_ROOT / "wbc-differential" / "2.1.0"


def _post(client, headers, path, **form):
    fields = {"image": (io.BytesIO(path.read_bytes()), path.name), **form}
    answer = client.post(
        "/predict", data=fields, headers=headers, content_type="multipart/form-data"
    )
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def test_predict_adds_the_map_of_a_release_that_declares_it_and_only_then(app, client, auth):
    image = dataset_images("pbc", per_class=1, classes=["monocyte"])[0]
    headers = auth.headers("tech")
    publish_folder(app, SOURCE)
    old = _post(client, headers, image)
    assert "cam" not in old and old["model"]["version"] == "2.1.0"
    publish_folder(app, NEW)  # activated: the newer release answers from now on
    new = _post(client, headers, image)
    assert new["model"]["version"] == "2.2.0"
    with app.app_context():  # the server classifies the upload as it stored it (re-encoded)
        stored = io.BytesIO(blobs.read("uploads/" + new["image_path"]))
    assert new["cam"] == Classifier(NEW).classify(stored)["cam"]
    assert new["cam"]["label"] == new["predicted_label"] == old["predicted_label"]
    assert (new["status"], new["confidence"]) == (old["status"], old["confidence"])
    assert new["probabilities"] == pytest.approx(old["probabilities"], abs=1e-4)
    field = _post(client, headers, bccd_photos("held-out")[0], mode="field")
    assert field["cells"] and all(c["cam"]["label"] == c["label"] for c in field["cells"])
