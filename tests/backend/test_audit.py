"""The audit log: who did what, when, from where; admins read it filtered and paginated."""

from datetime import UTC, datetime, timedelta

from tests.conftest import make_record, push


def _entries(client, auth, query: str = "") -> dict:
    response = client.get(f"/api/audit{query}", headers=auth.headers("admin"))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_actions_are_logged_with_who_when_and_where(client, auth):
    push(client, auth.headers("tech"), [make_record()])
    client.get("/api/predictions", headers=auth.headers("viewer"))
    client.get("/api/users", headers=auth.headers("tech"))
    client.post("/api/auth/login", json={"username": "viewer", "password": "nope nope"})
    entries = _entries(client, auth, "?per_page=1000")["entries"]
    seen = {(e["action"], e["username"], e["outcome"]) for e in entries}
    assert ("sync.push", "tech", "success") in seen
    assert ("history.read", "viewer", "success") in seen
    assert ("authz.denied", "tech", "failure") in seen
    assert ("auth.login", "viewer", "failure") in seen
    assert ("auth.login", "admin", "success") in seen
    for entry in entries:
        assert entry["ip"] == "127.0.0.1" and entry["user_agent"].startswith("Werkzeug")
        moment = datetime.fromisoformat(entry["at"])
        assert moment.tzinfo is not None
        assert abs(datetime.now(UTC) - moment) < timedelta(minutes=5)


def test_filters_and_pagination(client, auth):
    for _ in range(3):
        push(client, auth.headers("tech"), [make_record()])
    only_sync = _entries(client, auth, "?action=sync.push")
    assert only_sync["total"] == 3 and {e["action"] for e in only_sync["entries"]} == {"sync.push"}
    page = _entries(client, auth, "?action=sync.push&per_page=2&page=2")
    assert len(page["entries"]) == 1 and page["page"] == 2
    assert _entries(client, auth, "?user=tech2")["total"] == 0
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert _entries(client, auth, f"?from={future}")["total"] == 0
    everything = _entries(client, auth)["total"]
    assert _entries(client, auth, "?from=0001-01-01&to=9999-12-31")["total"] == everything
    newest_first = _entries(client, auth)["entries"]
    assert [e["id"] for e in newest_first] == sorted((e["id"] for e in newest_first), reverse=True)
