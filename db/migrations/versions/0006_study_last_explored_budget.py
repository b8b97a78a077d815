"""study's last explored budget: where `finalize --explore` continues the budgets' turns

Revision 0005 marked each job `finalize --explore` queued with the budget it explored for, and the
next run read the budget of the study's newest marked job. A job already queued (by a stopped run)
was not marked again when a later run explored it, so that run's turn was lost. The study now keeps
the budget explored last itself, set whenever exploring training is queued. Upgrading takes it from
the newest marked job; downgrading marks the study's newest job with it.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

study = sa.table('study', sa.column('id', sa.Integer()), sa.column('last_explored_budget', sa.Float()))
job = sa.table('job', sa.column('id', sa.Integer()), sa.column('study_id', sa.Integer()),
               sa.column('explored_budget', sa.Float()))


def upgrade() -> None:
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_explored_budget', sa.Float(), nullable=True))
    connection = op.get_bind()
    newest = (sa.select(job.c.explored_budget).where(job.c.study_id == study.c.id, job.c.explored_budget.is_not(None))
              .order_by(job.c.id.desc()).limit(1).scalar_subquery())
    connection.execute(study.update().values(last_explored_budget=newest))
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_column('explored_budget')


def downgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('explored_budget', sa.Float(), nullable=True))
    connection = op.get_bind()
    explored = sa.select(study.c.id, study.c.last_explored_budget).where(study.c.last_explored_budget.is_not(None))
    for study_id, budget in connection.execute(explored).all():
        newest = connection.execute(sa.select(sa.func.max(job.c.id)).where(job.c.study_id == study_id)).scalar()
        if newest is not None:
            connection.execute(job.update().where(job.c.id == newest).values(explored_budget=budget))
    with op.batch_alter_table('study', schema=None) as batch_op:
        batch_op.drop_column('last_explored_budget')
