"""Bearer tokens: strict header parsing, 401 for every unusable token, the private_tokens API."""
from __future__ import annotations

from datetime import timedelta

import pytest

from rasterisation.extensions import db
from rasterisation.models import ApiToken, utcnow
from rasterisation.services.tokens import LAST_USED_RESOLUTION, hash_token, touch_last_used

TOKENS = "/api/v1/auth/private_tokens/"


def assert_401(response, *words):
    assert response.status_code == 401, response.data[:300]
    body = response.get_json()
    assert body["code"] == 401 and body["status"] == "Unauthorized"
    for word in words:
        assert word.lower() in body["message"].lower(), body["message"]
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm="rasterisation"')
    return body


def test_valid_token_lists_tokens(client, auth_headers):
    r = client.get(TOKENS, headers=auth_headers)
    assert r.status_code == 200 and r.json["total"] == 1


def test_missing_token(client):
    assert_401(client.get(TOKENS), "missing")


@pytest.mark.parametrize("header", [
    "Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "Bearer  rst_x", "Token rst_abc",
    "Bearer rst_abc extra", "bearer",
])
def test_malformed_header(client, header):
    assert_401(client.get(TOKENS, headers={"Authorization": header}))


def test_scheme_is_case_insensitive(client, token):
    assert client.get(TOKENS, headers={"Authorization": f"bearer {token}"}).status_code == 200


def test_unknown_and_malformed_tokens(client, token):
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    body = assert_401(client.get(TOKENS, headers={"Authorization": f"Bearer {forged}"}),
                      "unknown")
    assert 'error="invalid_token"' in client.get(
        TOKENS, headers={"Authorization": f"Bearer {forged}"}).headers["WWW-Authenticate"]
    assert body["message"]
    assert_401(client.get(TOKENS, headers={"Authorization": "Bearer rst_short"}), "malformed")


def test_expired_token(app, client, token, auth_headers):
    with app.app_context():
        row = db.session.scalar(db.select(ApiToken).filter_by(token_hash=hash_token(token)))
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert_401(client.get(TOKENS, headers=auth_headers), "expired")


def test_only_the_hash_is_stored(app, token):
    with app.app_context():
        rows = db.session.scalars(db.select(ApiToken)).all()
        stored = [str(v) for r in rows for v in vars(r).values()]
    assert token not in " ".join(stored)
    assert any(hash_token(token) == s for s in stored)


def test_create_list_revoke(client, auth_headers):
    r = client.post(TOKENS, json={"name": "dashboard", "expires_in_days": 30},
                    headers=auth_headers)
    assert r.status_code == 201, r.json
    created = r.json
    new_token = created["token"]
    assert new_token.startswith("rst_") and created["prefix"] == new_token[:12]
    assert created["state"] == "active" and created["expires_at"] > created["created_at"]
    new_headers = {"Authorization": f"Bearer {new_token}"}

    listing = client.get(TOKENS, headers=new_headers).json
    assert listing["total"] == 2
    assert all("token" not in item for item in listing["items"])
    assert new_token not in str(listing)

    assert client.delete(TOKENS + created["id"], headers=auth_headers).status_code == 204
    assert_401(client.get(TOKENS, headers=new_headers), "revoked")
    # idempotent, and still listed as revoked
    assert client.delete(TOKENS + created["id"], headers=auth_headers).status_code == 204
    states = {i["id"]: i["state"] for i in client.get(TOKENS, headers=auth_headers).json["items"]}
    assert states[created["id"]] == "revoked"


@pytest.mark.parametrize("body,field", [
    ({}, "name"), ({"name": ""}, "name"), ({"name": "x", "expires_in_days": 0}, "expires_in_days"),
    ({"name": "x", "expires_in_days": "soon"}, "expires_in_days"), ({"name": "x", "bogus": 1},
                                                                     "bogus"),
])
def test_create_validation(client, auth_headers, body, field):
    r = client.post(TOKENS, json=body, headers=auth_headers)
    assert r.status_code == 422 and field in r.json["message"], r.json


def test_create_without_json_body(client, auth_headers):
    r = client.post(TOKENS, data="name=x", headers=auth_headers,
                    content_type="application/x-www-form-urlencoded")
    assert r.status_code in (415, 422) and r.json["message"]


def test_revoke_unknown_token_is_404(client, auth_headers):
    r = client.delete(TOKENS + "8c6d0bd7-5a7b-4c4e-9f1f-6b7b0f0b2d1c", headers=auth_headers)
    assert r.status_code == 404 and r.json["code"] == 404


def test_a_token_can_revoke_itself(client, token, auth_headers):
    item = client.get(TOKENS, headers=auth_headers).json["items"][0]
    assert client.delete(TOKENS + item["id"], headers=auth_headers).status_code == 204
    assert_401(client.get(TOKENS, headers=auth_headers), "revoked")


def test_last_used_is_written_at_most_once_a_minute(app, client, token, auth_headers):
    def last_used():
        with app.app_context():
            return db.session.scalar(db.select(ApiToken.last_used_at).filter_by(
                token_hash=hash_token(token)))

    assert last_used() is None
    client.get(TOKENS, headers=auth_headers)
    first = last_used()
    assert first is not None and abs(utcnow() - first) < timedelta(seconds=30)
    client.get(TOKENS, headers=auth_headers)
    assert last_used() == first  # no second write within the minute
    with app.app_context():
        row = db.session.scalar(db.select(ApiToken).filter_by(token_hash=hash_token(token)))
        assert touch_last_used(row, now=first + LAST_USED_RESOLUTION / 2) is False
        assert touch_last_used(row, now=first + LAST_USED_RESOLUTION * 2) is True
    assert last_used() == first + LAST_USED_RESOLUTION * 2
