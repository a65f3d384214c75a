"""/health, /openapi.json and /docs need no token; /docs loads nothing from the network."""
from __future__ import annotations

import re

import pytest


@pytest.fixture
def app(make_app):
    return make_app()


def test_health(client):
    r = client.get("/health")
    assert r.status_code == 200 and r.json == {"status": "ok"}


def test_docs_page_uses_only_local_assets(client):
    r = client.get("/docs")
    assert r.status_code == 200 and b"SwaggerUIBundle" in r.data
    html = r.data.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources, html
    for source in sources:
        assert not source.startswith(("http:", "https:", "//")), source
        # relative to /docs, as a browser resolves it
        url = "/" + source if not source.startswith("/") else source
        asset = client.get(url)
        assert asset.status_code == 200 and len(asset.data) > 1000, source
    assert '"/openapi.json"' in html


def test_unknown_asset_is_404(client):
    r = client.get("/docs/assets/../../setup.cfg")
    assert r.status_code == 404
    assert client.get("/docs/assets/index.html").status_code == 404


def test_openapi_json_needs_no_token(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200 and r.json["openapi"].startswith("3.")
