"""blobs: published models, synced cell images and /predict uploads stored in the database, so
every app server sharing it sees them (issue 16). Files already on disk are moved in by
`flask storage import-files` (idempotent; `make run` runs it after this upgrade).

Revision ID: c4e8b1d3f5a2
Revises: 9a4f1c6e2b57
Create Date: 2026-12-01 22:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4e8b1d3f5a2'
down_revision = '9a4f1c6e2b57'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'blobs',
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('content_type', sa.String(length=100), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint('key'),
    )


def downgrade():
    # The files would be lost with the table: refuse while it holds any (export them first).
    stored = op.get_bind().scalar(sa.text("SELECT count(*) FROM blobs"))
    if stored:
        raise RuntimeError(
            f"{stored} file(s) are stored in the blobs table; the schema before it keeps files "
            "on disk. Copy them out before downgrading."
        )
    op.drop_table('blobs')
