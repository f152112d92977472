"""`INSERT ... ON CONFLICT` for the database in use: SQLite and PostgreSQL share the syntax,
and SQLAlchemy has one construct per dialect."""

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from backend import db


def insert(table) -> sa.Insert:
    dialect = db.session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


def insert_new(table: sa.Table, rows: list[dict[str, Any]]) -> set[str]:
    """Inserts the rows whose `id` is not stored yet; returns the ids the database really
    inserted (so two requests racing on one id cannot both create it). Rows go in id order, so
    concurrent batches that share ids take their unique-index locks in the same order
    (PostgreSQL would otherwise deadlock two clients sending [a, b] and [b, a]). One cached
    statement run with many parameter sets ("insertmanyvalues"): compiling a 100-row VALUES
    clause per request cost more than the insert itself."""
    if not rows:
        return set()
    statement = insert(table).on_conflict_do_nothing(index_elements=["id"]).returning(table.c.id)
    ordered = sorted(rows, key=lambda row: row["id"])
    return set(db.session.connection().execute(statement, ordered).scalars())
