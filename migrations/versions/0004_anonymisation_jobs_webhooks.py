"""anonymisation jobs, webhook secrets, webhook attempts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('anonymisation_jobs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('company_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('progress', sa.Float(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('options', sa.JSON(), nullable=False),
    sa.Column('metadata', sa.Text(), nullable=True),
    sa.Column('image_id', sa.Uuid(), nullable=True),
    sa.Column('input_key', sa.String(length=512), nullable=True),
    sa.Column('input_filename', sa.String(length=255), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('lease_token', sa.String(length=32), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('base_url', sa.String(length=512), nullable=True),
    sa.Column('webhook_url', sa.String(length=2048), nullable=True),
    sa.Column('webhook_state', sa.String(length=16), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_anonymisation_jobs_company_id_companies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_anonymisation_jobs'))
    )
    with op.batch_alter_table('anonymisation_jobs', schema=None) as batch_op:
        batch_op.create_index('ix_anonymisation_jobs_company_id_created_at', ['company_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_anonymisation_jobs_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_anonymisation_jobs_status'), ['status'], unique=False)

    op.create_table('webhook_secrets',
    sa.Column('company_id', sa.Uuid(), nullable=False),
    sa.Column('secret', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['company_id'], ['companies.id'], name=op.f('fk_webhook_secrets_company_id_companies'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('company_id', name=op.f('pk_webhook_secrets'))
    )
    op.create_table('webhook_attempts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('job_id', sa.Uuid(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('ok', sa.Boolean(), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['job_id'], ['anonymisation_jobs.id'], name=op.f('fk_webhook_attempts_job_id_anonymisation_jobs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempts')),
    sa.UniqueConstraint('job_id', 'attempt', name='uq_webhook_attempts_job')
    )


def downgrade():
    op.drop_table('webhook_attempts')
    op.drop_table('webhook_secrets')
    with op.batch_alter_table('anonymisation_jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_anonymisation_jobs_status'))
        batch_op.drop_index(batch_op.f('ix_anonymisation_jobs_expires_at'))
        batch_op.drop_index('ix_anonymisation_jobs_company_id_created_at')

    op.drop_table('anonymisation_jobs')
