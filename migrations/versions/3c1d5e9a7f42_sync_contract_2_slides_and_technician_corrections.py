"""sync contract 2: slides, technician corrections, a prediction's latest correction

Revision ID: 3c1d5e9a7f42
Revises: 8e2f7a3d22bb
Create Date: 2026-12-01 17:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '3c1d5e9a7f42'
down_revision = '8e2f7a3d22bb'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('slides',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('sample_id', sa.String(length=120), nullable=False),
    sa.Column('patient', sa.String(length=200), nullable=True),
    sa.Column('specimen', sa.String(length=200), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('target', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('finished_by_id', sa.Integer(), nullable=True),
    sa.Column('reopened_at', sa.DateTime(), nullable=True),
    sa.Column('reopened_by_id', sa.Integer(), nullable=True),
    sa.Column('owner_id', sa.Integer(), nullable=False),
    sa.Column('device_id', sa.String(length=100), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('synced_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint("state IN ('open', 'paused', 'finished')", name='ck_slides_state'),
    sa.CheckConstraint('target IN (100, 200)', name='ck_slides_target'),
    sa.ForeignKeyConstraint(['finished_by_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['reopened_by_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('slides', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_slides_owner_id'), ['owner_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_slides_sample_id'), ['sample_id'], unique=False)

    op.create_table('technician_corrections',
    sa.Column('id', sa.String(length=36), nullable=False),
    sa.Column('prediction_seq', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=100), nullable=True),
    sa.Column('previous_label', sa.String(length=100), nullable=True),
    sa.Column('corrected_by_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('synced_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['corrected_by_id'], ['users.id'], ),
    sa.ForeignKeyConstraint(['prediction_seq'], ['predictions.seq'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('technician_corrections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_technician_corrections_prediction_seq'), ['prediction_seq'], unique=False)

    # Named, so the downgrade can drop it on PostgreSQL and in SQLite's batch copy alike.
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('corrected_label', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('corrected_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('corrected_at', sa.DateTime(), nullable=True))
        batch_op.create_foreign_key('fk_predictions_corrected_by_id_users', 'users', ['corrected_by_id'], ['id'])


def downgrade():
    with op.batch_alter_table('predictions', schema=None) as batch_op:
        batch_op.drop_constraint('fk_predictions_corrected_by_id_users', type_='foreignkey')
        batch_op.drop_column('corrected_at')
        batch_op.drop_column('corrected_by_id')
        batch_op.drop_column('corrected_label')

    with op.batch_alter_table('technician_corrections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_technician_corrections_prediction_seq'))

    op.drop_table('technician_corrections')
    with op.batch_alter_table('slides', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_slides_sample_id'))
        batch_op.drop_index(batch_op.f('ix_slides_owner_id'))

    op.drop_table('slides')
