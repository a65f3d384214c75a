"""api_spec/openapi.json is generated from the code; this fails when they drift apart.

Fix a failure with ``rasterisation openapi write`` (or ``make openapi``) and commit the file.
"""
from __future__ import annotations

import json

from rasterisation.cli import OPENAPI_PATH, openapi_document


def test_committed_spec_matches_the_code(make_app):
    generated = openapi_document(make_app())
    committed = OPENAPI_PATH.read_text()
    assert json.loads(committed) == json.loads(generated), (
        "api_spec/openapi.json is stale: run `rasterisation openapi write` and commit it")
    assert committed == generated  # byte for byte: the writer is deterministic


def test_generation_is_deterministic(make_app):
    assert openapi_document(make_app()) == openapi_document(make_app())


def test_spec_documents_the_contract(make_app):
    spec = json.loads(openapi_document(make_app()))
    paths = spec["paths"]
    for path, methods in {
        "/health": {"get"},
        "/api/v1/auth/private_tokens/": {"get", "post"},
        "/api/v1/auth/private_tokens/{token_id}": {"delete"},
        "/api/v1/companies/{company_id}/images/": {"get", "post"},
        "/api/v1/companies/{company_id}/images/{image_id}": {"get", "delete"},
    }.items():
        assert methods <= set(paths[path]), path
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert spec["security"] == [{"bearerAuth": []}]
    assert paths["/health"]["get"]["security"] == []
    upload = paths["/api/v1/companies/{company_id}/images/"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    params = {p["name"]: p["schema"] for p in
              paths["/api/v1/companies/{company_id}/images/{image_id}"]["parameters"]}
    assert params["image_id"] == {"type": "string", "format": "uuid"}


def test_served_spec_is_the_same_document(make_app):
    app = make_app()
    served = app.test_client().get("/openapi.json")
    assert served.status_code == 200
    assert served.json == json.loads(openapi_document(app))
