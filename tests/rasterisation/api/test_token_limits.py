"""Issue 12 item 5: a token mints only tokens that expire no later than itself, revoking it
revokes what it minted, token creation and the expensive endpoints are rate-limited per token
(429 + Retry-After in the one error shape), counters shared through Redis when configured."""
from __future__ import annotations

import io
import os

import pytest

from conftest import assert_error  # shared helpers (tests/conftest.py)

TOKENS = "/api/v1/auth/private_tokens/"
V4 = "/service/rasterisation/v4/masks/"
REDIS = os.environ.get("RASTERISATION_TEST_REDIS_URL")


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def mint(client, token, **body):
    return client.post(TOKENS, json={"name": "minted", **body}, headers=bearer(token))


@pytest.fixture
def app(make_app):
    return make_app()


def _expiring_token(app, company, days):
    from rasterisation.services.tokens import issue_token

    with app.app_context():
        row, plaintext = issue_token(company_id=company, name="short", expires_in_days=days)
        return row.expires_at, plaintext


# ------------------------------------------------------------------ minting
def test_a_token_cannot_mint_one_that_outlives_it(app, client, company):
    parent_expiry, parent = _expiring_token(app, company, 10)
    r = mint(client, parent, expires_in_days=30)
    body = assert_error(r, 422, "expires_in_days", "outlive")
    assert list(body["errors"]["json"]) == ["expires_in_days"]
    # omitted: the child expires with its parent, not never
    child = mint(client, parent)
    assert child.status_code == 201
    assert child.json["expires_at"] == parent_expiry.isoformat()
    assert child.json["parent_id"] is not None
    shorter = mint(client, parent, expires_in_days=5)
    assert shorter.status_code == 201
    assert shorter.json["expires_at"] < parent_expiry.isoformat()
    # and the child cannot stretch it either
    assert_error(mint(client, child.json["token"], expires_in_days=11), 422, "expires_in_days")


def test_a_token_that_never_expires_mints_freely(client, token):
    r = mint(client, token, expires_in_days=3650)
    assert r.status_code == 201 and r.json["expires_at"] is not None
    r = mint(client, token)
    assert r.status_code == 201 and r.json["expires_at"] is None


def test_revoking_a_token_revokes_what_it_minted(app, client, token):
    child = mint(client, token).json
    grandchild = mint(client, child["token"]).json
    sibling = mint(client, token).json
    assert grandchild["parent_id"] == child["id"]
    # revoking the child (with the sibling) takes the grandchild, not the parent
    assert client.delete(TOKENS + child["id"], headers=bearer(sibling["token"])).status_code \
        == 204
    for revoked in (child, grandchild):
        assert_error(client.get(TOKENS, headers=bearer(revoked["token"])), 401, "revoked")
    assert client.get(TOKENS, headers=bearer(token)).status_code == 200
    listing = {t["id"]: t for t in client.get(
        TOKENS, headers=bearer(token), query_string={"page_size": 100}).json["items"]}
    assert listing[grandchild["id"]]["state"] == "revoked"
    assert listing[sibling["id"]]["state"] == "active"


def test_cli_revoke_cascades_too(app, client, company, token, monkeypatch):
    from click.testing import CliRunner

    from rasterisation.cli import main

    child = mint(client, token).json
    listing = client.get(TOKENS, headers=bearer(token), query_string={"page_size": 100}).json
    parent_id = next(t["id"] for t in listing["items"] if t["id"] != child["id"])
    monkeypatch.setenv("RASTERISATION_DATA_DIR", str(app.config["RASTERISATION"].data_dir))
    result = CliRunner().invoke(main, ["tokens", "revoke", parent_id])
    assert result.exit_code == 0, result.output
    assert_error(client.get(TOKENS, headers=bearer(child["token"])), 401, "revoked")


# ------------------------------------------------------------------ rate limits
def test_token_creation_is_rate_limited_per_token(make_app, tenant_factory):
    app = make_app(RASTERISATION_TOKEN_RATE_LIMIT="3/minute")
    _, token = tenant_factory(app, "A")
    _, other = tenant_factory(app, "B")
    client = app.test_client()
    assert [mint(client, token).status_code for _ in range(3)] == [201] * 3
    r = mint(client, token)
    assert_error(r, 429, "tokens created", "3/minute")
    assert 1 <= int(r.headers["Retry-After"]) <= 61
    assert mint(client, other).status_code == 201  # another token has its own budget
    assert client.get(TOKENS, headers=bearer(token)).status_code == 200  # listing is free


def test_expensive_endpoints_are_rate_limited_per_token(make_app, tenant_factory,
                                                        astronaut_jpeg):
    app = make_app(RASTERISATION_RATE_LIMIT="2/minute")
    company, token = tenant_factory(app, "A")
    _, other = tenant_factory(app, "B")
    client = app.test_client()

    def upload(tok):
        return client.post(f"/api/v1/companies/{company}/images/",
                           data={"file": (io.BytesIO(astronaut_jpeg), "a.jpg")},
                           headers=bearer(tok), content_type="multipart/form-data")

    first = upload(token)
    assert first.status_code == 201
    image = first.json["id"]
    assert upload(token).status_code == 201
    r = upload(token)
    body = assert_error(r, 429, "too many requests", "2/minute")
    assert int(r.headers["Retry-After"]) >= 1 and "errors" not in body
    # each expensive endpoint counts on its own, per token
    analysis = f"/api/v1/companies/{company}/images/{image}/analyses/quality"
    masks = {"image_id": image, "masks": [{"algorithm_tech_name": "quality"}]}
    for _ in range(2):
        assert client.get(analysis, headers=bearer(token)).status_code == 200
        assert client.post(V4, query_string={"company_id": company}, json=masks,
                           headers=bearer(token)).status_code == 200
    assert_error(client.get(analysis, headers=bearer(token)), 429)
    assert_error(client.post(V4, query_string={"company_id": company}, json=masks,
                             headers=bearer(token)), 429)
    # cheap endpoints are not limited; another token is not affected (its company's 403)
    for _ in range(4):
        assert client.get(f"/api/v1/companies/{company}/images/{image}",
                          headers=bearer(token)).status_code == 200
    assert_error(upload(other), 403)
    # no token: 401 before any counter moves
    assert_error(client.post(f"/api/v1/companies/{company}/images/"), 401)


def test_limits_can_be_switched_off(make_app, tenant_factory):
    app = make_app(RASTERISATION_TOKEN_RATE_LIMIT="off")
    _, token = tenant_factory(app, "A")
    client = app.test_client()
    assert {mint(client, token).status_code for _ in range(40)} == {201}


def test_bad_limit_is_a_config_error(tmp_path):
    from rasterisation.config import ConfigError, load_settings

    for name, value in (("RATE_LIMIT", "lots"), ("TOKEN_RATE_LIMIT", "5 per fortnight"),
                        ("REDIS_URL", "127.0.0.1:6379")):
        with pytest.raises(ConfigError, match=f"RASTERISATION_{name}"):
            load_settings({"RASTERISATION_DATA_DIR": str(tmp_path),
                           f"RASTERISATION_{name}": value})


@pytest.mark.skipif(not REDIS, reason="RASTERISATION_TEST_REDIS_URL not set")
def test_redis_counters_are_shared_by_workers(make_app, tenant_factory, tmp_path):
    """Two apps on one database stand for two gunicorn workers: with Redis the second one
    knows what the first one counted."""
    import redis

    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        from conftest import backend_unavailable

        backend_unavailable("Redis", exc)
    env = {"RASTERISATION_TOKEN_RATE_LIMIT": "2/minute", "RASTERISATION_REDIS_URL": REDIS,
           "RASTERISATION_DATA_DIR": str(tmp_path / "shared")}
    worker_a, worker_b = make_app(**env), make_app(**env)
    _, token = tenant_factory(worker_a, "A")
    assert mint(worker_a.test_client(), token).status_code == 201
    assert mint(worker_b.test_client(), token).status_code == 201
    assert_error(mint(worker_a.test_client(), token), 429)
    assert_error(mint(worker_b.test_client(), token), 429)
    # memory counters (no Redis) are per worker: the same sequence is not refused
    memory = {k: v for k, v in env.items() if k != "RASTERISATION_REDIS_URL"}
    memory["RASTERISATION_DATA_DIR"] = str(tmp_path / "memory")
    first, second = make_app(**memory), make_app(**memory)
    _, token = tenant_factory(first, "B")
    statuses = [mint(app.test_client(), token).status_code
                for app in (first, second, first, second)]
    assert statuses == [201] * 4


def test_redis_down_lets_requests_through(make_app, tenant_factory):
    """A rate limiter outage must not take the API down (fail open, logged)."""
    app = make_app(RASTERISATION_TOKEN_RATE_LIMIT="1/minute",
                   RASTERISATION_REDIS_URL="redis://127.0.0.1:1/0")
    _, token = tenant_factory(app, "A")
    client = app.test_client()
    assert [mint(client, token).status_code for _ in range(2)] == [201, 201]
