"""sequential init: studies made before per-task initialisation keep training the way they started

New studies start each task's decoder from weights of its own (training option `init`, default
`per-task`). A study made before trained its candidates with the decoders drawn one after another,
so this revision records `init = "sequential"` in its training options: its remaining candidates
are trained like those it already has. Downgrading removes the option, which older versions refuse.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

study = sa.table('study', sa.column('id', sa.Integer()), sa.column('training', sa.JSON()))


def upgrade() -> None:
    _rewrite(lambda training: training if 'init' in training else {**training, 'init': 'sequential'})


def downgrade() -> None:
    _rewrite(lambda training: {key: value for key, value in training.items() if key != 'init'})


def _rewrite(change) -> None:
    connection = op.get_bind()
    for study_id, training in connection.execute(sa.select(study.c.id, study.c.training)).all():
        changed = change(training or {})
        if changed != training:
            connection.execute(study.update().where(study.c.id == study_id).values(training=changed))
