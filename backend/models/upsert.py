"""`INSERT ... ON CONFLICT` for the database in use: SQLite and PostgreSQL share the syntax,
and SQLAlchemy has one construct per dialect."""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from backend import db


def insert(table) -> sa.Insert:
    dialect = db.session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)
