"""One JSON error shape for every failure: unknown routes, wrong methods, too large, storage
down, and unexpected exceptions (500 without a traceback)."""
from __future__ import annotations

import pytest


@pytest.fixture
def app(make_app):
    return make_app()


def assert_shape(response, code):
    assert response.status_code == code
    assert response.mimetype == "application/json"
    body = response.json
    assert set(body) <= {"code", "status", "message", "errors"}
    assert body["code"] == code and body["status"] and body["message"]
    assert b"Traceback" not in response.data and b"<html" not in response.data.lower()
    return body


def test_unknown_route_is_json_404(client):
    assert_shape(client.get("/nowhere"), 404)
    assert_shape(client.get("/api/v1/nowhere", headers={"Authorization": "Bearer x"}), 404)


def test_wrong_method_is_json_405_with_allow(client):
    r = client.put("/health")
    assert_shape(r, 405)
    assert "GET" in r.headers["Allow"]


def test_too_large_is_json_413(client, company, auth_headers):
    r = client.post(f"/api/v1/companies/{company}/images/", headers=auth_headers,
                    data=b"x" * (31 * 1024 * 1024), content_type="multipart/form-data; boundary=x")
    assert_shape(r, 413)


def test_unexpected_exception_is_json_500_without_traceback(make_app, caplog):
    app = make_app()

    @app.route("/boom")
    def boom():  # registered after setup: still behind the auth hook, so mark it public
        raise RuntimeError("secret internals")

    boom.rasterisation_public = True
    r = app.test_client().get("/boom")
    body = assert_shape(r, 500)
    assert "secret internals" not in body["message"]
    assert "secret internals" in caplog.text  # but the log has it


def test_invalid_json_body_is_4xx_json(client, auth_headers):
    r = client.post("/api/v1/auth/private_tokens/", data="{not json",
                    content_type="application/json", headers=auth_headers)
    assert 400 <= r.status_code < 500
    assert_shape(r, r.status_code)


def test_cors_is_off_by_default_and_configurable(make_app, tenant_factory):
    plain = make_app().test_client().get("/health", headers={"Origin": "https://x.example"})
    assert "Access-Control-Allow-Origin" not in plain.headers

    app = make_app(RASTERISATION_CORS_ORIGINS="https://dash.example, https://other.example")
    client = app.test_client()
    preflight = client.options("/api/v1/auth/private_tokens/", headers={
        "Origin": "https://dash.example", "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "Authorization"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "https://dash.example"
    assert "authorization" in preflight.headers["Access-Control-Allow-Headers"].lower()
    # errors carry the CORS headers too, or the browser hides them from the dashboard
    r = client.get("/api/v1/auth/private_tokens/", headers={"Origin": "https://dash.example"})
    assert r.status_code == 401
    assert r.headers["Access-Control-Allow-Origin"] == "https://dash.example"
    other = client.get("/health", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
