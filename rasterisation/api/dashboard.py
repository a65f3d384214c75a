"""The dashboard: /dashboard/, plain HTML, CSS and JavaScript modules served by the app.

No CDN and no build step: the files in ``rasterisation/dashboard/`` are served as they are.
Every answer carries strict headers (docs/decisions.md, Dashboard):

* ``Content-Security-Policy``: scripts and styles from this origin only (no inline script),
  pictures from this origin, ``blob:`` (the dropped photo) and the object store's public
  origin (presigned URLs), ``frame-ancestors 'none'``;
* ``Referrer-Policy: no-referrer``: signed picture URLs must not leak to other sites;
* ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``, ``Cache-Control: no-store``
  for the page itself.

The page holds tokens in memory only (never cookies or storage), so there is nothing for a
cross-site request to ride on: CSRF-safe by design.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, redirect, send_from_directory

from rasterisation.auth import public

__all__ = ["bp", "DASHBOARD_DIR", "content_security_policy", "SECURITY_HEADERS"]

DASHBOARD_DIR = Path(__file__).resolve().parent.parent / "dashboard"
ASSETS = frozenset({"app.js", "api.js", "view.js", "app.css", "favicon.svg"})
SECURITY_HEADERS = {
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

bp = Blueprint("dashboard", __name__)


def _origin(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else None


def content_security_policy() -> str:
    settings = current_app.config["RASTERISATION"]
    images = ["'self'", "blob:", "data:"]
    if settings.storage == "minio":  # presigned URLs point at the object store
        origin = _origin(settings.s3_public_endpoint or settings.s3_endpoint)
        if origin:
            images.append(origin)
    public_origin = _origin(settings.public_url)
    if public_origin:
        images.append(public_origin)
    return "; ".join([
        "default-src 'none'", "script-src 'self'", "style-src 'self'",
        f"img-src {' '.join(images)}", "connect-src 'self'", "font-src 'self'",
        "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ])


@bp.after_request
def _security_headers(response):
    response.headers["Content-Security-Policy"] = content_security_policy()
    for name, value in SECURITY_HEADERS.items():
        response.headers[name] = value
    return response


@bp.route("/dashboard")
@public
def no_slash():
    return redirect("/dashboard/", code=308)


@bp.route("/dashboard/")
@public
def index():
    response = send_from_directory(DASHBOARD_DIR, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/dashboard/<filename>")
@public
def asset(filename: str):
    if filename not in ASSETS:
        abort(404)
    return send_from_directory(DASHBOARD_DIR, filename, max_age=0)
