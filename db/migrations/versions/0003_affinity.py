"""affinity: the lookahead task-affinity matrix of a study, per size

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('affinity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('study_id', sa.Integer(), nullable=False),
    sa.Column('job_id', sa.Integer(), nullable=True),
    sa.Column('size', sa.String(length=100), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('target', sa.String(length=200), nullable=False),
    sa.Column('value', sa.Float(), nullable=False),
    sa.Column('measurements', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['job.id'], name=op.f('fk_affinity_job_id_job'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['study_id'], ['study.id'], name=op.f('fk_affinity_study_id_study'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_affinity')),
    sa.UniqueConstraint('study_id', 'size', 'source', 'target', name='uq_affinity_key')
    )
    with op.batch_alter_table('affinity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_affinity_study_id'), ['study_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('affinity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_affinity_study_id'))
    op.drop_table('affinity')
