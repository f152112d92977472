"""POST /predict with mode=field: every white cell of a field photo, with its box, label,
confidence and status, from the real wbc-differential release; single-cell requests keep their
response; photos with nothing to find or too small to search never crash and store nothing wrong."""

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.inputs import dataset_images
from tests.conftest import MODELS_ROOT, base_release, framed_release, publish_folder
from training.annotations import bccd_photos, iou, malaria_fields, read_voc_boxes

SINGLE_KEYS = {
    "predicted_label", "confidence", "status", "status_reason", "probabilities", "model",
    "image_path",
}  # fmt: skip


@pytest.fixture
def wbc(app):
    publish_folder(app, base_release())


def _post(client, headers, data: bytes, **form):
    fields = {"image": (io.BytesIO(data), "photo.jpg"), **form}
    return client.post("/predict", data=fields, headers=headers, content_type="multipart/form-data")


def _jpeg(rgb: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="JPEG", quality=92)
    return out.getvalue()


def _stored(app) -> list[str]:
    """The stored uploads (blobs "uploads/..."); nothing is written to disk."""
    import sqlalchemy as sa

    from backend import db
    from backend.models import Blob

    assert not any(p.is_file() for p in Path(app.config["UPLOAD_FOLDER"]).rglob("*"))
    with app.app_context():
        return list(db.session.scalars(sa.select(Blob.key).where(Blob.key.like("uploads/%"))))


def _upload(app, image_path: str) -> io.BytesIO:
    from backend.storage import blobs

    with app.app_context():
        return io.BytesIO(blobs.read("uploads/" + image_path))


def test_a_field_photo_returns_the_white_cells_the_classifier_finds(app, client, auth, wbc):
    """The route returns classify_field's cells, each well formed; over the held-out photos the
    annotated white cells are found (IoU >= 0.5) at the finder's target recall of 0.97."""
    from classifier.classify import Classifier

    classifier = Classifier(base_release())
    photos = bccd_photos("held-out")
    annotated, found = 0, 0
    for photo in photos:
        response = _post(client, auth.headers("tech"), photo.read_bytes(), mode="field")
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["mode"] == "field" and body["model"]["name"] == "wbc-differential"
        assert (body["width"], body["height"]) == Image.open(photo).size
        # the server classifies the image it stores (re-encoded): the core gives the same there
        core = classifier.classify_field(_upload(app, body["image_path"]))["cells"]
        assert [(c["box"], c["label"], c["status"], c["status_reason"]) for c in body["cells"]] == [
            (c["box"], c["label"], c["status"], c["status_reason"]) for c in core
        ]
        for cell in body["cells"]:
            x0, y0, x1, y1 = cell["box"]
            assert 0 <= x0 < x1 <= body["width"] and 0 <= y0 < y1 <= body["height"]
            assert cell["label"] in cell["probabilities"]
            assert cell["confidence"] == max(cell["probabilities"].values())
            assert cell["status"] in ("confident", "review", "unfamiliar")
        for box in [b["box"] for b in read_voc_boxes(photo) if b["type"] == "wbc"]:
            annotated += 1
            found += max((iou(box, c["box"]) for c in body["cells"]), default=0.0) >= 0.5
    assert found / annotated >= 0.97, f"{found} of {annotated} annotated white cells found"
    assert len(_stored(app)) == len(photos)


def test_a_single_cell_request_keeps_its_response(client, auth, wbc):
    """The same keys as ever, plus the why-this-call map of the newest release (2.2.0 on)."""
    image = dataset_images("pbc", per_class=1)[0]
    body = _post(client, auth.headers("tech"), image.read_bytes()).get_json()
    assert set(body) == SINGLE_KEYS | {"cam"} and body["predicted_label"] in body["probabilities"]
    assert body["cam"]["label"] == body["predicted_label"]


def test_a_framed_model_says_unfamiliar_without_a_guess_when_no_white_cell(
    app, client, auth, tmp_path
):
    publish_folder(app, framed_release(tmp_path))
    crop = dataset_images("malaria", per_class=1)[0]  # red cells only
    body = _post(client, auth.headers("tech"), crop.read_bytes()).get_json()
    assert body["status"] == "unfamiliar" and body["predicted_label"] is None
    assert body["probabilities"] == {} and "no white cell" in body["reason"]
    assert body["status_reason"] == "no_cell"


def test_nothing_to_find_gives_no_cells(client, auth, wbc):
    rng = np.random.default_rng(6)
    black = np.zeros((480, 640, 3), np.uint8)
    blank = np.clip(rng.normal(225, 4, (480, 640, 3)), 0, 255).astype(np.uint8)
    for rgb in (black, blank):
        response = _post(client, auth.headers("tech"), _jpeg(rgb), mode="field")
        assert response.status_code == 200 and response.get_json()["cells"] == []


def test_a_6000x4000_field_photo_finds_the_white_cell_scaled(client, auth, wbc):
    photo = bccd_photos("held-out")[0]
    with Image.open(photo) as image:
        big = np.asarray(image.convert("RGB").resize((6000, 4000), Image.Resampling.BILINEAR))
    body = _post(client, auth.headers("tech"), _jpeg(big), mode="field").get_json()
    width, height = Image.open(photo).size
    sx, sy = 6000 / width, 4000 / height
    for x0, y0, x1, y1 in [b["box"] for b in read_voc_boxes(photo) if b["type"] == "wbc"]:
        scaled = [round(x0 * sx), round(y0 * sy), round(x1 * sx), round(y1 * sy)]
        assert max(iou(scaled, c["box"]) for c in body["cells"]) >= 0.5


@pytest.mark.parametrize(
    "data,form,status,code",
    [
        ("tiny", {"mode": "field"}, 400, "unreadable_image"),
        ("photo", {"mode": "fields"}, 400, "invalid_mode"),
    ],
)
def test_bad_field_requests_get_a_clear_error_and_store_nothing(
    app, client, auth, wbc, data, form, status, code
):
    data = _jpeg(np.full((8, 8, 3), 200, np.uint8)) if data == "tiny" else None
    data = data or bccd_photos("held-out")[0].read_bytes()
    response = _post(client, auth.headers("tech"), data, **form)
    assert response.status_code == status, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    assert _stored(app) == []


def test_a_release_with_a_malformed_framing_is_refused_at_publish(client, auth, tmp_path):
    from tests.backend.conftest import upload

    folder = framed_release(tmp_path, {"method": "wbc-canonical", "fill": 1.5})
    response = upload(client, auth.headers("admin"), folder)
    assert response.status_code == 400, response.get_json()
    assert "input.framing.fill" in response.get_json()["error"]["message"]


# --- red-cell field mode: a malaria screen that declares it (malaria-screen 1.1.0) -----------

RED_CELL_RELEASE = MODELS_ROOT / "malaria-screen" / "1.1.0"


@pytest.fixture
def malaria(app):
    publish_folder(app, RED_CELL_RELEASE)


def test_a_thin_film_field_returns_every_red_cell_with_edge_and_clump_marks(
    app, client, auth, malaria
):
    from classifier.classify import Classifier

    photo = malaria_fields()[0]["photo"]
    response = _post(client, auth.headers("tech"), photo.read_bytes(), mode="field")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["model"] == {"name": "malaria-screen", "version": "1.1.0"}
    assert body["cell_type"] == "rbc" and body["diameter"] > 50
    # the server classifies the image it stores: the core gives the same cells there
    core = Classifier(RED_CELL_RELEASE).classify_field(_upload(app, body["image_path"]))["cells"]
    key = ("box", "edge", "clump", "label", "status")
    assert [tuple(c[k] for k in key) for c in body["cells"]] == [
        tuple(c[k] for k in key) for c in core
    ]
    assert len(body["cells"]) > 50
    assert {c["label"] for c in body["cells"]} <= {"parasitized", "uninfected"}
    edge = [c for c in body["cells"] if c["edge"]]
    # a cut cell touches the photo's edge (to within the finder's shrink factor)
    width, height = body["width"], body["height"]
    assert edge and all(
        min(c["box"][0], c["box"][1], width - c["box"][2], height - c["box"][3]) < 8 for c in edge
    )
    assert any(c["clump"] for c in body["cells"])
    # the audit keeps the counts of labels, not a list of a hundred of them
    from backend.models import AuditEntry

    with app.app_context():
        entry = AuditEntry.query.filter_by(action="predict").one()
        counts = entry.details["label_counts"]
    assert sum(counts.values()) == len(body["cells"]) and "labels" not in entry.details


def test_red_cell_mode_on_a_blank_or_white_cell_photo_gives_a_clear_answer(client, auth, malaria):
    rng = np.random.default_rng(7)
    blank = np.clip(rng.normal(225, 4, (480, 640, 3)), 0, 255).astype(np.uint8)
    body = _post(client, auth.headers("tech"), _jpeg(blank), mode="field").get_json()
    assert body["cells"] == [] and body["diameter"] is None
    # a white-cell close-up: whatever red cells are found are classified, nothing crashes
    image = dataset_images("pbc", per_class=1)[0]
    response = _post(client, auth.headers("tech"), image.read_bytes(), mode="field")
    assert response.status_code == 200 and response.get_json()["cell_type"] == "rbc"
    tiny = _post(
        client, auth.headers("tech"), _jpeg(np.full((8, 8, 3), 200, np.uint8)), mode="field"
    )
    assert tiny.status_code == 400 and tiny.get_json()["error"]["code"] == "unreadable_image"


def test_the_older_malaria_release_keeps_looking_for_white_cells(app, client, auth):
    publish_folder(app, MODELS_ROOT / "malaria-screen" / "1.0.0")
    photo = malaria_fields()[0]["photo"]
    body = _post(client, auth.headers("tech"), photo.read_bytes(), mode="field").get_json()
    assert "cell_type" not in body
    assert all(set(c) >= {"box", "label"} and "edge" not in c for c in body["cells"])
