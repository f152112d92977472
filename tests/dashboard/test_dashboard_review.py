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


def _headline(page: str) -> str:
    return re.search(r'<h1 id="h-result">(.*?)</h1>', page, re.S).group(1)


def test_only_a_confident_result_reads_as_an_answer(client, seeded):
    sign_in(client, "viewer")
    confident = client.get(f"/dashboard/results/{seeded['a']['id']}").text
    assert _headline(confident) == 'Result: Neutrophil <span class="confidence">(95.0%)</span>'
    review = client.get(f"/dashboard/results/{seeded['b']['id']}").text
    assert _headline(review) == "Suggestion: Neutrophil?"
    assert "a specialist should confirm" in review
    unfamiliar = client.get(f"/dashboard/results/{seeded['c']['id']}").text
    assert _headline(unfamiliar) == "Not recognised"
    assert "Not recognised — check focus, light and stain, or mark the cell" in unfamiliar
    assert "<title>Result not recognised" in unfamiliar
    # The guess and the probabilities are there, but only inside <details>; the review form
    # lists every class and puts none forward.
    assert '<option selected value="">Choose the class…</option>' in unfamiliar
    outside = re.sub(r"<details.*?</details>|<select.*?</select>", "", unfamiliar, flags=re.S)
    assert "Lymphocyte" not in outside and "40.0%" not in outside
    assert "Lymphocyte (40.0%)" in unfamiliar


@pytest.mark.parametrize("label,shown", [("artefact", "Not a cell / artefact"),
                                         ("other", "Other / cannot tell")])  # fmt: skip
def test_artefact_and_other_are_offered_accepted_and_counted_apart(
    app, client, seeded, label, shown
):
    record_id = seeded["a"]["id"]  # a confident neutrophil on S-1
    sign_in(client, "viewer")
    page = client.get(f"/dashboard/results/{record_id}").text
    assert f'<option value="{label}">{shown}</option>' in page
    assert '<option selected value="neutrophil">Neutrophil</option>' in page
    assert _review(client, record_id, label).status_code == 302
    assert _stored(app, record_id).reviewed_label == label
    assert (
        f'<h1 id="h-result">Result: {shown}</h1>'
        in client.get(f"/dashboard/results/{record_id}").text
    )
    slide = client.get("/dashboard/slide?id=S-1").text
    assert f"<dt>{shown}</dt><dd>1</dd>" in slide
    assert "2 of 100 white cells counted" in slide  # b and d; c waits for a person
