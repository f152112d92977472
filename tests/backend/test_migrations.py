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
