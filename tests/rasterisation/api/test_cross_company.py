"""Two companies: every endpoint called with company B's token on company A's objects is
refused (403 for A's company_id, 404 for A's objects under B's own company_id), and A's data
is intact afterwards. Company B calls with each kind of credential: its API token, and the
access token of one of its admins (a user's JWT): scoping is the same for both.

To cover a new endpoint, add a case to ``CASES``: (name, method, path template, expected,
function of A's data -> request kwargs). Templates see ``a`` / ``b`` (company ids), ``image``
(A's image id), ``token_id`` (A's token id) and ``user`` (A's user id).
"""
from __future__ import annotations

import io

import pytest

from rasterisation.storage import EXTENSION_KEY

IMAGES = "/api/v1/companies/{company}/images/"


def _photo():
    return {"file": (io.BytesIO(b"\xff\xd8\xff" + b"0" * 100), "x.jpg")}


def _masks_body(data):
    return {"json": {"image_id": data["image"], "image_type": "original",
                     "masks": [{"algorithm_tech_name": "pores"}]}}


def _none(data):
    return {}


V4, V5 = "/service/rasterisation/v4/masks/", "/service/rasterisation/v5/svg_masks/"
ANALYSIS = IMAGES + "{image}/analyses/quality"
USERS = "/api/v1/companies/{company}/users/"
PASSWORD = "correct horse battery"

CASES = [
    ("upload into A", "post", IMAGES.format(company="{a}"), 403,
     lambda data: {"data": _photo(), "content_type": "multipart/form-data"}),
    ("list A's images", "get", IMAGES.format(company="{a}"), 403, _none),
    ("get A's image via A", "get", IMAGES.format(company="{a}") + "{image}", 403, _none),
    ("delete A's image via A", "delete", IMAGES.format(company="{a}") + "{image}", 403, _none),
    ("get A's image via B", "get", IMAGES.format(company="{b}") + "{image}", 404, _none),
    ("delete A's image via B", "delete", IMAGES.format(company="{b}") + "{image}", 404, _none),
    ("revoke A's token", "delete", "/api/v1/auth/private_tokens/{token_id}", 404, _none),
    ("analyse via A", "get", ANALYSIS.format(company="{a}", image="{image}"), 403, _none),
    ("analyse A's image via B", "get", ANALYSIS.format(company="{b}", image="{image}"), 404,
     _none),
    ("v4 masks with A's company_id", "post", V4 + "?company_id={a}", 403, _masks_body),
    ("v4 masks on A's image via B", "post", V4 + "?company_id={b}", 404, _masks_body),
    ("v5 masks with A's company_id", "post", V5 + "?company_id={a}", 403, _masks_body),
    ("v5 masks on A's image via B", "post", V5 + "?company_id={b}", 404, _masks_body),
    ("list A's users", "get", USERS.format(company="{a}"), 403, _none),
    ("invite into A", "post", USERS.format(company="{a}"), 403,
     lambda data: {"json": {"email": "intruder@example.com"}}),
    ("disable A's user via A", "post", USERS.format(company="{a}") + "{user}/disable", 403,
     _none),
    ("disable A's user via B", "post", USERS.format(company="{b}") + "{user}/disable", 404,
     _none),
]
CALLERS = ["api_token", "user_token"]


def _user(app, company_id, email):
    from rasterisation.services.users import create_user

    with app.app_context():
        return str(create_user(company_id=company_id, email=email, password=PASSWORD,
                               role="admin").id)


@pytest.fixture
def company_a_data(app, client, company, auth_headers, upload, astronaut_jpeg):
    image = upload(company, auth_headers, astronaut_jpeg, "a.jpg").json
    tokens = client.get("/api/v1/auth/private_tokens/", headers=auth_headers).json["items"]
    user = _user(app, company, "admin@a.example.com")
    return {"image": image["id"], "token_id": tokens[0]["id"], "user": user}


@pytest.fixture(params=CALLERS)
def b_headers(request, app, client, other_company, other_auth_headers):
    """Company B's credentials: its API token, or the access token of one of its admins."""
    if request.param == "api_token":
        return other_auth_headers
    _user(app, other_company, "admin@b.example.com")
    r = client.post("/api/v1/auth/login",
                    json={"email": "admin@b.example.com", "password": PASSWORD})
    assert r.status_code == 200, r.json
    return {"Authorization": f"Bearer {r.json['token']}"}


def assert_a_intact(app, client, company, auth_headers, data):
    r = client.get(IMAGES.format(company=company) + data["image"], headers=auth_headers)
    assert r.status_code == 200, "A's image is gone"
    listing = client.get(IMAGES.format(company=company), headers=auth_headers).json
    assert [i["id"] for i in listing["items"]] == [data["image"]]
    tokens = client.get("/api/v1/auth/private_tokens/", headers=auth_headers).json["items"]
    assert [(t["id"], t["state"]) for t in tokens] == [(data["token_id"], "active")]
    users = client.get(USERS.format(company=company), headers=auth_headers).json["items"]
    assert [(u["id"], u["state"]) for u in users] == [(data["user"], "active")]
    with app.app_context():
        from rasterisation.extensions import db
        from rasterisation.models import Image

        key = db.session.get(Image, __import__("uuid").UUID(data["image"])).storage_key
    assert app.extensions[EXTENSION_KEY].exists(key)


@pytest.mark.parametrize("name,method,template,expected,kwargs", CASES,
                         ids=[c[0] for c in CASES])
def test_company_b_cannot_touch_company_a(app, client, company, auth_headers, other_company,
                                          b_headers, company_a_data, name, method,
                                          template, expected, kwargs):
    path = template.format(a=company, b=other_company, **company_a_data)
    r = getattr(client, method)(path, headers=b_headers, **kwargs(company_a_data))
    assert r.status_code == expected, (name, r.status_code, r.json)
    body = r.get_json()
    assert body["code"] == expected and body["message"]
    # never reveals anything about A (the 404 names only what the caller asked for)
    assert str(company) not in body["message"] or expected == 403
    assert_a_intact(app, client, company, auth_headers, company_a_data)


def test_b_lists_only_its_own(client, company, other_company, b_headers,
                              company_a_data, upload, astronaut_jpeg):
    own = upload(other_company, b_headers, astronaut_jpeg).json["id"]
    images = client.get(IMAGES.format(company=other_company), headers=b_headers).json
    assert [i["id"] for i in images["items"]] == [own]
    users = client.get(USERS.format(company=other_company), headers=b_headers).json
    assert company_a_data["user"] not in {u["id"] for u in users["items"]}
    tokens = client.get("/api/v1/auth/private_tokens/", headers=b_headers).json
    assert company_a_data["token_id"] not in {t["id"] for t in tokens["items"]}
    assert tokens["total"] == 1


def test_unknown_company_id_is_403_not_404(client, b_headers):
    r = client.get(IMAGES.format(company="8c6d0bd7-5a7b-4c4e-9f1f-6b7b0f0b2d1c"),
                   headers=b_headers)
    assert r.status_code == 403
