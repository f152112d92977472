"""predictions.cam: the class-activation map a phone synced with a record (why the model made
its call; issue 17), JSON {label, rows, cols, values}; NULL for records without one

Revision ID: d7a3c9e1b4f6
Revises: c4e8b1d3f5a2
Create Date: 2026-12-02 00:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'd7a3c9e1b4f6'
down_revision = 'c4e8b1d3f5a2'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cam', sa.JSON(), nullable=True))


def downgrade():
    # The maps would be lost with the column, and no phone sends them again: refuse while any
    # record holds one.
    stored = op.get_bind().scalar(sa.text("SELECT count(*) FROM predictions WHERE cam IS NOT NULL"))
    if stored:
        raise RuntimeError(
            f"{stored} record(s) hold a class-activation map; the schema before it cannot keep "
            "them. Clear predictions.cam first (the maps are then lost), then downgrade."
        )
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_column('cam')
