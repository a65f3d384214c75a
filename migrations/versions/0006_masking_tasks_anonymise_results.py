"""masking task records and synchronous anonymisation results, with an expiry

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26

Both used to live in object storage only, never removed. Now each has a row whose
``expires_at`` (RESULT_TTL) the storage sweeper acts on. Task records already stored as
``companies/<cid>/masking_tasks/<uuid>.json`` are still read, and removed by the sweeper once
they are older than the TTL (rasterisation/services/retention.py): no data to move here.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('anonymise_results',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('company_id', sa.Uuid(), nullable=False),
    sa.Column('image_id', sa.Uuid(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_anonymise_results_company_id_companies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_anonymise_results'))
    )
    with op.batch_alter_table('anonymise_results', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_anonymise_results_company_id'), ['company_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_anonymise_results_expires_at'), ['expires_at'], unique=False)

    op.create_table('masking_tasks',
    sa.Column('company_id', sa.Uuid(), nullable=False),
    sa.Column('task_uuid', sa.Uuid(), nullable=False),
    sa.Column('image_id', sa.Uuid(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('record', sa.JSON(), nullable=False),
    sa.Column('mask_prefix', sa.String(length=512), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_masking_tasks_company_id_companies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('company_id', 'task_uuid', name=op.f('pk_masking_tasks'))
    )
    with op.batch_alter_table('masking_tasks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_masking_tasks_expires_at'), ['expires_at'], unique=False)


def downgrade():
    with op.batch_alter_table('masking_tasks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_masking_tasks_expires_at'))

    op.drop_table('masking_tasks')
    with op.batch_alter_table('anonymise_results', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_anonymise_results_expires_at'))
        batch_op.drop_index(batch_op.f('ix_anonymise_results_company_id'))

    op.drop_table('anonymise_results')
