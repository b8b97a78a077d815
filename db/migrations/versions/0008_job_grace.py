"""job grace: the grace period of the worker that claimed a job

A running job counted as abandoned once its heartbeat was older than the grace period of whoever
looked (`status`, `cancel`, another worker: 60 s unless that command was given --grace), so workers
started with a longer --heartbeat/--grace had live jobs shown as gone and removed by `cancel`. A
job now keeps its worker's grace period; jobs claimed before this revision keep the default.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('grace', sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_column('grace')
