"""slide kind: a white-cell differential (every existing slide) or a malaria slide counting
red cells for parasitaemia; the target check becomes per kind

Revision ID: 9a4f1c6e2b57
Revises: 5b7c2e9d4a10
Create Date: 2026-12-01 21:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '9a4f1c6e2b57'
down_revision = '5b7c2e9d4a10'
branch_labels = None
depends_on = None

# Written out, not imported from the model: a migration keeps meaning what it meant that day.
TARGET_PER_KIND = (
    "(kind = 'wbc-differential' AND target IN (100, 200)) OR "
    "(kind = 'malaria' AND target IN (500, 1000, 2000, 5000))"
)


def upgrade():
    # Every slide stored so far is a white-cell differential.
    with op.batch_alter_table('slides', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=32), server_default='wbc-differential', nullable=False))
        batch_op.drop_constraint('ck_slides_target', type_='check')
        batch_op.create_check_constraint('ck_slides_kind', "kind IN ('wbc-differential', 'malaria')")
        batch_op.create_check_constraint('ck_slides_target', TARGET_PER_KIND)


def downgrade():
    # The older schema cannot hold a malaria slide; refuse rather than delete someone's counts.
    malaria = op.get_bind().scalar(sa.text("SELECT count(*) FROM slides WHERE kind <> 'wbc-differential'"))
    if malaria:
        raise RuntimeError(
            f"{malaria} malaria slide(s) are stored: the schema before slide kinds cannot hold "
            "them. Export and delete them first, then downgrade."
        )
    with op.batch_alter_table('slides', schema=None) as batch_op:
        batch_op.drop_constraint('ck_slides_target', type_='check')
        batch_op.drop_constraint('ck_slides_kind', type_='check')
        batch_op.create_check_constraint('ck_slides_target', 'target IN (100, 200)')
        batch_op.drop_column('kind')
