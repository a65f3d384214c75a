"""Signed file URLs of local storage: no token needed; tampered or expired -> 403 JSON.

moto does not check signatures, so these run on local storage only.
"""
from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from rasterisation.storage.signing import sign


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def signed(client, company, auth_headers, upload, astronaut_jpeg):
    image = upload(company, auth_headers, astronaut_jpeg).json
    parts = urlsplit(image["url"])
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    return parts.path, query


def get(client, path, query):
    return client.get(f"{path}?{urlencode(query)}")


def assert_403(response, word):
    assert response.status_code == 403, response.data[:300]
    assert response.json["code"] == 403 and word in response.json["message"]


def test_signed_url_works_without_token(client, signed):
    path, query = signed
    r = get(client, path, query)
    assert r.status_code == 200 and r.mimetype == "image/jpeg" and r.data[:3] == b"\xff\xd8\xff"
    assert "private" in r.headers["Cache-Control"] and "public" not in r.headers["Cache-Control"]
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_tampered_signature(client, signed):
    path, query = signed
    sig = query["signature"]
    assert_403(get(client, path, {**query, "signature": ("A" if sig[0] != "A" else "B") + sig[1:]}),
               "invalid signature")
    assert_403(get(client, path, {"expires": query["expires"]}), "invalid signature")
    assert_403(get(client, path, {}), "invalid signature")


def test_tampered_expiry(client, signed):
    path, query = signed
    assert_403(get(client, path, {**query, "expires": int(query["expires"]) + 3600}),
               "invalid signature")
    assert_403(get(client, path, {**query, "expires": "never"}), "invalid signature")


def test_tampered_key(client, signed):
    path, query = signed
    other = path.replace("original.jpg", "original.png")
    assert_403(get(client, other, query), "invalid signature")


def test_expired(app, client, signed):
    path, query = signed
    key = path[len("/files/"):]
    past = int(time.time()) - 1
    good_sig = sign(app.config["RASTERISATION"].secret_key, key, past)
    assert_403(get(client, path, {"expires": past, "signature": good_sig}), "expired")


def test_another_data_dir_has_another_key(make_app, signed):
    """Two data dirs are two independent services: a URL of one is refused by the other."""
    path, query = signed
    other = make_app()
    assert_403(other.test_client().get(f"{path}?{urlencode(query)}"), "invalid signature")


def test_signed_url_of_deleted_object_is_404(client, company, auth_headers, signed):
    path, query = signed
    image_id = path.split("/")[5]
    client.delete(f"/api/v1/companies/{company}/images/{image_id}", headers=auth_headers)
    r = get(client, path, query)
    assert r.status_code == 404 and r.json["code"] == 404


def test_path_traversal_is_refused(app, client):
    secret = app.config["RASTERISATION"].secret_key
    expires = int(time.time()) + 60
    for key in ("../secret_key", "companies/../../secret_key", "%2e%2e/secret_key"):
        r = client.get(f"/files/{key}?expires={expires}&signature={sign(secret, key, expires)}")
        assert r.status_code in (403, 404) and b"secret" not in r.data.replace(b"secret_key", b"")
        assert r.get_json()["code"] in (403, 404)


def test_public_url_setting(make_app, tenant_factory, astronaut_jpeg):
    import io

    app = make_app(RASTERISATION_PUBLIC_URL="https://masks.example.com/base/")
    company_id, token = tenant_factory(app, "A")
    r = app.test_client().post(f"/api/v1/companies/{company_id}/images/",
                               headers={"Authorization": f"Bearer {token}"},
                               data={"file": (io.BytesIO(astronaut_jpeg), "a.jpg")})
    assert r.json["url"].startswith("https://masks.example.com/base/files/companies/")
