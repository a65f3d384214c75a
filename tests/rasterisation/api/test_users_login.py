"""People: users and roles, login / refresh / logout, lockout, invitations, the CLI."""
from __future__ import annotations

import time
import uuid
from datetime import timedelta

import pytest

from tests.conftest import assert_error

PASSWORD = "correct horse battery"
LOGIN, REFRESH, LOGOUT = "/api/v1/auth/login", "/api/v1/auth/token", "/api/v1/auth/logout"


def make_user(app, company_id, email="ana@example.com", password=PASSWORD, role="admin"):
    from rasterisation.services.users import create_user

    with app.app_context():
        return create_user(company_id=company_id, email=email, password=password, role=role).id


def login(client, email="ana@example.com", password=PASSWORD, addr="10.0.0.1"):
    return client.post(LOGIN, json={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": addr})


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(app, company):
    return make_user(app, company)


def test_login_answers_a_pair_that_works_as_a_bearer_token(client, company, admin):
    r = login(client)
    assert r.status_code == 200, r.json
    body = r.json
    assert set(body) >= {"token", "refreshToken", "expires_in"}
    assert body["expires_in"] == 900 and body["user"]["role"] == "admin"
    me = client.get("/api/v1/auth/me", headers=bearer(body["token"]))
    assert me.json["kind"] == "user" and me.json["company_id"] == str(company)
    images = client.get(f"/api/v1/companies/{company}/images/", headers=bearer(body["token"]))
    assert images.status_code == 200


def test_wrong_password_and_unknown_email_answer_alike(client, admin):
    from rasterisation.services import users

    users._dummy_hash()  # the first dummy hash is made once per process: not in the timing
    timings = {"wrong": [], "unknown": []}
    answers = {}
    for _ in range(3):
        for kind, email in (("wrong", "ana@example.com"), ("unknown", "nobody@example.com")):
            start = time.perf_counter()
            r = login(client, email=email, password="not the password", addr=f"10.1.{_}.1")
            timings[kind].append(time.perf_counter() - start)
            answers[kind] = (r.status_code, r.json)
    assert answers["wrong"] == answers["unknown"]
    assert answers["wrong"][0] == 401
    wrong, unknown = min(timings["wrong"]), min(timings["unknown"])
    assert unknown > 0.5 * wrong and wrong > 0.5 * unknown, timings  # both verify one hash


def test_lockout_after_five_failures_even_with_the_right_password(client, admin):
    for i in range(5):
        r = login(client, password="wrong password!", addr=f"10.2.0.{i}")
        assert r.status_code == 401, (i, r.json)
    r = login(client, addr="10.2.1.1")  # right password, new address: the account is locked
    body = assert_error(r, 429, "too many failed sign-ins")
    assert int(r.headers["Retry-After"]) >= 29
    # an unknown email locks exactly the same way (a lockout says nothing about existence)
    for i in range(5):
        login(client, email="ghost@example.com", password="x", addr=f"10.3.0.{i}")
    ghost = login(client, email="ghost@example.com", password="x", addr="10.3.1.1")
    assert ghost.status_code == 429 and ghost.json["message"].split(";")[0] == \
        body["message"].split(";")[0]


def test_lockout_per_address_and_backoff(app, client, company, admin):
    from rasterisation.services import sessions

    for i in range(5):
        login(client, email=f"user{i}@example.com", password="nope nope", addr="10.4.0.1")
    assert login(client, addr="10.4.0.1").status_code == 429  # this address is locked
    assert login(client, addr="10.4.0.2").status_code == 200  # the account is not
    with app.app_context():
        now = sessions.utcnow()
        keys = ["address:10.9.9.9"]
        for _ in range(7):
            sessions._record_failure(keys, now)
        row = sessions.db.session.get(sessions.LoginThrottle, keys[0])
        assert row.locked_until - now == timedelta(seconds=sessions.LOCKOUT_BASE * 4)


def test_success_clears_the_account_count(client, admin):
    for i in range(4):
        login(client, password="wrong password!", addr=f"10.5.0.{i}")
    assert login(client, addr="10.5.1.1").status_code == 200
    for i in range(4):
        login(client, password="wrong password!", addr=f"10.5.2.{i}")
    assert login(client, addr="10.5.3.1").status_code == 200


def test_refresh_works_once_and_reuse_revokes_the_family(client, company, admin):
    first = login(client).json
    second = client.post(REFRESH, json={"refreshToken": first["refreshToken"]})
    assert second.status_code == 200
    pair = second.json
    assert pair["refreshToken"] != first["refreshToken"] and pair["token"] != first["token"]
    assert client.get("/api/v1/auth/me", headers=bearer(pair["token"])).status_code == 200
    # the first refresh token again: refused, and the whole family is revoked
    assert_error(client.post(REFRESH, json={"refreshToken": first["refreshToken"]}), 401,
                 "already used")
    assert_error(client.post(REFRESH, json={"refreshToken": pair["refreshToken"]}), 401)
    assert_error(client.get("/api/v1/auth/me", headers=bearer(pair["token"])), 401)
    # another sign-in is not affected
    other = login(client).json
    assert client.get("/api/v1/auth/me", headers=bearer(other["token"])).status_code == 200


def test_logout_revokes_the_family(client, admin):
    pair = login(client).json
    assert client.post(LOGOUT, json={"refreshToken": pair["refreshToken"]}).status_code == 204
    assert_error(client.post(REFRESH, json={"refreshToken": pair["refreshToken"]}), 401)
    assert_error(client.get("/api/v1/auth/me", headers=bearer(pair["token"])), 401, "ended")
    # with the access token alone
    pair = login(client).json
    assert client.post(LOGOUT, json={}, headers=bearer(pair["token"])).status_code == 204
    assert_error(client.get("/api/v1/auth/me", headers=bearer(pair["token"])), 401)
    assert client.post(LOGOUT, json={"refreshToken": "rsr_unknown"}).status_code == 204
    assert_error(client.post(LOGOUT, json={}), 401)


def test_expired_access_token_is_refused_but_can_be_refreshed(app, client, admin):
    from rasterisation.services import sessions

    pair = login(client).json
    with app.app_context():
        user = sessions.db.session.get(sessions.User, admin)
        session = sessions.db.session.scalars(
            sessions.sa.select(sessions.UserSession).where(
                sessions.UserSession.user_id == admin)).first()
        old = sessions.issue_access_token(
            user, session, now=sessions.utcnow() - timedelta(seconds=901))
    assert_error(client.get("/api/v1/auth/me", headers=bearer(old)), 401, "expired")
    assert client.post(REFRESH, json={"refreshToken": pair["refreshToken"]}).status_code == 200


def test_tampered_or_foreign_tokens_are_refused(app, client, make_app, admin):
    import jwt

    pair = login(client).json
    header, payload, signature = pair["token"].split(".")
    forged = jwt.encode({**jwt.decode(pair["token"], options={"verify_signature": False}),
                         "role": "admin"}, "a guessed key that is long enough for HS256",
                        algorithm="HS256")
    none_alg = jwt.encode(jwt.decode(pair["token"], options={"verify_signature": False}),
                          None, algorithm="none")
    for bad in (forged, none_alg, f"{header}.{payload}.{signature[::-1]}"):
        r = client.get("/api/v1/auth/me", headers=bearer(bad))
        assert_error(r, 401)
    # another service (another data dir, another secret key) does not accept it
    other = make_app()
    assert other.test_client().get("/api/v1/auth/me",
                                   headers=bearer(pair["token"])).status_code == 401


def test_disabled_user_cannot_log_in_or_refresh(app, client, company, auth_headers, admin):
    member = make_user(app, company, email="bo@example.com", role="member")
    pair = login(client, email="bo@example.com").json
    r = client.post(f"/api/v1/companies/{company}/users/{member}/disable", headers=auth_headers)
    assert r.status_code == 200 and r.json["state"] == "disabled"
    assert_error(login(client, email="bo@example.com"), 403, "disabled")
    # a wrong password still answers like any wrong password (no disclosure)
    assert login(client, email="bo@example.com", password="wrong wrong").status_code == 401
    assert_error(client.post(REFRESH, json={"refreshToken": pair["refreshToken"]}), 401)
    assert_error(client.get("/api/v1/auth/me", headers=bearer(pair["token"])), 401, "disabled")


def test_admin_lists_invites_and_disables(client, company, admin):
    pair = login(client).json
    users_url = f"/api/v1/companies/{company}/users/"
    r = client.post(users_url, json={"email": "New@Example.com"}, headers=bearer(pair["token"]))
    assert r.status_code == 201, r.json
    invited = r.json
    assert invited["state"] == "invited" and invited["email"] == "new@example.com"
    assert invited["invite_token"].startswith("rsi_")
    assert login(client, email="new@example.com", password="").status_code == 422
    assert login(client, email="new@example.com", password="anything at all").status_code == 401
    # set the password once
    ok = client.post("/api/v1/auth/set_password",
                     json={"inviteToken": invited["invite_token"], "password": "short"})
    assert_error(ok, 422, "at least")
    ok = client.post("/api/v1/auth/set_password",
                     json={"inviteToken": invited["invite_token"], "password": PASSWORD})
    assert ok.status_code == 204
    again = client.post("/api/v1/auth/set_password",
                        json={"inviteToken": invited["invite_token"], "password": PASSWORD})
    assert_error(again, 422, "unknown, used or expired")
    member = login(client, email="new@example.com").json
    assert member["user"]["role"] == "member"
    listing = client.get(users_url, headers=bearer(pair["token"])).json
    assert listing["total"] == 2 and {u["state"] for u in listing["items"]} == {"active"}
    assert "password_hash" not in listing["items"][0]
    # taken email
    assert_error(client.post(users_url, json={"email": "ana@example.com"},
                             headers=bearer(pair["token"])), 409, "already exists")
    # an admin cannot disable themself
    assert_error(client.post(f"{users_url}{admin}/disable", headers=bearer(pair["token"])),
                 403, "yourself")
    assert_error(client.post(f"{users_url}{uuid.uuid4()}/disable",
                             headers=bearer(pair["token"])), 404)


def test_members_cannot_manage_users_or_tokens(app, client, company, admin):
    make_user(app, company, email="bo@example.com", role="member")
    member = bearer(login(client, email="bo@example.com").json["token"])
    users_url = f"/api/v1/companies/{company}/users/"
    assert_error(client.get(users_url, headers=member), 403, "admin")
    assert_error(client.post(users_url, json={"email": "x@example.com"}, headers=member), 403)
    assert_error(client.post(f"{users_url}{admin}/disable", headers=member), 403)
    assert_error(client.post("/api/v1/auth/private_tokens/", json={"name": "x"},
                             headers=member), 403, "admin")
    assert client.get("/api/v1/auth/private_tokens/", headers=member).status_code == 200
    assert client.get(f"/api/v1/companies/{company}/images/", headers=member).status_code == 200


def test_admin_user_manages_api_tokens(client, company, admin):
    admin_headers = bearer(login(client).json["token"])
    r = client.post("/api/v1/auth/private_tokens/", json={"name": "dash"},
                    headers=admin_headers)
    assert r.status_code == 201, r.json
    created = r.json
    assert client.get("/api/v1/auth/me", headers=bearer(created["token"])).json["kind"] == \
        "api_token"
    r = client.delete(f"/api/v1/auth/private_tokens/{created['id']}", headers=admin_headers)
    assert r.status_code == 204
    assert client.get("/api/v1/auth/me", headers=bearer(created["token"])).status_code == 401


def test_passwords_are_argon2_and_emails_unique(app, company, other_company, admin):
    from rasterisation.extensions import db
    from rasterisation.models import User
    from rasterisation.services.users import UserError, create_user

    with app.app_context():
        user = db.session.get(User, admin)
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        with pytest.raises(UserError, match="already exists"):
            create_user(company_id=other_company, email="ANA@example.com", password=PASSWORD)
        with pytest.raises(UserError, match="at least"):
            create_user(company_id=company, email="c@example.com", password="short")
        with pytest.raises(LookupError):
            create_user(company_id=uuid.uuid4(), email="d@example.com", password=PASSWORD)


def test_cli_users_create_reads_the_password_from_stdin(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from rasterisation.app import create_app
    from rasterisation.cli import main
    from rasterisation.extensions import db

    monkeypatch.setenv("RASTERISATION_DATA_DIR", str(tmp_path / "var"))
    with create_app().app_context():
        db.create_all()
    runner = CliRunner()
    company = runner.invoke(main, ["companies", "create", "Clinic"]).output.strip()
    r = runner.invoke(main, ["users", "create", "--company", company, "--email",
                             "boss@example.com", "--admin"], input=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    user_id = r.stdout.strip()
    uuid.UUID(user_id)
    assert PASSWORD not in r.output
    weak = runner.invoke(main, ["users", "create", "--company", company, "--email",
                                "b@example.com"], input="short\n")
    assert weak.exit_code != 0 and "at least" in weak.output
    # no --password option exists
    r = runner.invoke(main, ["users", "create", "--company", company, "--email",
                             "c@example.com", "--password", PASSWORD])
    assert r.exit_code == 2
    listing = runner.invoke(main, ["users", "list", "--company", company]).stdout
    assert f"{user_id}\tboss@example.com\tadmin\tactive" in listing
    app = create_app()
    with app.app_context():
        client = app.test_client()
        pair = client.post(LOGIN, json={"email": "boss@example.com", "password": PASSWORD})
        assert pair.status_code == 200 and pair.json["user"]["company_id"] == company
