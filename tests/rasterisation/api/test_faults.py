"""Issue 12, faults: a database that is locked or gone and a store that is down answer 503
with Retry-After (never 500); a stored object that vanished answers 404; errors gunicorn
answers itself (414, 431, bad request line) are JSON in the one error shape."""
from __future__ import annotations

import json
import socket
import sqlite3

import pytest
from sqlalchemy import event

from conftest import assert_error, stop_server  # shared helpers (tests/conftest.py)

TOKENS = "/api/v1/auth/private_tokens/"
V4 = "/service/rasterisation/v4/masks/"


@pytest.fixture
def app(make_app):
    return make_app()


def _short_busy_timeout(app):
    """Wait 50 ms (not 5 s) for a lock in this test; later listeners run last."""
    from rasterisation.extensions import db

    with app.app_context():
        engine = db.engine

        @event.listens_for(engine, "connect")
        def _fast(dbapi_connection, _record):
            dbapi_connection.execute("PRAGMA busy_timeout=50")

        engine.dispose()
        return engine.url.database


def test_locked_database_is_503_with_retry_after(app, client, auth_headers, company, upload,
                                                 astronaut_jpeg):
    path = _short_busy_timeout(app)
    holder = sqlite3.connect(path, timeout=0)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    try:
        r = client.post(TOKENS, json={"name": "x"}, headers=auth_headers)
        body = assert_error(r, 503, "database")
        assert r.headers["Retry-After"] == "2"
        assert "locked" not in body["message"]  # internals stay in the log
        r = upload(company, auth_headers, astronaut_jpeg)
        assert_error(r, 503, "database")
        assert r.headers["Retry-After"]
    finally:
        holder.rollback()
        holder.close()
    # nothing half-done: the upload's object was removed again, and the service recovers
    objects = list((app.config["RASTERISATION"].data_dir / "objects").rglob("*.jpg"))
    assert objects == []
    assert client.post(TOKENS, json={"name": "x"}, headers=auth_headers).status_code == 201


def test_unreachable_database_is_503(tmp_path):
    from rasterisation.app import create_app

    app = create_app({"RASTERISATION_DATA_DIR": str(tmp_path / "var"),
                      "RASTERISATION_DATABASE_URL":
                          f"sqlite:///{tmp_path / 'missing' / 'dir' / 'db.sqlite3'}"},
                     overrides={"TESTING": True})
    token = "rst_" + "a" * 43
    r = app.test_client().get(TOKENS, headers={"Authorization": f"Bearer {token}"})
    assert_error(r, 503, "database")
    assert r.headers["Retry-After"]
    assert app.test_client().get("/health").status_code == 200  # liveness needs no database


def test_storage_down_during_masks_is_503(app, client, company, auth_headers, upload,
                                          astronaut_jpeg, monkeypatch):
    from rasterisation.storage import get_storage
    from rasterisation.storage.base import StorageError

    image_id = upload(company, auth_headers, astronaut_jpeg).json["id"]
    with app.app_context():
        storage = get_storage()

    def down(*_a, **_k):
        raise StorageError("connection refused")

    monkeypatch.setattr(type(storage), "get", down)
    r = client.post(f"{V4}?company_id={company}", headers=auth_headers,
                    json={"image_id": image_id, "masks": [{"algorithm_tech_name": "pores"}]})
    assert_error(r, 503, "storage")
    assert r.headers["Retry-After"] == "5"


def test_vanished_object_is_404_not_500(app, client, company, auth_headers, upload,
                                        astronaut_jpeg):
    image_id = upload(company, auth_headers, astronaut_jpeg).json["id"]
    for path in (app.config["RASTERISATION"].data_dir / "objects").rglob("original.*"):
        path.unlink()
    r = client.post(f"{V4}?company_id={company}", headers=auth_headers,
                    json={"image_id": image_id, "masks": [{"algorithm_tech_name": "pores"}]})
    assert_error(r, 404, "missing")


def test_gunicorn_error_pages_are_json():
    from rasterisation.server import write_json_error

    a, b = socket.socketpair()
    with a, b:
        write_json_error(a, 414, "URI Too Long", "x" * 5000)
        a.shutdown(socket.SHUT_WR)
        raw = b.makefile("rb").read()
    head, body = raw.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 414 URI Too Long")
    assert b"Content-Type: application/json" in head
    doc = json.loads(body)
    assert doc["code"] == 414 and doc["status"] == "URI Too Long" and len(doc["message"]) <= 300
    assert str(len(body)).encode() in head


@pytest.mark.slow
def test_served_414_431_and_404_405_are_json(tmp_path):
    import os
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    exe = Path(sys.executable).with_name("rasterisation")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RASTERISATION_")}
    env["RASTERISATION_DATA_DIR"] = str(tmp_path / "var")
    subprocess.run([str(exe), "db", "upgrade"], env=env, check=True, capture_output=True,
                   timeout=120)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen([str(exe), "serve", "--host", "127.0.0.1", "--port", str(port),
                               "--workers", "1"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)

    def raw(request: bytes) -> tuple[int, dict]:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(request)
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        return int(head.split()[1]), json.loads(body)

    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline
                time.sleep(0.3)
        status, body = raw(b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert status == 414 and body["code"] == 414 and body["message"]
        status, body = raw(b"GET /health HTTP/1.1\r\nHost: x\r\n"
                           + b"".join(b"X-%d: y\r\n" % i for i in range(200)) + b"\r\n")
        assert status == 431 and body["code"] == 431
        status, body = raw(b"BAD\x01 / HTTP/1.1\r\n\r\n")
        assert status == 400 and body["code"] == 400
        status, body = raw(b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert status == 404 and set(body) >= {"code", "status", "message"}
        status, body = raw(b"PUT /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                           b"Content-Length: 0\r\n\r\n")
        assert status == 405 and body["code"] == 405
    finally:
        stop_server(server)
