"""The schema only changes through migrations: upgrade an empty database, compare, downgrade."""

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from backend import create_app, db
from tests.conftest import DATABASES, _config


@pytest.fixture(params=DATABASES)
def empty_app(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    else:
        base = request.getfixturevalue("postgres_url")
        engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("DROP DATABASE IF EXISTS hv_migrations"))
            conn.execute(sa.text("CREATE DATABASE hv_migrations"))
        engine.dispose()
        url = base.replace("/hematovision_test?", "/hv_migrations?")
    app = create_app(_config(url, tmp_path), instance_path=tmp_path / "instance")
    yield app
    with app.app_context():
        db.engine.dispose()


def _tables() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_upgrade_matches_models_and_downgrade_removes_everything(empty_app):
    with empty_app.app_context():
        assert _tables() == set()
        upgrade()
        assert _tables() == set(db.metadata.tables)
        with db.engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            differences = compare_metadata(context, db.metadata)
        assert differences == []
        downgrade(revision="base")
        assert _tables() == set()


SLIDE_COLUMNS = "id, sample_id, target, state, started_at, updated_at, owner_id, device_id, "
SLIDE_COLUMNS += "created_at, synced_at"


def _add_slide(conn, slide_id: str, target: int, kind: str | None = None) -> None:
    columns, values = SLIDE_COLUMNS, f"'{slide_id}', 'S', {target}, 'open', :t, :t, 1, 'p', :t, :t"
    if kind is not None:
        columns, values = columns + ", kind", values + f", '{kind}'"
    statement = sa.text(f"INSERT INTO slides ({columns}) VALUES ({values})")
    conn.execute(statement, {"t": "2026-12-01 10:00:00"})


def _insert_technician(conn) -> None:
    """User 1, 'tina', as the schema since the credential epoch stores users."""
    conn.execute(
        sa.text(
            "INSERT INTO users (id, username, password_hash, role, active, created_at, "
            "credential_epoch) VALUES (1, 'tina', 'x', 'technician', true, :t, 0)"
        ),
        {"t": "2026-12-01 10:00:00"},
    )


def test_slide_kind_keeps_existing_slides_checks_targets_per_kind_and_downgrades(empty_app, capfd):
    with empty_app.app_context():
        upgrade(revision="5b7c2e9d4a10")
        with db.engine.begin() as conn:
            _insert_technician(conn)
            _add_slide(conn, "old-slide", 200)
        upgrade()
        with db.engine.begin() as conn:
            kinds = conn.execute(sa.text("SELECT id, kind, target FROM slides")).all()
            assert [tuple(row) for row in kinds] == [("old-slide", "wbc-differential", 200)]
            _add_slide(conn, "malaria-slide", 1000, "malaria")
        for target, kind in ((100, "malaria"), (1000, "wbc-differential"), (100, "babesia")):
            with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
                _add_slide(conn, "refused", target, kind)
        with pytest.raises(SystemExit):  # flask_migrate logs the migration's error and exits
            downgrade(revision="5b7c2e9d4a10")
        assert "1 malaria slide(s) are stored" in capfd.readouterr().err
        with db.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM slides WHERE kind = 'malaria'"))
        downgrade(revision="5b7c2e9d4a10")
        with db.engine.begin() as conn:
            rows = conn.execute(sa.text("SELECT id, target FROM slides")).all()
            assert [tuple(row) for row in rows] == [("old-slide", 200)]
        with pytest.raises(sa.exc.IntegrityError), db.engine.begin() as conn:
            _add_slide(conn, "refused", 1000)
        with db.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM slides"))
            conn.execute(sa.text("DELETE FROM users"))
        downgrade(revision="base")


def test_blobs_table_holds_bytes_and_downgrade_refuses_while_it_holds_any(empty_app, capfd):
    data = bytes(range(256)) * 4  # every byte value, NUL included: bytea / BLOB, not text
    with empty_app.app_context():
        upgrade(revision="9a4f1c6e2b57")
        upgrade()
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO blobs (key, sha256, size, content_type, created_at, data) "
                    "VALUES ('cells/x.jpg', 's', :n, 'image/jpeg', :t, :d)"
                ),
                {"n": len(data), "t": "2026-12-01 10:00:00", "d": data},
            )
            assert conn.execute(sa.text("SELECT data FROM blobs")).scalar() == data
        with pytest.raises(SystemExit):
            downgrade(revision="9a4f1c6e2b57")
        assert "1 file(s) are stored in the blobs table" in capfd.readouterr().err
        with db.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM blobs"))
        downgrade(revision="9a4f1c6e2b57")
        assert "blobs" not in _tables()
        downgrade(revision="base")


PREDICTION = (
    "INSERT INTO predictions (id, model_name, model_version, label, confidence, status, "
    "probabilities, captured_at, device_id, content_hash, synced_by_id, synced_at{extra}) "
    "VALUES (:id, 'wbc', '2.2.0', 'neutrophil', 0.9, 'confident', '{{\"neutrophil\": 0.9}}', "
    ":t, 'p', 'h', 1, :t{value})"
)
CAM = '{"label": "neutrophil", "rows": 1, "cols": 2, "values": [0, 255]}'


def _new_column_lifecycle(capfd, before: str, column: str, value: str, refusal: str):
    """A record stored before the migration that adds `column` and one stored after it with
    `value` both survive; downgrading past it refuses while a value is stored (saying
    `refusal`), then, the value cleared, keeps both records. Returns the stored value."""
    upgrade(revision=before)
    with db.engine.begin() as conn:
        _insert_technician(conn)
        old = sa.text(PREDICTION.format(extra="", value=""))
        conn.execute(old, {"id": "old", "t": "2026-12-01 10:00:00"})
    upgrade()
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(PREDICTION.format(extra=f", {column}", value=", :value")),
            {"id": "new", "t": "2026-12-01 10:00:00", "value": value},
        )
        rows = conn.execute(sa.text(f"SELECT id, {column} FROM predictions ORDER BY id")).all()
    assert rows[0][0] == "new" and tuple(rows[1]) == ("old", None)
    with pytest.raises(SystemExit):
        downgrade(revision=before)
    assert refusal in capfd.readouterr().err
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE predictions SET {column} = NULL"))
    downgrade(revision=before)
    with db.engine.begin() as conn:
        ids = conn.execute(sa.text("SELECT id FROM predictions ORDER BY id")).scalars().all()
        assert ids == ["new", "old"]
        conn.execute(sa.text("DELETE FROM predictions"))
        conn.execute(sa.text("DELETE FROM users"))
    downgrade(revision="base")
    return rows[0][1]


def test_prediction_cam_column_keeps_records_and_downgrade_refuses_while_a_map_is_stored(
    empty_app, capfd
):
    with empty_app.app_context():
        stored = _new_column_lifecycle(
            capfd, "c4e8b1d3f5a2", "cam", CAM, "1 record(s) hold a class-activation map"
        )
    assert "255" in str(stored)


def test_prediction_status_reason_keeps_records_and_downgrade_refuses_while_one_is_stored(
    empty_app, capfd
):
    with empty_app.app_context():
        stored = _new_column_lifecycle(
            capfd, "e5b9d2c7a1f3", "status_reason", "view_check", "1 record(s) hold a status reason"
        )
    assert stored == "view_check"


def _seq_default(conn) -> str | None:
    return conn.execute(
        sa.text(
            "SELECT column_default FROM information_schema.columns"
            " WHERE table_name = 'predictions' AND column_name = 'seq'"
        )
    ).scalar()


def test_cursor_sequences_take_the_xid_first_and_downgrade_to_plain_nextval(empty_app):
    """On PostgreSQL, seq values keep counting on through the upgrade and back, and only the
    column default changes; on SQLite nothing changes (one writer at a time)."""
    with empty_app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
        upgrade(revision="d7a3c9e1b4f6")
        with db.engine.begin() as conn:
            _insert_technician(conn)
            conn.execute(
                sa.text(PREDICTION.format(extra="", value="")), {"id": "a", "t": "2026-12-01"}
            )
        upgrade()
        with db.engine.begin() as conn:
            if postgres:
                assert "hv_nextval_after_xid" in _seq_default(conn)
            conn.execute(
                sa.text(PREDICTION.format(extra="", value="")), {"id": "b", "t": "2026-12-01"}
            )
        downgrade(revision="d7a3c9e1b4f6")
        with db.engine.begin() as conn:
            if postgres:
                assert _seq_default(conn).startswith("nextval(")
                assert (
                    conn.execute(
                        sa.text(
                            "SELECT count(*) FROM pg_proc WHERE proname = 'hv_nextval_after_xid'"
                        )
                    ).scalar()
                    == 0
                )
            conn.execute(
                sa.text(PREDICTION.format(extra="", value="")), {"id": "c", "t": "2026-12-01"}
            )
            rows = conn.execute(sa.text("SELECT id, seq FROM predictions ORDER BY seq")).all()
            assert [r[0] for r in rows] == ["a", "b", "c"] and rows[0][1] < rows[1][1] < rows[2][1]
            conn.execute(sa.text("DELETE FROM predictions"))
            conn.execute(sa.text("DELETE FROM users"))
        downgrade(revision="base")
