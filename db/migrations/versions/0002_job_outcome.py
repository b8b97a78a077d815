"""job outcome: progress reported by the heartbeat, best epoch, wall time and learning curve

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('best_epoch', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('progress', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('wall_time', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('curve', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_column('curve')
        batch_op.drop_column('wall_time')
        batch_op.drop_column('progress')
        batch_op.drop_column('best_epoch')
