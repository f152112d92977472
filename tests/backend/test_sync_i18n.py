"""The reasons a sync answer gives per item (records, corrections, slides) are said in the
request's language, with a `code` that is the same in every language: the phone decides by the
code and shows the text to the technician."""

import base64
import uuid

import pytest

from backend.api_description.routes import description
from backend.sync.item_results import CODES
from tests.backend.test_sync_contract2 import correction, push2, slide, stored
from tests.conftest import make_record, push

NOT_AN_IMAGE = base64.b64encode(b"just some text, not an image").decode()


@pytest.fixture
def refused_batch(client, auth) -> dict:
    """A contract-2 body of items the server refuses, each for its own reason; its answer is the
    same however often it is sent (nothing in it is ever stored)."""
    theirs, mine = make_record(), make_record()
    push(client, auth.headers("tech2"), [theirs])
    push(client, auth.headers("tech"), [mine])
    their_slide = slide()
    push2(client, auth, "tech2", slides=[their_slide])
    return {
        "contract": 2,
        "predictions": [
            "not an object",
            make_record(label=None),
            make_record(captured_at="2999-01-01T00:00:00Z"),
            make_record(image="not base64 !!"),
            make_record(image=NOT_AN_IMAGE),
            dict(theirs, device_id="phone-1"),
            dict(mine, label="monocyte"),
        ],
        "corrections": [
            correction(make_record(), "monocyte"),  # its record was never synced
            correction(mine, "basophil"),
            correction(theirs, "monocyte"),
        ],
        "slides": [
            slide(kind="malaria", target=100),
            slide(state="closed"),
            dict(their_slide, note="mine now?"),
        ],
    }


EXPECTED = {
    "results": [
        ("invalid", "invalid_item", "un enregistrement doit être un objet JSON"),
        ("invalid", "invalid_field", "« label » est obligatoire"),
        ("invalid", "invalid_field", "« captured_at » est dans le futur"),
        ("invalid", "invalid_image", "« image » n'est pas du base64 valide"),
        (
            "invalid",
            "invalid_image",
            "'image' : Seules les images JPEG, PNG ou WebP sont acceptées",
        ),
        ("conflict", "conflict_other_account", "déjà été synchronisé par un autre compte"),
        ("conflict", "conflict_different_content", "avec un autre contenu ; le premier est"),
    ],
    "correction_results": [
        ("invalid", "unknown_record", "enregistrement inconnu : synchronisez d'abord"),
        ("invalid", "invalid_field", "« label » 'basophil' n'est ni une des classes"),
        ("conflict", "conflict_other_account", "enregistrement d'un autre compte"),
    ],
    "slide_results": [
        ("invalid", "invalid_field", "« target » doit être l'une des valeurs 500, 1000, 2000,"),
        ("invalid", "invalid_field", "« state » doit être l'une des valeurs open, paused, fi"),
        ("conflict", "conflict_other_account", "lame d'un autre compte"),
    ],
}


def _send(client, auth, body: dict, language: str | None) -> dict:
    headers = auth.headers("tech")
    if language:
        headers["Accept-Language"] = language
    response = client.post("/api/sync/predictions", json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_each_refused_item_has_a_code_and_its_reason_in_the_phones_language(
    app, client, auth, refused_batch
):
    english = _send(client, auth, refused_batch, None)
    french = _send(client, auth, refused_batch, "fr-FR,fr;q=0.9")
    for key, expected in EXPECTED.items():
        said = [(r["status"], r["code"]) for r in french[key]]
        assert said == [(status, code) for status, code, _ in expected], key
        assert said == [(r["status"], r["code"]) for r in english[key]], key
        assert {r["code"] for r in french[key]} <= set(CODES)
        for result, english_result, (_, _, words) in zip(
            french[key], english[key], expected, strict=True
        ):
            assert words in result["error"], result
            assert result["error"] != english_result["error"]
    # English stays the default: the words the phone matched before codes existed are there.
    assert english["correction_results"][0]["error"] == "unknown record: sync the record first"
    # Nothing refused was stored or changed: each conflicting id keeps its first content.
    mine = refused_batch["predictions"][-1]
    assert stored(client, auth, mine["id"])["label"] == "neutrophil"
    assert stored(client, auth, mine["id"])["correction"] is None


def test_the_unknown_record_code_in_spanish_and_portuguese(client, auth):
    event = correction(make_record(), "monocyte")
    for language, words in [
        ("es", "registro desconocido: sincronice primero el registro"),
        ("pt-BR", "registro desconhecido: sincronize primeiro o registro"),
    ]:
        answer = _send(client, auth, {"contract": 2, "corrections": [event]}, language)
        assert answer["correction_results"] == [
            {"id": event["id"], "status": "invalid", "code": "unknown_record", "error": words}
        ]


def test_an_item_with_an_id_that_is_no_string_still_gets_its_code(client, auth):
    answer = _send(client, auth, {"predictions": [make_record(id=uuid.uuid4().int)]}, "fr")
    assert answer["results"] == [
        {
            "id": None,
            "status": "invalid",
            "code": "invalid_field",
            "error": "« id » doit être une chaîne UUID",
        }
    ]


@pytest.mark.database_free
def test_the_codes_in_the_api_description_are_the_codes_the_server_gives():
    assert description()["components"]["schemas"]["ItemCode"]["enum"] == list(CODES)
