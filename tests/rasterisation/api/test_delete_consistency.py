"""Issue 12 item 3, write paths: a delete marks the row first, so a failure half-way leaves
no zombie; a masks or analyses request whose image is deleted while it runs keeps nothing and
answers 404; the sweeper (``rasterisation storage sweep``) finishes what a crash left."""
from __future__ import annotations

import os
import threading
import time
import uuid
from datetime import timedelta

import pytest
from click.testing import CliRunner

from conftest import SERVICE_BACKENDS, assert_error  # shared helpers (tests/conftest.py)

V4 = "/service/rasterisation/v4/masks/"
V5 = "/service/rasterisation/v5/svg_masks/"


@pytest.fixture(params=[p for p in SERVICE_BACKENDS if p.values[0][1] == "local"])
def app(request, make_app):
    """Local storage (the tests look at the files), on SQLite and, when configured,
    PostgreSQL."""
    return make_app(request.param, request=request)


def images_url(company):
    return f"/api/v1/companies/{company}/images/"


def objects_under(app, company, image_id) -> list:
    root = app.config["RASTERISATION"].data_dir / "objects"
    directory = root / f"companies/{company}/images/{image_id}"
    return sorted(p for p in directory.rglob("*") if p.is_file()) if directory.exists() else []


def rows_of(app, image_id) -> dict:
    image_id = uuid.UUID(str(image_id))
    import sqlalchemy as sa

    from rasterisation.extensions import db
    from rasterisation.models import AnalysisRecord, Image, ImageFace, RenderRecord

    with app.app_context():
        return {model.__tablename__: db.session.scalar(
            sa.select(sa.func.count()).select_from(model).where(
                (model.id if model is Image else model.image_id) == image_id))
            for model in (Image, ImageFace, AnalysisRecord, RenderRecord)}


@pytest.fixture
def image_id(company, auth_headers, upload, astronaut_jpeg):
    r = upload(company, auth_headers, astronaut_jpeg)
    assert r.status_code == 201
    return r.json["id"]


# ------------------------------------------------------------------ delete ordering
def test_a_delete_that_fails_half_way_leaves_no_zombie(app, client, company, auth_headers,
                                                       image_id, monkeypatch):
    from rasterisation.storage import StorageError, get_storage

    with app.app_context():
        store = get_storage()
    real = store.delete_prefix
    monkeypatch.setattr(store, "delete_prefix",
                        lambda prefix: (_ for _ in ()).throw(StorageError("disk gone")))
    r = client.delete(images_url(company) + image_id, headers=auth_headers)
    assert_error(r, 503, "storage")
    assert r.headers["Retry-After"]
    # the image is gone for every request at once, although its objects are still there
    assert objects_under(app, company, image_id)
    assert_error(client.get(images_url(company) + image_id, headers=auth_headers), 404)
    listing = client.get(images_url(company), headers=auth_headers).json
    assert listing["total"] == 0 and listing["items"] == []
    r = client.post(V4, query_string={"company_id": company}, headers=auth_headers,
                    json={"image_id": image_id, "masks": [{"algorithm_tech_name": "quality"}]})
    assert_error(r, 404)
    r = client.get(f"{images_url(company)}{image_id}/analyses/quality", headers=auth_headers)
    assert_error(r, 404)
    # a retried DELETE finishes the job
    monkeypatch.setattr(store, "delete_prefix", real)
    assert client.delete(images_url(company) + image_id, headers=auth_headers).status_code == 204
    assert objects_under(app, company, image_id) == []
    assert rows_of(app, image_id)["images"] == 0
    assert_error(client.delete(images_url(company) + image_id, headers=auth_headers), 404)


def test_a_row_marked_deleted_is_invisible_everywhere(app, client, company, auth_headers,
                                                      image_id):
    from rasterisation.extensions import db
    from rasterisation.models import Image, utcnow

    with app.app_context():
        db.session.get(Image, uuid.UUID(image_id)).deleted_at = utcnow()
        db.session.commit()
    assert_error(client.get(images_url(company) + image_id, headers=auth_headers), 404)
    assert client.get(images_url(company), headers=auth_headers).json["total"] == 0
    for url in (V4, V5):
        r = client.post(url, query_string={"company_id": company}, headers=auth_headers,
                        json={"image_id": image_id,
                              "masks": [{"algorithm_tech_name": "facial_landmarks"}]})
        assert_error(r, 404)
    assert objects_under(app, company, image_id)  # untouched: only the original is there
    assert [p.name for p in objects_under(app, company, image_id)] == ["original.jpg"]


# ------------------------------------------------------------------ delete during a request
class Gate:
    """Pause one request at a chosen point until the test has deleted its image."""

    def __init__(self):
        self.reached = threading.Event()
        self.release = threading.Event()

    def pause(self):
        if not self.reached.is_set():
            self.reached.set()
            assert self.release.wait(60), "the test never released the request"


def _race(app, client, company, auth_headers, image_id, request_call):
    """Run ``request_call`` in a thread; when it reaches the gate, DELETE the image; let it
    go on; return its response and the DELETE's."""
    gate = app.config["test.gate"]
    answer = {}

    def run():
        try:
            answer["response"] = request_call(app.test_client())
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            answer["error"] = exc
            gate.reached.set()

    worker = threading.Thread(target=run)
    worker.start()
    assert gate.reached.wait(120), "the request never reached the gate"
    assert "error" not in answer, answer.get("error")
    deleted = client.delete(images_url(company) + image_id, headers=auth_headers)
    gate.release.set()
    worker.join(120)
    assert not worker.is_alive()
    if "error" in answer:
        raise answer["error"]
    return answer["response"], deleted


def _pause_after_put(app, monkeypatch, gate, suffix):
    from rasterisation.storage import get_storage

    with app.app_context():
        store = get_storage()
    real_put = store.put

    def put(key, data, content_type):
        real_put(key, data, content_type)
        if key.endswith(suffix) and threading.current_thread() is not threading.main_thread():
            gate.pause()

    monkeypatch.setattr(store, "put", put)


@pytest.mark.parametrize("endpoint", [V4, V5])
@pytest.mark.parametrize("when", ["before_storing", "after_storing"])
def test_masks_request_racing_a_delete_keeps_nothing(app, client, company, auth_headers,
                                                     image_id, monkeypatch, endpoint, when):
    import rasterisation.services.masks as masks_service

    gate = app.config["test.gate"] = Gate()
    if when == "before_storing":  # the image is gone before the pictures are written
        real_draw = masks_service._draw

        def draw(*args, **kwargs):
            gate.pause()
            return real_draw(*args, **kwargs)

        monkeypatch.setattr(masks_service, "_draw", draw)
    else:  # deleted between the pictures' write and the end of the request
        _pause_after_put(app, monkeypatch, gate, (".jpg", ".svg"))
        monkeypatch.setattr(masks_service, "_draw", masks_service._draw)

    def call(test_client):
        return test_client.post(endpoint, query_string={"company_id": company},
                                headers=auth_headers,
                                json={"image_id": image_id,
                                      "masks": [{"algorithm_tech_name": "facial_landmarks"},
                                                {"algorithm_tech_name": "quality"}]})

    response, deleted = _race(app, client, company, auth_headers, image_id, call)
    assert deleted.status_code == 204
    assert_error(response, 404, "deleted")
    assert objects_under(app, company, image_id) == []
    assert set(rows_of(app, image_id).values()) == {0}


def test_analysis_racing_a_delete_keeps_nothing(app, client, company, auth_headers, image_id,
                                                monkeypatch):
    gate = app.config["test.gate"] = Gate()
    _pause_after_put(app, monkeypatch, gate, "restored.png")  # the face's stored crop

    def call(test_client):
        return test_client.get(f"{images_url(company)}{image_id}/analyses/facial_landmarks",
                               headers=auth_headers)

    response, deleted = _race(app, client, company, auth_headers, image_id, call)
    assert deleted.status_code == 204
    assert_error(response, 404, "deleted")
    assert objects_under(app, company, image_id) == []
    assert set(rows_of(app, image_id).values()) == {0}


# ------------------------------------------------------------------ the sweeper
def _age(path, seconds):
    past = time.time() - seconds
    for p in [path, *path.rglob("*")]:
        os.utime(p, (past, past))


def test_sweep_finishes_marked_deletes_and_removes_orphans(app, client, company,
                                                           auth_headers, image_id):
    from rasterisation.extensions import db
    from rasterisation.models import Image, utcnow
    from rasterisation.services.sweep import sweep
    from rasterisation.storage import get_storage

    root = app.config["RASTERISATION"].data_dir / "objects"
    # a computed result and a render, so derived rows and objects exist
    r = client.post(V4, query_string={"company_id": company}, headers=auth_headers,
                    json={"image_id": image_id,
                          "masks": [{"algorithm_tech_name": "facial_landmarks"}]})
    assert r.status_code == 200
    assert len(objects_under(app, company, image_id)) >= 2
    # a second image, left marked deleted by a crash 20 minutes ago
    with app.app_context():
        db.session.get(Image, uuid.UUID(image_id)).deleted_at = utcnow() - timedelta(minutes=20)
        db.session.commit()
    # objects of an upload whose row never came (old) and of one in flight (new)
    old_orphan = root / f"companies/{company}/images/{uuid.uuid4()}"
    new_orphan = root / f"companies/{company}/images/{uuid.uuid4()}"
    for directory in (old_orphan, new_orphan):
        (directory / "renders").mkdir(parents=True)
        (directory / "original.jpg").write_bytes(b"x")
        (directory / "renders" / "a.png").write_bytes(b"y")
    _age(old_orphan, 3600)
    # what is not an image prefix is never touched
    task = root / f"companies/{company}/masking_tasks/{uuid.uuid4()}.json"
    task.parent.mkdir(parents=True)
    task.write_text("{}")
    _age(task.parent, 3600)
    with app.app_context():
        report = sweep(db.session, get_storage(), grace=timedelta(minutes=10))
    assert (report.deleted_rows, report.orphan_prefixes, report.errors) == (1, 1, [])
    assert report.objects_removed >= 4
    assert objects_under(app, company, image_id) == []
    assert set(rows_of(app, image_id).values()) == {0}  # derived rows cascaded
    assert not old_orphan.exists() and new_orphan.exists() and task.exists()

    with app.app_context():  # nothing left: a second pass does nothing
        again = sweep(db.session, get_storage(), grace=timedelta(minutes=10))
    assert (again.deleted_rows, again.orphan_prefixes, again.objects_removed) == (0, 0, 0)


def test_sweep_keeps_live_images(app, client, company, auth_headers, image_id):
    from rasterisation.extensions import db
    from rasterisation.services.sweep import sweep
    from rasterisation.storage import get_storage

    root = app.config["RASTERISATION"].data_dir / "objects"
    _age(root / f"companies/{company}/images/{image_id}", 7200)
    with app.app_context():
        report = sweep(db.session, get_storage(), grace=timedelta(0))
    assert (report.deleted_rows, report.orphan_prefixes) == (0, 0)
    assert client.get(images_url(company) + image_id, headers=auth_headers).status_code == 200
    assert objects_under(app, company, image_id)


def test_storage_sweep_command(app, company, image_id, monkeypatch):
    from rasterisation.cli import main

    root = app.config["RASTERISATION"].data_dir / "objects"
    orphan = root / f"companies/{company}/images/{uuid.uuid4()}"
    orphan.mkdir(parents=True)
    (orphan / "original.jpg").write_bytes(b"x")
    monkeypatch.setenv("RASTERISATION_DATA_DIR", str(app.config["RASTERISATION"].data_dir))
    monkeypatch.setenv("RASTERISATION_DATABASE_URL", app.config["RASTERISATION"].database_url)
    result = CliRunner().invoke(main, ["storage", "sweep"])
    assert result.exit_code == 0, result.output
    assert "0 orphan prefixes removed" in result.output and orphan.exists()  # too young
    result = CliRunner().invoke(main, ["storage", "sweep", "--grace", "0"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == ("0 deleted images finished, 1 orphan prefixes removed, "
                                     "1 objects removed")
    assert not orphan.exists() and objects_under(app, company, image_id)


def test_serve_schedules_the_sweeper():
    from rasterisation.server import gunicorn_options

    assert "when_ready" not in gunicorn_options(host="127.0.0.1", port=1, workers=1)
    options = gunicorn_options(host="127.0.0.1", port=1, workers=1, sweep_interval=60)
    assert callable(options["when_ready"]) and callable(options["on_exit"])


def test_scheduled_sweep_loop(tmp_path):
    """`storage sweep --every N` (what serve starts) sweeps on schedule, and ends by itself
    once it is no longer the child of the process that started it."""
    import subprocess
    import sys

    data_dir = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RASTERISATION_")}
    env["RASTERISATION_DATA_DIR"] = str(data_dir)
    exe = [sys.executable, "-m", "rasterisation.cli"]
    subprocess.run(exe + ["db", "upgrade"], env=env, check=True, capture_output=True,
                   timeout=120)
    orphan = data_dir / "objects" / f"companies/{uuid.uuid4()}/images/{uuid.uuid4()}"
    orphan.mkdir(parents=True)
    (orphan / "original.jpg").write_bytes(b"x")
    _age(orphan, 3600)
    loop = subprocess.Popen(exe + ["storage", "sweep", "--every", "1", "--parent",
                                   str(os.getpid())], env=env, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 30
        while orphan.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not orphan.exists()
        assert loop.poll() is None  # still scheduled
        time.sleep(2)  # the pass that removed it prints its line when it ends (loaded CI)
    finally:
        loop.terminate()
        loop.wait(10)
    assert "1 orphan prefixes removed" in loop.stderr.read()
    # an orphaned loop (its parent, gunicorn's master, is gone) stops by itself
    stray = subprocess.run(exe + ["storage", "sweep", "--every", "1", "--parent", "1"],
                           env=env, capture_output=True, timeout=30)
    assert stray.returncode == 0
