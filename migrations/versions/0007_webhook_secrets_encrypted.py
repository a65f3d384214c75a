"""webhook secrets stored encrypted, no longer in plaintext

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26

``webhook_secrets.secret`` (plaintext) becomes ``secret_encrypted``: AES-256-GCM under a key
derived (HKDF-SHA256) from the service's SECRET_KEY, the company id as associated data
(docs/decisions.md, "Webhook secrets at rest"). Existing secrets are encrypted in place with
the SECRET_KEY of the app running the migration (the same one that will decrypt them);
downgrading decrypts them back. The format is frozen here (``v1``) so that this revision
does not depend on the service's code as it evolves; it must stay in step with
``rasterisation.services.webhooks.seal``.
"""
import base64
import secrets
import uuid

from alembic import context, op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

_INFO = b"rasterisation webhook secret v1"


def _key() -> bytes:
    from Crypto.Hash import SHA256
    from Crypto.Protocol.KDF import HKDF
    from flask import current_app

    service_key = current_app.config["RASTERISATION"].secret_key
    return HKDF(service_key.encode(), 32, b"", SHA256, context=_INFO)


def _seal(key: bytes, company_id, secret: str) -> str:
    from Crypto.Cipher import AES

    nonce = secrets.token_bytes(12)
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce)
    cipher.update(uuid.UUID(str(company_id)).bytes)
    body, tag = cipher.encrypt_and_digest(secret.encode())
    return "v1." + base64.urlsafe_b64encode(nonce + body + tag).decode()


def _unseal(key: bytes, company_id, sealed: str) -> str:
    from Crypto.Cipher import AES

    raw = base64.urlsafe_b64decode(sealed.partition(".")[2].encode())
    cipher = AES.new(key, AES.MODE_GCM, nonce=raw[:12])
    cipher.update(uuid.UUID(str(company_id)).bytes)
    return cipher.decrypt_and_verify(raw[12:-16], raw[-16:]).decode()


_table = sa.table('webhook_secrets', sa.column('company_id', sa.Uuid()),
                  sa.column('secret', sa.String()), sa.column('secret_encrypted', sa.String()))


def _convert(source: str, target: str, transform) -> None:
    if context.is_offline_mode():
        raise RuntimeError("revision 0007 re-encrypts the stored webhook secrets with the "
                           "service's SECRET_KEY: run it online (rasterisation db upgrade)")
    bind = op.get_bind()
    key = None
    for company_id, value in bind.execute(sa.select(_table.c.company_id, _table.c[source])).all():
        key = key or _key()
        bind.execute(sa.update(_table).where(_table.c.company_id == company_id)
                     .values({target: transform(key, company_id, value)}))


def upgrade():
    with op.batch_alter_table('webhook_secrets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret_encrypted', sa.String(length=255), nullable=True))
    _convert('secret', 'secret_encrypted', _seal)
    with op.batch_alter_table('webhook_secrets', schema=None) as batch_op:
        batch_op.alter_column('secret_encrypted', existing_type=sa.String(length=255),
                              nullable=False)
        batch_op.drop_column('secret')


def downgrade():
    with op.batch_alter_table('webhook_secrets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('secret', sa.String(length=128), nullable=True))
    _convert('secret_encrypted', 'secret', _unseal)
    with op.batch_alter_table('webhook_secrets', schema=None) as batch_op:
        batch_op.alter_column('secret', existing_type=sa.String(length=128), nullable=False)
        batch_op.drop_column('secret_encrypted')
