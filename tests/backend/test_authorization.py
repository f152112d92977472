"""Every endpoint x {anonymous, viewer, technician, other technician, admin}."""

import io

import pytest
import sqlalchemy as sa
from PIL import Image

from backend import db
from backend.models import AuditEntry, User
from tests.backend.conftest import upload
from tests.conftest import make_record, publish_folder, push


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (48, 48), (170, 80, 140)).save(out, format="PNG")
    return out.getvalue()


WHO = ["anonymous", "viewer", "tech", "tech2", "admin"]
ADMIN_ONLY = [401, 403, 403, 403]


@pytest.fixture
def world(app, client, auth, releases):
    """A record synced by `tech`; model versions 1.0.0 then 2.0.0 activated; an image `tech`
    sent to /predict."""
    record = make_record()
    assert push(client, auth.headers("tech"), [record]).status_code == 200
    publish_folder(app, releases["v1"])
    publish_folder(app, releases["v2"])
    image = {"image": (io.BytesIO(_png()), "cell.png")}
    predicted = client.post("/predict", data=image, headers=auth.headers("tech"))
    with app.app_context():
        viewer_id = db.session.scalar(sa.select(User.id).where(User.username == "viewer"))
    upload_path = predicted.get_json()["image_path"]
    return {"record": record["id"], "viewer": viewer_id, "upload": upload_path}


# (method, url template, json body or callable(releases) -> kwargs, expected per WHO)
MATRIX = [
    ("GET", "/api/auth/me", None, [401, 200, 200, 200, 200]),
    ("POST", "/api/auth/logout", None, [401, 200, 200, 200, 200]),
    ("GET", "/api/users", None, ADMIN_ONLY + [200]),
    (
        "POST",
        "/api/users",
        {"username": "newbie", "password": "long enough", "role": "viewer"},
        ADMIN_ONLY + [201],
    ),
    ("PATCH", "/api/users/{viewer}", {"password": "another password"}, ADMIN_ONLY + [200]),
    ("POST", "/api/sync/predictions", "new_record", [401, 403, 200, 200, 200]),
    ("GET", "/api/sync/settings", None, [401, 200, 200, 200, 200]),
    ("GET", "/api/sync/reviews?since=0", None, [401, 200, 200, 200, 200]),
    ("GET", "/api/sync/slides", None, [401, 200, 200, 200, 200]),
    ("GET", "/api/predictions", None, [401, 200, 200, 200, 200]),
    ("GET", "/api/predictions/{record}", None, [401, 200, 200, 404, 200]),
    ("GET", "/api/models", None, [200, 200, 200, 200, 200]),
    ("GET", "/api/models/versions", None, ADMIN_ONLY + [200]),
    ("GET", "/api/models/cells/1.0.0/model.tflite", None, [200, 200, 200, 200, 200]),
    ("GET", "/api/models/cells/1.0.0/model.json", None, [200, 200, 200, 200, 200]),
    ("POST", "/api/models", "upload", ADMIN_ONLY + [200]),
    ("POST", "/api/models/cells/2.0.0/activate", None, ADMIN_ONLY + [200]),
    ("POST", "/api/models/cells/rollback", None, ADMIN_ONLY + [200]),
    ("GET", "/api/audit", None, ADMIN_ONLY + [200]),
    ("POST", "/predict", "image", [401, 403, 200, 200, 200]),
    ("GET", "/predict/uploads/{upload}", None, [401, 403, 200, 404, 200]),
]
CASES = [
    pytest.param(method, url, body, who, expected[i], id=f"{method} {url} as {who}")
    for method, url, body, expected in MATRIX
    for i, who in enumerate(WHO)
]


@pytest.mark.parametrize("method,url,body,who,expected", CASES)
def test_authorization_matrix(app, client, auth, world, releases, method, url, body, who, expected):
    headers = auth.headers(None if who == "anonymous" else who)
    url = url.format(**world)
    if body == "upload":
        response = upload(client, headers, releases["v1"])
    elif body == "image":
        image = {"image": (io.BytesIO(_png()), "cell.png")}
        response = client.post(url, data=image, headers=headers, content_type="multipart/form-data")
    else:
        payload = {"predictions": [make_record()]} if body == "new_record" else body
        response = client.open(url, method=method, json=payload, headers=headers)
    assert response.status_code == expected, response.get_json()
    if expected in (401, 403, 404):
        assert set(response.get_json()) == {"error"}
    if expected == 403 or (expected == 404 and who == "tech2"):
        with app.app_context():
            denied = db.session.scalars(
                sa.select(AuditEntry).where(AuditEntry.action == "authz.denied")
            ).all()
        assert [(e.username, e.outcome) for e in denied] == [(who, "failure")]


def test_technicians_list_only_their_own_records(client, auth):
    mine, theirs = make_record(), make_record()
    push(client, auth.headers("tech"), [mine])
    push(client, auth.headers("tech2"), [theirs])

    def ids(user, query=""):
        response = client.get(f"/api/predictions{query}", headers=auth.headers(user))
        return {p["id"] for p in response.get_json()["predictions"]}

    assert ids("tech") == {mine["id"]}
    assert ids("tech2") == {theirs["id"]}
    assert ids("tech2", "?user=tech") == set()
    assert ids("viewer") == ids("admin") == {mine["id"], theirs["id"]}


def test_role_change_takes_effect_on_the_next_request(app, client, auth):
    tech = auth.headers("tech")
    tech_id = auth.tokens("tech")["user"]["id"]
    assert push(client, tech, [make_record()]).status_code == 200
    client.patch(f"/api/users/{tech_id}", json={"role": "viewer"}, headers=auth.headers("admin"))
    # the tokens of the old role end; a new login has the new role
    refused = push(client, tech, [make_record()])
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "token_revoked"
    as_viewer = {"Authorization": f"Bearer {auth.login('tech')['access_token']}"}
    assert push(client, as_viewer, [make_record()]).status_code == 403
    with app.app_context():
        entry = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.update"))
        assert entry.details["role"] == {"from": "technician", "to": "viewer"}


def test_last_admin_cannot_be_demoted(client, auth):
    admin_id = auth.tokens("admin")["user"]["id"]
    response = client.patch(
        f"/api/users/{admin_id}", json={"role": "viewer"}, headers=auth.headers("admin")
    )
    assert response.status_code == 409
    assert client.get("/api/users", headers=auth.headers("admin")).status_code == 200
