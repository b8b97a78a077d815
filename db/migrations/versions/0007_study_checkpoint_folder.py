"""study's own checkpoint folder: deleting a study can delete its checkpoints

Every study used to checkpoint in the folder named after it, which a study of the same name in
another database (whose workers use the same checkpoint root) shares, so `study delete` could only
name the folder. A study created from now on gets a folder of its own, `<name>-<8 random hex
digits>`. Studies upgraded keep checkpointing where they did (the column stays empty for them), so
their running and finished jobs find their checkpoints again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.add_column(sa.Column('own_checkpoint_folder', sa.String(length=250), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.drop_column('own_checkpoint_folder')
