"""Issue 12, operations: X-Request-ID, /health/ready, `rasterisation tokens list|revoke`."""
from __future__ import annotations

import json
import os
import re

import pytest
from click.testing import CliRunner

from conftest import assert_error, stop_server  # shared helpers (tests/conftest.py)
from rasterisation.cli import main


@pytest.fixture
def app(make_app):
    return make_app()


# ------------------------------------------------------------------ X-Request-ID
def test_request_id_is_echoed_or_generated(client, auth_headers):
    r = client.get("/health", headers={"X-Request-ID": "client-42.a:b"})
    assert r.headers["X-Request-ID"] == "client-42.a:b"
    generated = client.get("/health").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    assert client.get("/health").headers["X-Request-ID"] != generated
    # a value that could forge log lines is replaced, not echoed
    r = client.get("/health", headers={"X-Request-ID": "x" * 129})
    assert r.headers["X-Request-ID"] != "x" * 129
    r = client.get("/health", headers={"X-Request-ID": "a b;<script>"})
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["X-Request-ID"])


def test_request_id_is_on_errors_too(client, auth_headers):
    for r in (client.get("/nowhere", headers={"X-Request-ID": "e1"}),
              client.get("/api/v1/auth/private_tokens/", headers={"X-Request-ID": "e1"}),
              client.post("/api/v1/auth/private_tokens/", data="[" * 100,
                          content_type="application/json",
                          headers={"X-Request-ID": "e1", **auth_headers})):
        assert r.status_code >= 400 and r.headers["X-Request-ID"] == "e1"


# ------------------------------------------------------------------ /health/ready
def test_ready_checks_database_and_storage(client):
    r = client.get("/health/ready")
    assert r.status_code == 200
    assert r.json == {"status": "ok", "checks": {"database": "ok", "storage": "ok"}}


def test_not_ready_when_the_database_is_gone(tmp_path):
    from rasterisation.app import create_app

    app = create_app({"RASTERISATION_DATA_DIR": str(tmp_path / "var"),
                      "RASTERISATION_DATABASE_URL":
                          f"sqlite:///{tmp_path / 'missing' / 'db.sqlite3'}"},
                     overrides={"TESTING": True})
    r = app.test_client().get("/health/ready")
    body = assert_error(r, 503, "database")
    assert set(body["errors"]) == {"database"} and r.headers["Retry-After"]
    assert app.test_client().get("/health").status_code == 200


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_not_ready_when_local_storage_is_not_writable(app, client):
    root = app.config["RASTERISATION"].data_dir / "objects"
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o500)
    try:
        body = assert_error(client.get("/health/ready"), 503, "storage")
        assert set(body["errors"]) == {"storage"}
    finally:
        root.chmod(0o700)


def test_not_ready_when_storage_is_unreachable(app, client, monkeypatch):
    from rasterisation.storage.base import StorageError
    from rasterisation.storage.local import LocalStorage

    def down(self):
        raise StorageError("no route to host")

    monkeypatch.setattr(LocalStorage, "root", property(down), raising=False)
    body = assert_error(client.get("/health/ready"), 503, "storage")
    assert body["errors"] == {"storage": ["storage unavailable (StorageError)"]}


# ------------------------------------------------------------------ tokens list | revoke
@pytest.fixture
def env(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.startswith("RASTERISATION_") and not name.startswith("RASTERISATION_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("RASTERISATION_DATA_DIR", str(tmp_path / "var"))
    assert CliRunner().invoke(main, ["db", "upgrade"]).exit_code == 0
    return tmp_path / "var"


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_tokens_list_and_revoke(env):
    company = run("companies", "create", "Acme").stdout.strip()
    other = run("companies", "create", "Other").stdout.strip()
    first = run("tokens", "create", "--company", company, "--name", "ci").stdout.strip()
    run("tokens", "create", "--company", company, "--name", "dash", "--expires-in", "5")
    run("tokens", "create", "--company", other, "--name", "theirs")

    listed = run("tokens", "list", "--company", company, "--json")
    assert listed.exit_code == 0
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [r["name"] for r in rows] == ["dash", "ci"]  # newest first, this company only
    assert all(r["state"] == "active" for r in rows)
    assert first not in listed.stdout and first[:12] in {r["prefix"] for r in rows}
    plain = run("tokens", "list", "--company", company).stdout.splitlines()
    assert len(plain) == 2 and plain[1].split("\t")[1:4] == ["active", first[:12], "ci"]

    ci = next(r for r in rows if r["name"] == "ci")
    wrong = run("tokens", "revoke", ci["id"], "--company", other)
    assert wrong.exit_code != 0 and "no token" in wrong.output
    revoked = run("tokens", "revoke", ci["id"])
    assert revoked.exit_code == 0 and revoked.stdout == ""
    assert run("tokens", "revoke", ci["id"], "--company", company).exit_code == 0  # idempotent
    rows = [json.loads(line)
            for line in run("tokens", "list", "--company", company, "--json").stdout.splitlines()]
    assert {r["name"]: r["state"] for r in rows} == {"ci": "revoked", "dash": "active"}

    from rasterisation.app import create_app

    app = create_app({"RASTERISATION_DATA_DIR": str(env)})
    r = app.test_client().get("/api/v1/auth/private_tokens/",
                              headers={"Authorization": f"Bearer {first}"})
    assert r.status_code == 401 and "revoked" in r.json["message"]


def test_tokens_list_unknown_company_and_revoke_unknown_token(env):
    import uuid

    r = run("tokens", "list", "--company", str(uuid.uuid4()))
    assert r.exit_code == 2 and "no company" in r.output
    r = run("tokens", "revoke", str(uuid.uuid4()))
    assert r.exit_code == 2 and "no token" in r.output


# ------------------------------------------------------------------ /metrics
def _sample(text: str, name: str, **labels) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def test_metrics_count_requests_by_endpoint_and_status(client, company, auth_headers):
    before = client.get("/metrics").get_data(as_text=True)
    images = "/api/v1/companies/<uuid:company_id>/images/"
    client.get(f"/api/v1/companies/{company}/images/", headers=auth_headers)
    client.get(f"/api/v1/companies/{company}/images/", headers=auth_headers)
    client.get(f"/api/v1/companies/{company}/images/")  # 401
    client.get("/nowhere/at/all")                       # 404, unmatched
    r = client.get("/metrics")
    assert r.status_code == 200 and r.mimetype == "text/plain"
    after = r.get_data(as_text=True)

    def delta(name, **labels):
        return _sample(after, name, **labels) - _sample(before, name, **labels)

    assert delta("rasterisation_http_requests_total", endpoint=images, status="200") == 2
    assert delta("rasterisation_http_requests_total", endpoint=images, status="401") == 1
    assert delta("rasterisation_http_requests_total", endpoint="<unmatched>",
                 status="404") == 1
    assert delta("rasterisation_http_request_duration_seconds_count", endpoint=images,
                 method="GET") == 3
    assert "/nowhere/at/all" not in after  # concrete paths never become labels
    assert _sample(after, "rasterisation_worker_rss_bytes") > 10e6


@pytest.mark.slow
def test_served_metrics_aggregate_the_workers(tmp_path):
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    exe = Path(sys.executable).with_name("rasterisation")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("RASTERISATION_", "PROMETHEUS_"))}
    env["RASTERISATION_DATA_DIR"] = str(tmp_path / "var")
    subprocess.run([str(exe), "db", "upgrade"], env=env, check=True, capture_output=True,
                   timeout=120)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--workers", "2"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/health", timeout=2)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.3)
        for _ in range(40):
            urllib.request.urlopen(f"{base}/health/ready", timeout=10)
        texts = [urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
                 for _ in range(4)]
        for text in texts:  # whichever worker answers, it reports every worker's requests
            assert _sample(text, "rasterisation_http_requests_total",
                           endpoint="/health/ready", status="200") == 40
        assert (tmp_path / "var" / "prometheus").is_dir()
    finally:
        stop_server(server)
