"""Shared fixtures for the whole suite (one conftest, as the style guide asks).

Sections: photos (real skin to test on), then the Flask app / client / company / token
fixtures of the service.
"""
from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

DATA_DIR = Path(__file__).parent / "data"
PHOTO_DIR = DATA_DIR / "photos"  # Face Research Lab London Set, CC BY 4.0: see its README
PORTRAIT_NAMES = sorted(p.stem for p in PHOTO_DIR.glob("london_*.jpg"))


# ---------------------------------------------------------------- helpers
def encode(array_or_image, fmt, **kw) -> bytes:
    """An array or PIL image encoded with Pillow as ``fmt`` (JPEG, PNG, WEBP, ...)."""
    im = array_or_image if isinstance(array_or_image, Image.Image) \
        else Image.fromarray(array_or_image)
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def assert_error(response, status, *words):
    """The response is the one JSON error shape with ``status``, its message naming ``words``."""
    assert response.status_code == status, response.data[:500]
    body = response.get_json()
    assert body["code"] == status and body["status"] and body["message"], body
    for word in words:
        assert word.lower() in body["message"].lower(), body["message"]
    assert b"Traceback" not in response.data
    return body


def get_signed(client, url) -> bytes:
    """GET a signed URL with no token: through the app (local storage) or S3 (presigned)."""
    parts = urlsplit(url)
    if parts.netloc not in ("localhost", ""):
        import requests

        response = requests.get(url, timeout=10)
        assert response.status_code == 200, response.content[:300]
        return response.content
    response = client.get(f"{parts.path}?{parts.query}")
    assert response.status_code == 200, response.data[:300]
    return response.data


def stop_server(proc: subprocess.Popen, timeout: float = 30) -> None:
    """Stop a served process gracefully (SIGTERM, by PID); kill it if it has not exited in ``timeout`` s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---------------------------------------------------------------- photos
@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's astronaut (public domain), 512x512 RGB uint8, one small face."""
    from skimage import data

    return data.astronaut()


def load_portrait(name: str) -> np.ndarray:
    with Image.open(PHOTO_DIR / f"{name}.jpg") as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="session", params=PORTRAIT_NAMES)
def portrait(request) -> np.ndarray:
    """Each of the six studio portraits in turn (1350x1350 RGB uint8)."""
    return load_portrait(request.param)


@pytest.fixture(scope="session")
def portraits() -> dict[str, np.ndarray]:
    return {name: load_portrait(name) for name in PORTRAIT_NAMES}


# ---------------------------------------------------------------- face layer
@pytest.fixture(scope="session")
def face_models():
    """The model files, fetched once into the cache (a no-op when already there)."""
    from algorithms import model_files

    return model_files.fetch()


def population_photo(name: str) -> np.ndarray:
    """A development portrait (RGB) from ../shared/photos (and london/), or a skip where the
    36-portrait population is not on this machine (it is not committed)."""
    from benchmarks.skin_hair import find_photo

    path = find_photo(name)
    if path is None:
        pytest.skip("../shared/photos/london not here")
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


@pytest.fixture(scope="session")
def face_of(face_models):
    """``face_of(name)``: ``(image, analyse_face(image))`` of "astronaut", a committed portrait
    or a development portrait (skipped where absent), computed once."""
    from algorithms.face import analyse_face

    cache: dict = {}

    def get(name: str):
        if name not in cache:
            if name == "astronaut":
                from skimage import data

                img = data.astronaut()
            elif name in PORTRAIT_NAMES:
                img = load_portrait(name)
            else:
                img = population_photo(name)
            cache[name] = (img, analyse_face(img))
        return cache[name]

    return get


# ---------------------------------------------------------------- service: app, client, companies, tokens
# Backends: SQLite + local storage always; PostgreSQL when RASTERISATION_TEST_POSTGRES_URL is
# set, an S3-protocol server (minio client) when RASTERISATION_TEST_S3_ENDPOINT is set. With
# RASTERISATION_TEST_REQUIRE_BACKENDS=1 (CI) a configured but unreachable backend fails.
TEST_POSTGRES_URL = os.environ.get("RASTERISATION_TEST_POSTGRES_URL")
TEST_S3_ENDPOINT = os.environ.get("RASTERISATION_TEST_S3_ENDPOINT")
REQUIRE_BACKENDS = os.environ.get("RASTERISATION_TEST_REQUIRE_BACKENDS") == "1"

# Unconfigured backends are left out (not skipped), so a plain run stays quiet.
SERVICE_BACKENDS = [pytest.param(("sqlite", "local"), id="sqlite-local")]
if TEST_POSTGRES_URL:
    SERVICE_BACKENDS.append(pytest.param(("postgres", "local"), id="postgres-local",
                                         marks=pytest.mark.postgres))
if TEST_S3_ENDPOINT:
    SERVICE_BACKENDS.append(pytest.param(("sqlite", "minio"), id="sqlite-minio",
                                         marks=pytest.mark.minio))


def backend_unavailable(what: str, exc: Exception):
    message = f"{what} configured but unreachable: {exc}"
    if REQUIRE_BACKENDS:
        pytest.fail(message)
    pytest.skip(message)


@contextlib.contextmanager
def fresh_postgres_schema(prefix: str):
    """A URL into a new schema of the test PostgreSQL database, dropped on exit."""
    if not TEST_POSTGRES_URL:
        pytest.skip("RASTERISATION_TEST_POSTGRES_URL not set")
    import uuid as _uuid

    import sqlalchemy as sa

    from rasterisation.config import normalise_database_url

    base = sa.engine.make_url(normalise_database_url(TEST_POSTGRES_URL))
    schema = f"{prefix}_{_uuid.uuid4().hex[:12]}"
    engine = sa.create_engine(base)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    except sa.exc.OperationalError as exc:
        engine.dispose()
        backend_unavailable("PostgreSQL", exc)
    try:
        url = base.update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_url():
    """A URL into a fresh schema shared by the session's service tests, dropped at the end."""
    with fresh_postgres_schema("rst_test") as url:
        yield url


@pytest.fixture
def empty_postgres_url():
    """A URL into a fresh, empty schema of this test alone (migration tests)."""
    with fresh_postgres_schema("rst_migr") as url:
        yield url


@pytest.fixture(scope="session")
def s3_env():
    """Settings of a fresh bucket on the test S3 server; emptied and removed at the end."""
    if not TEST_S3_ENDPOINT:
        pytest.skip("RASTERISATION_TEST_S3_ENDPOINT not set")
    import uuid as _uuid

    from rasterisation.storage.minio import MinioStorage

    env = {
        "RASTERISATION_STORAGE": "minio",
        "RASTERISATION_S3_ENDPOINT": TEST_S3_ENDPOINT,
        "RASTERISATION_S3_ACCESS_KEY": "testing",
        "RASTERISATION_S3_SECRET_KEY": "testing",
        "RASTERISATION_S3_BUCKET": f"rst-test-{_uuid.uuid4().hex[:12]}",
    }
    store = MinioStorage(endpoint=TEST_S3_ENDPOINT, access_key="testing",
                         secret_key="testing", bucket=env["RASTERISATION_S3_BUCKET"],
                         timeout=3)
    try:
        store.client.list_buckets()
    except Exception as exc:  # noqa: BLE001 - any failure means the server is not usable
        backend_unavailable("S3 server", exc)
    yield env
    try:
        objects = store.client.list_objects(bucket_name=env["RASTERISATION_S3_BUCKET"],
                                            recursive=True)
        for obj in objects:
            store.client.remove_object(bucket_name=env["RASTERISATION_S3_BUCKET"],
                                       object_name=obj.object_name)
        store.client.remove_bucket(bucket_name=env["RASTERISATION_S3_BUCKET"])
    except Exception:  # noqa: BLE001 - best effort: moto keeps nothing across restarts
        pass


def _truncate_all(db):
    import sqlalchemy as sa

    names = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {names} CASCADE"))


@pytest.fixture
def make_app(tmp_path):
    """Factory: ``make_app(backend=("sqlite", "local"), **env)`` -> an app with its tables.

    Each app gets its own data dir; PostgreSQL apps share the session schema and are
    truncated afterwards.
    """
    from rasterisation.app import create_app
    from rasterisation.extensions import db

    made = []

    def factory(backend=("sqlite", "local"), request=None, **env):
        db_kind, storage_kind = backend
        config = {"RASTERISATION_DATA_DIR": str(tmp_path / f"var{len(made)}")}
        if db_kind == "postgres":
            config["RASTERISATION_DATABASE_URL"] = request.getfixturevalue("postgres_url")
        if storage_kind == "minio":
            config.update(request.getfixturevalue("s3_env"))
        config.update(env)
        app = create_app(config, overrides={"TESTING": True})
        with app.app_context():
            db.create_all()
        made.append((app, db_kind))
        return app

    yield factory
    for app, db_kind in made:
        with app.app_context():
            db.session.remove()
            if db_kind == "postgres":
                _truncate_all(db)
            db.engine.dispose()


@pytest.fixture(params=SERVICE_BACKENDS)
def app(request, make_app):
    """The service on each available backend (sqlite-local, postgres-local, sqlite-minio)."""
    return make_app(request.param, request=request)


@pytest.fixture
def client(app):
    return app.test_client()


def make_tenant(app, name: str):
    """Create a company and a token in ``app``: (company_id, token)."""
    from rasterisation.services.companies import create_company
    from rasterisation.services.tokens import issue_token

    with app.app_context():
        company = create_company(name=name)
        _row, token = issue_token(company_id=company.id, name="tests")
        return company.id, token


@pytest.fixture
def tenant_factory():
    """``tenant_factory(app, name)`` -> (company_id, token), for apps made by ``make_app``."""
    return make_tenant


@pytest.fixture
def tenant(app):
    return make_tenant(app, "Company A")


@pytest.fixture
def other_tenant(app):
    return make_tenant(app, "Company B")


@pytest.fixture
def company(tenant):
    """Company A's id (uuid.UUID)."""
    return tenant[0]


@pytest.fixture
def token(tenant):
    """A plaintext token of company A."""
    return tenant[1]


@pytest.fixture
def auth_headers(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def other_company(other_tenant):
    """Company B's id."""
    return other_tenant[0]


@pytest.fixture
def other_token(other_tenant):
    return other_tenant[1]


@pytest.fixture
def other_auth_headers(other_token):
    return {"Authorization": f"Bearer {other_token}"}


@pytest.fixture(scope="session")
def astronaut_jpeg(astronaut) -> bytes:
    import io

    buf = io.BytesIO()
    Image.fromarray(astronaut).save(buf, "JPEG", quality=90)
    return buf.getvalue()


@pytest.fixture
def upload(client):
    """``upload(company_id, headers, data, filename="photo.jpg")`` -> response."""
    import io

    def post(company_id, headers, data: bytes, filename: str = "photo.jpg"):
        return client.post(f"/api/v1/companies/{company_id}/images/",
                           data={"file": (io.BytesIO(data), filename)}, headers=headers,
                           content_type="multipart/form-data")

    return post


# ---------------------------------------------------------------- outgoing HTTP (SSRF guard)
@pytest.fixture
def local_http():
    """A tiny HTTP server on 127.0.0.1 (a thread) for fetch / upload / webhook tests.

    ``server.routes[path] = (status, headers, body)`` answers GETs; a body may be callable
    (called with nothing, e.g. to sleep). Every request is recorded in ``server.requests``
    as ``(method, path, headers, body)``. ``server.url(path)`` is the full URL.
    """
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    routes: dict = {}
    requests: list = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # quiet
            pass

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            requests.append((self.command, self.path, dict(self.headers), body))
            status, headers, payload = routes.get(self.path, (404, {}, b"not found"))
            if callable(payload):
                payload = payload()
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_PUT = do_POST = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.routes, server.requests = routes, requests
    server.url = lambda path="/": f"http://127.0.0.1:{server.server_address[1]}{path}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
