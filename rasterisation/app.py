"""The app factory.

``create_app()`` reads ``RASTERISATION_*`` from the environment (see ``rasterisation.config``);
tests pass a mapping of those variables instead, plus optional Flask overrides.

Example
-------
>>> app = create_app({"RASTERISATION_DATA_DIR": "/tmp/rst-doc"})
>>> app.test_client().get("/health").json
{'status': 'ok'}
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from flask import Flask

from rasterisation.api import register_blueprints
from rasterisation.api.responses import CommonResponses
from rasterisation.converters import UUIDConverter
from rasterisation.auth import init_auth
from rasterisation.config import flask_config, load_settings
from rasterisation.errors import register_error_handlers
from rasterisation.extensions import api, cors, db, migrate
from rasterisation.limits import init_limits
from rasterisation.metrics import init_metrics
from rasterisation.ratelimit import init_rate_limits
from rasterisation.request_id import init_request_id
from rasterisation.storage import EXTENSION_KEY, make_storage

__all__ = ["create_app", "MIGRATIONS_DIR"]

# top-level migrations/ of the source tree (the project is installed editable: pip install -e)
MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def _add_security_scheme(spec) -> None:
    spec.components.security_scheme("bearerAuth", {
        "type": "http", "scheme": "bearer",
        "description": "A private token (rst_...) from `rasterisation tokens create` or "
                       "POST /api/v1/auth/private_tokens/, or a user's access token (a JWT) "
                       "from POST /api/v1/auth/login or /api/v1/auth/token.",
    })


def create_app(config: Mapping[str, str] | None = None, *,
               overrides: Mapping[str, object] | None = None) -> Flask:
    """Build the Flask app.

    Parameters
    ----------
    config
        ``RASTERISATION_*`` variables; default ``os.environ``.
    overrides
        Flask config keys applied last (tests: ``{"TESTING": True}``).
    """
    settings = load_settings(config)
    _single_threaded_opencv()
    app = Flask(__name__)
    app.config.update(flask_config(settings))
    app.config["API_SPEC_OPTIONS"] = {
        "security": [{"bearerAuth": []}],
        "info": {"description": "Self-hostable skin-analysis masks. Every endpoint except "
                                "/health, /docs, /openapi.json and signed file URLs needs "
                                "`Authorization: Bearer <token>`. Errors are JSON "
                                "`{code, status, message, errors?}`."},
    }
    if overrides:
        app.config.update(overrides)

    # converters must exist before any blueprint's rules are bound
    app.url_map.converters["uuid"] = UUIDConverter
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True,
                     compare_type=True)
    # 401/400/413/429/503 documented on every operation they apply to
    api.init_app(app, spec_kwargs={"extra_plugins": [CommonResponses()]})
    _add_security_scheme(api.spec)
    if settings.cors_origins:
        cors.init_app(app, resources={r"/*": {"origins": list(settings.cors_origins)}},
                      expose_headers=["WWW-Authenticate", "Retry-After"], max_age=600)
    app.extensions[EXTENSION_KEY] = make_storage(settings)
    init_request_id(app)
    init_metrics(app)
    init_limits(app)  # before auth: limits cost nothing, a token lookup does
    init_auth(app)
    register_error_handlers(app)
    register_blueprints(app, api)
    init_rate_limits(app)  # after auth (the key is the token) and the blueprints (by name)
    _sqlite_pragmas(app)
    return app


def _single_threaded_opencv() -> None:
    """Parallelism comes from gunicorn workers and the request's own threads
    (RASTERISATION_ANALYSIS_THREADS); OpenCV's pool on top of them oversubscribed the cores
    and made dilations 2-5x slower under load (docs/decisions.md, Renderer)."""
    import cv2

    cv2.setNumThreads(1)


def _sqlite_pragmas(app: Flask) -> None:
    """Foreign keys (ON DELETE CASCADE) and WAL for concurrent gunicorn workers on SQLite."""
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=5000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()
