"""Review: doctors and admins confirm or correct; the model's label stays; the queue."""

import re

import pytest
import sqlalchemy as sa

from backend import db
from backend.models import AuditEntry, Prediction, Review
from tests.dashboard.conftest import post_form, seed_results, sign_in


@pytest.fixture
def seeded(client, auth):
    return seed_results(client, auth)


def _review(client, record_id: str, label: str, note: str = "", queue: bool = False):
    data = {"label": label, "note": note}
    if queue:
        data["queue"] = "1"
    return post_form(
        client,
        f"/dashboard/results/{record_id}",
        f"/dashboard/results/{record_id}/review",
        data,
    )


def _stored(app, record_id: str) -> Prediction:
    with app.app_context():
        p = db.session.scalar(sa.select(Prediction).where(Prediction.id == record_id))
        db.session.expunge(p)
        return p


def test_a_correction_keeps_the_models_label_beside_the_reviewed_one(app, client, seeded):
    record_id = seeded["b"]["id"]
    sign_in(client, "viewer")
    response = _review(client, record_id, "lymphocyte", "bilobed? no: a large lymphocyte")
    assert response.status_code == 302
    stored = _stored(app, record_id)
    assert (stored.label, stored.reviewed_label, stored.review_note) == (
        "neutrophil",
        "lymphocyte",
        "bilobed? no: a large lymphocyte",
    )
    assert stored.reviewed_at is not None
    page = client.get(f"/dashboard/results/{record_id}").get_data(as_text=True)
    assert "changed <strong>Neutrophil</strong> to <strong>Lymphocyte</strong>" in page
    assert "(model said Neutrophil)" in page
    with app.app_context():
        entry = db.session.scalar(
            sa.select(AuditEntry).where(AuditEntry.action == "prediction.review")
        )
        assert (entry.username, entry.target) == ("viewer", record_id)
        assert entry.details == {
            "model_label": "neutrophil",
            "from": "neutrophil",
            "to": "lymphocyte",
        }


def test_every_review_is_kept_in_the_history(app, client, seeded):
    record_id = seeded["e"]["id"]
    sign_in(client, "viewer")
    _review(client, record_id, "monocyte")
    sign_in(client, "admin")
    _review(client, record_id, "neutrophil", "back to the model's call")
    with app.app_context():
        reviews = db.session.scalars(sa.select(Review).order_by(Review.id)).all()
        assert [(r.reviewer.username, r.previous_label, r.label) for r in reviews] == [
            ("viewer", "neutrophil", "monocyte"),
            ("admin", "monocyte", "neutrophil"),
        ]
    stored = _stored(app, record_id)
    assert stored.reviewed_label == "neutrophil" and stored.label == "neutrophil"
    page = client.get(f"/dashboard/results/{record_id}").get_data(as_text=True)
    assert page.index("back to the model") < page.index("changed <strong>Neutrophil</strong>")


@pytest.mark.parametrize("label", ["platelet", "", "neutrophil<script>"])
def test_a_label_outside_the_models_classes_is_refused(app, client, seeded, label):
    record_id = seeded["b"]["id"]
    sign_in(client, "viewer")
    response = _review(client, record_id, label)
    assert response.status_code == 400
    assert "The review was not saved" in response.get_data(as_text=True)
    assert _stored(app, record_id).reviewed_label is None
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Review)) == 0


def test_the_queue_shows_unfamiliar_first_and_walks_on(app, client, seeded):
    sign_in(client, "viewer")
    page = client.get("/dashboard/review").get_data(as_text=True)
    order = re.findall(r'href="/dashboard/results/([0-9a-f-]{36})\?queue=1"', page)
    # c is unfamiliar; b and e need review (b is older); confident ones are not queued
    assert list(dict.fromkeys(order)) == [seeded[k]["id"] for k in "cbe"]
    response = _review(client, seeded["c"]["id"], "lymphocyte", queue=True)
    assert response.headers["Location"] == f"/dashboard/results/{seeded['b']['id']}?queue=1"
    page = client.get("/dashboard/review").get_data(as_text=True)
    assert seeded["c"]["id"] not in page and "2 results waiting" in page
    assert (
        client.get("/dashboard/results?reviewed=yes")
        .get_data(as_text=True)
        .count(seeded["c"]["id"])
    )


def test_confirming_counts_as_reviewed(app, client, seeded):
    sign_in(client, "admin")
    _review(client, seeded["c"]["id"], "lymphocyte")
    page = client.get(f"/dashboard/results/{seeded['c']['id']}").get_data(as_text=True)
    assert "confirmed <strong>Lymphocyte</strong>" in page
    assert _stored(app, seeded["c"]["id"]).reviewed_label == "lymphocyte"
