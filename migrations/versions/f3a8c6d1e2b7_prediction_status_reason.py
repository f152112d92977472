"""predictions.status_reason: why the phone's rule did not call a record confident
(below_threshold, view_check, unfamiliar, no_cell; classifier.classify.STATUS_REASONS), so the
dashboard can say it; NULL for confident records and for phones older than the reason

Revision ID: f3a8c6d1e2b7
Revises: e5b9d2c7a1f3
Create Date: 2026-12-02 06:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'f3a8c6d1e2b7'
down_revision = 'e5b9d2c7a1f3'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status_reason', sa.String(length=32), nullable=True))


def downgrade():
    # The reasons would be lost with the column, and no phone sends them again: refuse while any
    # record holds one.
    stored = op.get_bind().scalar(
        sa.text("SELECT count(*) FROM predictions WHERE status_reason IS NOT NULL")
    )
    if stored:
        raise RuntimeError(
            f"{stored} record(s) hold a status reason; the schema before it cannot keep them. "
            "Clear predictions.status_reason first (the reasons are then lost), then downgrade."
        )
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_column('status_reason')
