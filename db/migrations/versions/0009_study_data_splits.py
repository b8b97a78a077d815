"""study data_splits: the item count of each split of the data a study's runs opened

An on-disk dataset changed after a study's jobs had run (say 12 images grown to 20) was used as
it was, so the study's results mixed networks trained on different data without a word. The
study now records its data's split sizes when the data is first opened and refuses other data
while it holds trained results. Studies of earlier revisions record them on their next run.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.add_column(sa.Column('data_splits', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.drop_column('data_splits')
