"""Swagger UI's files, served by the app: /docs works with no network (no CDN).

The files come from the ``swagger-ui-bundle`` wheel; only the few the page loads are served.
"""
from __future__ import annotations

from flask import Blueprint, abort, send_from_directory

from rasterisation.auth import public

__all__ = ["bp", "ASSETS"]

ASSETS = frozenset({
    "swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js",
    "favicon-16x16.png", "favicon-32x32.png", "oauth2-redirect.html",
})

bp = Blueprint("docs_assets", __name__)


def _directory():
    from swagger_ui_bundle import swagger_ui_path

    return str(swagger_ui_path)


@bp.route("/docs/assets/<filename>")
@public
def asset(filename: str):
    if filename not in ASSETS:
        abort(404)
    return send_from_directory(_directory(), filename, max_age=24 * 3600)
