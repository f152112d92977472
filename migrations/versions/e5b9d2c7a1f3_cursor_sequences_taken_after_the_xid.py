"""cursor sequences taken after the transaction's xid: on PostgreSQL, predictions.seq and
prediction_reviews.id default to hv_nextval_after_xid(...), which gives the transaction its
xid before it takes a value, so a `since` reader can prove a value final without the writers
being serialised (backend/sync/horizon.py; issue 16). SQLite: nothing to change.

Revision ID: e5b9d2c7a1f3
Revises: d7a3c9e1b4f6
Create Date: 2026-12-02 03:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e5b9d2c7a1f3'
down_revision = 'd7a3c9e1b4f6'
branch_labels = None
depends_on = None

COLUMNS = (('predictions', 'seq'), ('prediction_reviews', 'id'))


def _sequence(table: str, column: str) -> str:
    return op.get_bind().scalar(
        sa.text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table, "c": column}
    )


def upgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute(
        """
        CREATE FUNCTION hv_nextval_after_xid(sequence regclass) RETURNS bigint
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM pg_current_xact_id();  -- the xid first, then the value
            RETURN nextval(sequence);
        END $$
        """
    )
    for table, column in COLUMNS:
        sequence = _sequence(table, column)
        op.execute(
            f"ALTER TABLE {table} ALTER COLUMN {column} "
            f"SET DEFAULT hv_nextval_after_xid('{sequence}'::regclass)"
        )


def downgrade():
    if op.get_bind().dialect.name != 'postgresql':
        return
    for table, column in COLUMNS:
        sequence = _sequence(table, column)
        op.execute(
            f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT nextval('{sequence}'::regclass)"
        )
    op.execute("DROP FUNCTION hv_nextval_after_xid(regclass)")
