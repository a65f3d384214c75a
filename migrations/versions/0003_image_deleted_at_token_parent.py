"""images.deleted_at (delete marks first, the sweeper finishes), api_tokens.parent_id

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("images") as batch:
        batch.add_column(sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_images_deleted_at"), ["deleted_at"], unique=False)
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("parent_id", sa.Uuid(), nullable=True))
        batch.create_index(batch.f("ix_api_tokens_parent_id"), ["parent_id"], unique=False)
        batch.create_foreign_key(batch.f("fk_api_tokens_parent_id_api_tokens"), "api_tokens",
                                 ["parent_id"], ["id"], ondelete="SET NULL")


def downgrade():
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_constraint(batch.f("fk_api_tokens_parent_id_api_tokens"),
                              type_="foreignkey")
        batch.drop_index(batch.f("ix_api_tokens_parent_id"))
        batch.drop_column("parent_id")
    with op.batch_alter_table("images") as batch:
        batch.drop_index(batch.f("ix_images_deleted_at"))
        batch.drop_column("deleted_at")
