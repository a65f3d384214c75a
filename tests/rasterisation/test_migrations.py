"""Alembic migrations: all the way up and down on SQLite and PostgreSQL, and the models match
the migrated schema exactly (autogenerate finds nothing to do)."""
from __future__ import annotations

import os

import flask_migrate
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from rasterisation.app import create_app
from rasterisation.extensions import db

POSTGRES = os.environ.get("RASTERISATION_TEST_POSTGRES_URL")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=[
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES, reason="RASTERISATION_TEST_POSTGRES_URL not set")])])
def empty_database(request, tmp_path):
    """(env for create_app, cleanup) on an empty database."""
    env = {"RASTERISATION_DATA_DIR": str(tmp_path / "var")}
    if request.param == "sqlite":
        yield env
        return
    env["RASTERISATION_DATABASE_URL"] = request.getfixturevalue("empty_postgres_url")
    yield env


def tables(app) -> set[str]:
    with app.app_context():
        return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def schema_diff(app) -> list:
    with app.app_context(), db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_up_down_up_and_models_match(empty_database):
    app = create_app(empty_database)
    try:
        assert tables(app) == set()
        with app.app_context():
            flask_migrate.upgrade()
        model_tables = {t.name for t in db.metadata.sorted_tables}
        assert {"companies", "api_tokens", "images"} <= tables(app) == model_tables
        assert schema_diff(app) == []

        with app.app_context():
            flask_migrate.downgrade(revision="base")
        assert tables(app) == set()

        with app.app_context():
            flask_migrate.upgrade()
        assert tables(app) == model_tables
    finally:
        with app.app_context():
            db.engine.dispose()


def test_every_revision_steps_down_and_up(empty_database):
    """One revision at a time, so a downgrade that only works from head is caught."""
    app = create_app(empty_database)
    try:
        with app.app_context():
            from alembic.script import ScriptDirectory

            config = app.extensions["migrate"].migrate.get_config()
            revisions = list(ScriptDirectory.from_config(config).walk_revisions())[::-1]
            assert revisions and revisions[0].down_revision is None
            for revision in revisions:
                flask_migrate.upgrade(revision=revision.revision)
                flask_migrate.downgrade(revision=revision.down_revision or "base")
                flask_migrate.upgrade(revision=revision.revision)
        assert schema_diff(app) == []
    finally:
        with app.app_context():
            db.engine.dispose()


def test_cascade_deletes_a_companys_rows(make_app, tenant_factory):
    """Foreign keys are enforced on SQLite too (PRAGMA foreign_keys)."""
    from rasterisation.models import ApiToken, Company

    app = make_app()
    company_id, _ = tenant_factory(app, "A")
    with app.app_context():
        db.session.delete(db.session.get(Company, company_id))
        db.session.commit()
        assert db.session.query(ApiToken).count() == 0


def test_0007_encrypts_the_stored_webhook_secrets_and_0006_gets_them_back(empty_database):
    """Revision 0007 turns each plaintext webhook secret into its sealed form (the app's
    SECRET_KEY), and the signing code reads it; stepping down restores the plaintext."""
    import uuid

    from rasterisation.services import webhooks

    app = create_app(empty_database)
    company = uuid.uuid4()
    secret = "whsec_" + "s" * 43
    try:
        with app.app_context():
            flask_migrate.upgrade(revision="0006")
            with db.engine.begin() as conn:
                conn.execute(sa.text("INSERT INTO companies (id, name, created_at) "
                                     "VALUES (:id, 'A', CURRENT_TIMESTAMP)"),
                             {"id": company.hex if db.engine.name == "sqlite" else company})
                conn.execute(sa.text("INSERT INTO webhook_secrets (company_id, secret, "
                                     "created_at) VALUES (:id, :s, CURRENT_TIMESTAMP)"),
                             {"id": company.hex if db.engine.name == "sqlite" else company,
                              "s": secret})
            flask_migrate.upgrade()
            row = webhooks.secret_info(company)
            assert row.secret_encrypted.startswith("v1.") and secret not in row.secret_encrypted
            assert webhooks.signing_secret(row) == secret
            db.session.rollback()
            flask_migrate.downgrade(revision="0006")
            with db.engine.connect() as conn:
                assert conn.execute(sa.text("SELECT secret FROM webhook_secrets")
                                    ).scalars().all() == [secret]
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
