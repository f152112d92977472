"""credential epoch (a password, role or state change ends every token and session);
login throttle counters per username+address, with the time of the last attempt

Revision ID: 5b7c2e9d4a10
Revises: 3c1d5e9a7f42
Create Date: 2026-12-01 18:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '5b7c2e9d4a10'
down_revision = '3c1d5e9a7f42'
branch_labels = None
depends_on = None


def upgrade():
    # Existing tokens carry no epoch and count as 0, so the upgrade logs no phone out.
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('credential_epoch', sa.Integer(), server_default='0', nullable=False))

    # The counters change meaning (the window now runs from the last attempt): start afresh.
    op.execute(sa.text('DELETE FROM login_throttle'))
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.alter_column('window_start', new_column_name='last_attempt_at')


def downgrade():
    op.execute(sa.text('DELETE FROM login_throttle'))
    with op.batch_alter_table('login_throttle', schema=None) as batch_op:
        batch_op.alter_column('last_attempt_at', new_column_name='window_start')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('credential_epoch')
