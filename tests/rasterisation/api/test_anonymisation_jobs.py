"""Anonymisation jobs and webhooks through the API, run by an in-process job worker (huey
consumer threads on the app's queue: SQLite by default).

The multi-process cases (several `rasterisation worker` processes on Redis, a worker killed
mid-job) are in tests/rasterisation/test_job_workers.py.
"""
from __future__ import annotations

import io
import json
import re
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image

from tests.conftest import assert_error, encode, get_signed, make_tenant

README = Path(__file__).resolve().parents[3] / "README.md"


def _url(company, job_id=None):
    base = f"/api/v1/companies/{company}/anonymisation_jobs/"
    return base + str(job_id) if job_id else base


def submit(client, company, headers, data: bytes | None = None, **form):
    fields = {k: (json.dumps(v) if isinstance(v, list) else str(v).lower()
                  if isinstance(v, bool) else str(v)) for k, v in form.items()}
    if data is not None:
        fields["file"] = (io.BytesIO(data), "photo.jpg")
    return client.post(_url(company), data=fields, headers=headers,
                       content_type="multipart/form-data")


def wait_status(client, company, headers, job_id, statuses=("succeeded", "failed"),
                timeout=60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get(_url(company, job_id), headers=headers).get_json()
        if body["status"] in statuses or time.monotonic() > deadline:
            return body
        time.sleep(0.05)


def wait_webhook(client, company, headers, job_id, state: str, timeout=20.0) -> dict:
    """The job once it has finished and its webhook reached ``state`` (or the timeout)."""
    wait_status(client, company, headers, job_id)
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(_url(company, job_id), headers=headers).get_json()
        if job["webhook"]["state"] == state or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def stored_keys(app, prefix: str) -> list[str]:
    """Every object under ``prefix`` (local or S3 store)."""
    from rasterisation.storage import get_storage

    with app.app_context():
        storage = get_storage()
        if storage.name == "local":
            root = storage.root / prefix
            return sorted(str(p.relative_to(storage.root)) for p in root.rglob("*")
                          if p.is_file()) if root.exists() else []
        return sorted(o.object_name for o in storage.client.list_objects(
            bucket_name=storage.bucket, prefix=prefix, recursive=True))


@pytest.fixture
def worker(app):
    from rasterisation.queue import JobWorker

    with JobWorker(app, threads=2) as running:
        yield running


@pytest.fixture
def jpeg(astronaut_jpeg):
    return astronaut_jpeg


# ------------------------------------------------------------------ the job's life
def test_job_runs_and_answers_results_then_delete_removes_its_files(
        app, client, company, auth_headers, jpeg, worker):
    response = submit(client, company, auth_headers, jpeg, metadata="order 42",
                      method="pixelate")
    assert response.status_code == 202, response.get_json()
    queued = response.get_json()
    assert queued["status"] == "queued" and queued["job_id"] == queued["id"]
    assert queued["metadata"] == "order 42" and queued["options"]["method"] == "pixelate"

    job = wait_status(client, company, auth_headers, queued["id"])
    assert job["status"] == "succeeded", job
    assert job["progress"] == 1.0 and job["attempts"] == 1 and job["error"] is None
    results = job["results"]
    assert results["width"] == 512 and results["detections_count"] >= 1
    picture = Image.open(io.BytesIO(get_signed(client, results["media_url"])))
    assert picture.size == (512, 512) and picture.format == "JPEG"
    assert not picture.getexif()
    detections = json.loads(get_signed(client, results["detections_url"]))
    assert detections["job_id"] == job["id"]
    assert detections["detections"][0]["label"] == "face"
    mask = Image.open(io.BytesIO(get_signed(client, results["mask_url"])))
    instances = Image.open(io.BytesIO(get_signed(client, results["instance_mask_url"])))
    assert mask.size == instances.size == (512, 512)

    prefix = f"companies/{company}/jobs/{job['id']}/"
    keys = stored_keys(app, prefix)
    # the upload is gone once the job ended; one attempt's results remain
    assert keys and all(k.startswith(prefix + "a1/") for k in keys), keys

    assert client.delete(_url(company, job["id"]), headers=auth_headers).status_code == 204
    assert stored_keys(app, prefix) == []
    assert_error(client.get(_url(company, job["id"]), headers=auth_headers), 404)
    assert_error(client.delete(_url(company, job["id"]), headers=auth_headers), 404)


def test_image_id_input_list_pagination_and_status_filter(
        client, company, auth_headers, jpeg, upload, worker):
    image_id = upload(company, auth_headers, jpeg).get_json()["id"]
    ids = [submit(client, company, auth_headers, image_id=image_id).get_json()["id"]
           for _ in range(3)]
    for job_id in ids:
        assert wait_status(client, company, auth_headers, job_id)["status"] == "succeeded"
    page = client.get(_url(company) + "?page=1&page_size=2", headers=auth_headers).get_json()
    assert page["total"] == 3 and len(page["items"]) == 2 and page["page_size"] == 2
    assert [j["id"] for j in page["items"]] == ids[::-1][:2]  # newest first
    page2 = client.get(_url(company) + "?page=2&page_size=2", headers=auth_headers).get_json()
    assert [j["id"] for j in page2["items"]] == [ids[0]]
    assert client.get(_url(company) + "?status=succeeded",
                      headers=auth_headers).get_json()["total"] == 3
    assert client.get(_url(company) + "?status=failed",
                      headers=auth_headers).get_json()["total"] == 0
    assert_error(client.get(_url(company) + "?status=done", headers=auth_headers), 422)


def test_other_companies_jobs_are_404_and_foreign_company_403(
        client, company, auth_headers, other_company, other_auth_headers, jpeg):
    job_id = submit(client, company, auth_headers, jpeg).get_json()["id"]
    assert_error(client.get(_url(other_company, job_id), headers=other_auth_headers), 404)
    assert_error(client.delete(_url(other_company, job_id), headers=other_auth_headers), 404)
    assert client.get(_url(other_company), headers=other_auth_headers).get_json()["total"] == 0
    assert_error(client.get(_url(company, job_id), headers=other_auth_headers), 403)
    assert_error(client.get(_url(company, uuid.uuid4()), headers=auth_headers), 404)


@pytest.mark.parametrize("form, status, field", [
    ({"method": "smudge"}, 422, "method"),
    ({"confidence": "2"}, 422, "confidence"),
    ({"face_threshold": "1.5"}, 422, "face_threshold"),
    ({"fill_color": "#12"}, 422, "fill_color"),
    ({"excluded_areas": "[[0.5, 0, 0.2, 1]]"}, 422, "excluded_areas"),
    ({"plates": "true"}, 422, "plates"),
    ({"metadata": "x" * 5000}, 422, "metadata"),
    ({"webhook_url": "http://10.0.0.1/hook"}, 422, "webhook_url"),
    ({"webhook_url": "file:///etc/passwd"}, 422, "webhook_url"),
    ({"webhook_url": "https://example.com/hook"}, 422, "webhook_url"),  # no secret yet
])
def test_bad_options_are_refused_naming_the_field(client, company, auth_headers, jpeg, form,
                                                  status, field):
    body = assert_error(submit(client, company, auth_headers, jpeg, **form), status)
    assert field in json.dumps(body), body


def test_bad_photos_are_refused_naming_the_field(client, company, auth_headers, jpeg,
                                                 astronaut):
    assert "file" in assert_error(submit(client, company, auth_headers), 422)["message"]
    assert "file" in assert_error(submit(client, company, auth_headers, b"not a photo"),
                                  415)["message"]
    png = encode(astronaut, "PNG")
    assert "file" in assert_error(submit(client, company, auth_headers, png[: len(png) // 2]),
                                  422)["message"]
    truncated = jpeg[: len(jpeg) // 3]
    assert "file" in assert_error(submit(client, company, auth_headers, truncated),
                                  422)["message"]
    assert_error(submit(client, company, auth_headers, image_id=uuid.uuid4()), 404)
    assert client.get(_url(company), headers=auth_headers).get_json()["total"] == 0


# ------------------------------------------------------------------ never twice, crashes
def test_a_job_is_claimed_once_and_a_lapsed_attempt_cannot_finish(make_app, astronaut_jpeg):
    """Two deliveries of one message: one claim. An attempt whose lease was taken back
    (re-queued by the maintenance loop) can no longer finish: its results are dropped."""
    from rasterisation.extensions import db
    from rasterisation.models import AnonymisationJob, utcnow
    from rasterisation.services import jobs

    app = make_app(RASTERISATION_JOB_LEASE="2")
    company, token = make_tenant(app, "A")
    client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
    job_id = uuid.UUID(submit(client, company, headers, astronaut_jpeg).get_json()["id"])
    with app.app_context():
        token1, attempt = jobs._claim(job_id)
        assert attempt == 1 and jobs._claim(job_id) is None  # the duplicate is dropped
        assert jobs.process_job(job_id) == "skipped"
        # the worker holding it goes silent past the lease
        db.session.execute(sa.update(AnonymisationJob).values(
            heartbeat_at=utcnow() - jobs.timedelta(seconds=10)))
        db.session.commit()
        assert jobs.maintain()["reaped"] == 1
        job = db.session.get(AnonymisationJob, job_id)
        assert job.status == "queued" and "heartbeat" in job.error
        assert not jobs._guarded(job_id, token1, status="succeeded")  # too late
        assert jobs.process_job(job_id) == "succeeded"
        db.session.expire_all()
        job = db.session.get(AnonymisationJob, job_id)
        assert (job.status, job.attempts, job.error) == ("succeeded", 2, None)
        assert jobs.process_job(job_id) == "skipped"


def test_attempts_used_up_fail_the_job_with_the_reason(make_app, astronaut_jpeg):
    from rasterisation.extensions import db
    from rasterisation.models import AnonymisationJob, utcnow
    from rasterisation.services import jobs

    app = make_app(RASTERISATION_JOB_LEASE="2", RASTERISATION_JOB_ATTEMPTS="1")
    company, token = make_tenant(app, "A")
    client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
    job_id = submit(client, company, headers, astronaut_jpeg).get_json()["id"]
    with app.app_context():
        assert jobs._claim(uuid.UUID(job_id))
        db.session.execute(sa.update(AnonymisationJob).values(
            heartbeat_at=utcnow() - jobs.timedelta(seconds=10)))
        db.session.commit()
        assert jobs.maintain()["reaped"] == 1
    job = client.get(_url(company, job_id), headers=headers).get_json()
    assert job["status"] == "failed" and "no attempts left (1 of 1)" in job["error"]
    assert job["results"] is None
    assert stored_keys(app, f"companies/{company}/jobs/{job_id}/") == []  # input removed


def test_a_corrupt_photo_found_by_the_worker_fails_without_retry(make_app, astronaut):
    from rasterisation.queue import JobWorker

    app = make_app()
    company, token = make_tenant(app, "A")
    client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
    data = bytearray(encode(astronaut, "JPEG", quality=90))
    data[len(data) // 2: len(data) // 2 + 4000] = b"\x00" * 4000  # bad scan data, whole size
    response = submit(client, company, headers, bytes(data))
    if response.status_code != 202:  # the submission check found it: also right
        assert "file" in assert_error(response, 422)["message"]
        return
    with JobWorker(app, threads=1):
        job = wait_status(client, company, headers, response.get_json()["id"])
    assert job["status"] in ("succeeded", "failed")
    if job["status"] == "failed":
        assert job["error"].startswith("file:") and job["attempts"] == 1


def test_expired_jobs_are_swept_with_their_files(app, client, company, auth_headers, jpeg,
                                                 worker):
    from rasterisation.extensions import db
    from rasterisation.models import AnonymisationJob, utcnow
    from rasterisation.services import jobs

    job_id = submit(client, company, auth_headers, jpeg).get_json()["id"]
    assert wait_status(client, company, auth_headers, job_id)["status"] == "succeeded"
    prefix = f"companies/{company}/jobs/{job_id}/"
    assert stored_keys(app, prefix)
    with app.app_context():
        db.session.execute(sa.update(AnonymisationJob).values(
            expires_at=utcnow() - jobs.timedelta(seconds=1)))
        db.session.commit()
    assert_error(client.get(_url(company, job_id), headers=auth_headers), 404)
    with app.app_context():
        assert jobs.maintain()["expired"] == 1
        assert db.session.query(AnonymisationJob).count() == 0
    assert stored_keys(app, prefix) == []


def test_fifty_jobs_queued_at_once_on_sqlite_all_finish_once(make_app, astronaut):
    from rasterisation.queue import JobWorker

    app = make_app()
    company, token = make_tenant(app, "A")
    client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
    small = encode(astronaut[::2, ::2], "JPEG", quality=90)
    ids = [submit(client, company, headers, small).get_json()["id"] for _ in range(50)]
    started = time.monotonic()
    with JobWorker(app, threads=2):
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            page = client.get(_url(company) + "?status=succeeded&page_size=100",
                              headers=headers).get_json()
            if page["total"] == 50:
                break
            time.sleep(0.1)
    seconds = time.monotonic() - started
    page = client.get(_url(company) + "?page_size=100", headers=headers).get_json()
    assert sorted(j["id"] for j in page["items"]) == sorted(ids)
    assert {j["status"] for j in page["items"]} == {"succeeded"}, seconds
    assert {j["attempts"] for j in page["items"]} == {1}
    for job_id in ids:  # one attempt's results each
        keys = stored_keys(app, f"companies/{company}/jobs/{job_id}/")
        assert {k.rsplit("/", 2)[1] for k in keys} == {"a1"}


# ------------------------------------------------------------------ webhooks
def test_webhook_secret_is_shown_once_and_rotates(client, company, auth_headers,
                                                  other_company, other_auth_headers):
    url = f"/api/v1/companies/{company}/webhook_secret"
    assert client.get(url, headers=auth_headers).get_json() == {"exists": False,
                                                                 "created_at": None}
    first = client.post(url, headers=auth_headers)
    assert first.status_code == 201
    body = first.get_json()
    assert body["secret"].startswith("whsec_") and body["rotated"] is False
    info = client.get(url, headers=auth_headers).get_json()
    assert info["exists"] is True and info["created_at"] and "secret" not in info
    second = client.post(url, headers=auth_headers).get_json()
    assert second["rotated"] is True and second["secret"] != body["secret"]
    assert_error(client.get(url, headers=other_auth_headers), 403)
    other = f"/api/v1/companies/{other_company}/webhook_secret"
    assert client.get(other, headers=other_auth_headers).get_json()["exists"] is False


def readme_verifier():
    """The README's webhook verification example, executed as written."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    code = next(b for b in blocks if "X-Rasterisation-Signature" in b)
    assert len(code.strip().splitlines()) <= 12, code
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    return namespace["verify_webhook"]


@pytest.fixture
def hook_app(make_app):
    return make_app(RASTERISATION_FETCH_ALLOW_NETWORKS="127.0.0.1/32",
                    RASTERISATION_FETCH_TIMEOUT="2", RASTERISATION_WEBHOOK_BACKOFF="0.1")


def test_webhook_arrives_signed_and_the_readme_verifier_checks_it(hook_app, local_http,
                                                                   astronaut_jpeg):
    from rasterisation.queue import JobWorker

    company, token = make_tenant(hook_app, "A")
    client, headers = hook_app.test_client(), {"Authorization": f"Bearer {token}"}
    secret = client.post(f"/api/v1/companies/{company}/webhook_secret",
                         headers=headers).get_json()["secret"]
    local_http.routes["/hook"] = (200, {}, b"ok")
    job_id = submit(client, company, headers, astronaut_jpeg, metadata='{"order": 7}',
                    webhook_url=local_http.url("/hook")).get_json()["id"]
    with JobWorker(hook_app, threads=1):
        job = wait_status(client, company, headers, job_id)
        deadline = time.monotonic() + 20
        while not local_http.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.2)
    assert job["status"] == "succeeded"
    assert len(local_http.requests) == 1
    method, path, got_headers, body = local_http.requests[0]
    assert (method, path) == ("POST", "/hook")
    assert got_headers["X-Rasterisation-Signature"].startswith("sha256=")
    event = json.loads(body)
    assert event["event"] == "anonymisation_job.succeeded" and event["job_id"] == job_id
    assert event["status"] == "succeeded" and event["metadata"] == '{"order": 7}'
    assert event["results"]["media_url"].startswith("http://localhost/files/")
    assert get_signed(client, event["results"]["media_url"])  # signed, no token needed

    verify_webhook = readme_verifier()
    assert verify_webhook(secret, got_headers, body) is True
    assert verify_webhook(secret, got_headers, body.replace(b"succeeded", b"failed")) is False
    assert verify_webhook("whsec_other", got_headers, body) is False
    stale = dict(got_headers, **{"X-Rasterisation-Timestamp": str(int(time.time()) - 3600)})
    assert verify_webhook(secret, stale, body) is False

    job = client.get(_url(company, job_id), headers=headers).get_json()
    assert job["webhook"]["state"] == "delivered"
    [attempt] = job["webhook"]["attempts"]
    assert attempt["ok"] is True and attempt["status_code"] == 200 and attempt["attempt"] == 1


def test_a_failing_webhook_is_retried_five_times_with_backoff_and_the_job_stands(
        hook_app, local_http, astronaut_jpeg):
    from rasterisation.queue import JobWorker

    company, token = make_tenant(hook_app, "A")
    client, headers = hook_app.test_client(), {"Authorization": f"Bearer {token}"}
    client.post(f"/api/v1/companies/{company}/webhook_secret", headers=headers)
    local_http.routes["/down"] = (500, {}, b"boom")
    job_id = submit(client, company, headers, astronaut_jpeg,
                    webhook_url=local_http.url("/down")).get_json()["id"]
    with JobWorker(hook_app, threads=1):
        job = wait_webhook(client, company, headers, job_id, "failed")
    assert job["status"] == "succeeded" and job["results"]["media_url"]
    attempts = job["webhook"]["attempts"]
    assert job["webhook"]["state"] == "failed"
    assert [a["attempt"] for a in attempts] == [1, 2, 3, 4, 5] and len(local_http.requests) == 5
    assert {a["status_code"] for a in attempts} == {500} and not any(a["ok"] for a in attempts)
    assert all(a["error"] == "HTTP 500" for a in attempts)
    # backoff 0.1 s doubling: gaps of ~0.1, 0.2, 0.4, 0.8 s (start to start, plus the POST)
    from datetime import datetime

    starts = [datetime.fromisoformat(a["started_at"]).timestamp() for a in attempts]
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    for gap, wait in zip(gaps, (0.1, 0.2, 0.4, 0.8)):
        assert wait <= gap < wait + 0.5, gaps
    assert gaps[3] > gaps[0] * 3, gaps


def test_the_webhook_secret_is_stored_encrypted_and_bound_to_its_company(make_app):
    """docs/decisions.md, "Webhook secrets at rest": the database holds AES-GCM ciphertext
    under a key derived from SECRET_KEY, never the secret; it decrypts for its company only."""
    from rasterisation.extensions import db
    from rasterisation.services import webhooks

    app = make_app()
    company, token = make_tenant(app, "A")
    other, _ = make_tenant(app, "B")
    secret = app.test_client().post(f"/api/v1/companies/{company}/webhook_secret",
                                    headers={"Authorization": f"Bearer {token}"}
                                    ).get_json()["secret"]
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT * FROM webhook_secrets")).all()
        assert len(rows) == 1 and not any(secret in str(v) for v in rows[0])
        [sealed] = db.session.execute(sa.text("SELECT secret_encrypted FROM webhook_secrets")
                                      ).scalars().all()
        assert sealed.startswith("v1.")
        key = app.config["RASTERISATION"].secret_key
        assert webhooks.unseal(key, uuid.UUID(str(company)), sealed) == secret
        row = webhooks.secret_info(uuid.UUID(str(company)))
        assert webhooks.signing_secret(row) == secret
        for wrong_key, wrong_company in ((key + "x", company), (key, other)):
            with pytest.raises(webhooks.SecretError, match="SECRET_KEY"):
                webhooks.unseal(wrong_key, uuid.UUID(str(wrong_company)), sealed)
        # a fresh nonce each time: the same secret never seals to the same text
        assert webhooks.seal(key, company, secret) != webhooks.seal(key, company, secret)


def test_a_secret_that_no_longer_decrypts_fails_the_webhook_not_the_job(
        hook_app, local_http, astronaut_jpeg):
    """SECRET_KEY changed since the secret was made: one attempt, recorded with the reason
    and what to do, no retries, the job stands."""
    from rasterisation.extensions import db
    from rasterisation.models import WebhookSecret
    from rasterisation.queue import JobWorker
    from rasterisation.services import webhooks

    company, token = make_tenant(hook_app, "A")
    client, headers = hook_app.test_client(), {"Authorization": f"Bearer {token}"}
    client.post(f"/api/v1/companies/{company}/webhook_secret", headers=headers)
    with hook_app.app_context():
        row = db.session.get(WebhookSecret, uuid.UUID(str(company)))
        row.secret_encrypted = webhooks.seal("an older secret key", company, "whsec_x")
        db.session.commit()
    local_http.routes["/hook"] = (200, {}, b"ok")
    job_id = submit(client, company, headers, astronaut_jpeg,
                    webhook_url=local_http.url("/hook")).get_json()["id"]
    with JobWorker(hook_app, threads=1):
        job = wait_webhook(client, company, headers, job_id, "failed")
    assert job["status"] == "succeeded" and job["webhook"]["state"] == "failed"
    [attempt] = job["webhook"]["attempts"]
    assert "SECRET_KEY" in attempt["error"] and "webhook_secret" in attempt["error"]
    assert local_http.requests == []


def test_webhook_url_in_a_private_network_is_refused(hook_app):
    company, token = make_tenant(hook_app, "A")
    client, headers = hook_app.test_client(), {"Authorization": f"Bearer {token}"}
    client.post(f"/api/v1/companies/{company}/webhook_secret", headers=headers)
    for url in ("http://169.254.169.254/latest", "http://192.168.1.1/", "http://[::1]:8000/",
                "gopher://127.0.0.1/"):
        body = assert_error(submit(client, company, headers, b"x", webhook_url=url), 422)
        assert "webhook_url" in body["message"]


def test_a_job_deleted_while_it_runs_keeps_nothing(make_app, astronaut_jpeg, monkeypatch):
    """DELETE in the middle of an attempt: the attempt's guarded update fails, it removes
    what it stored; no row, no file is left."""
    from rasterisation.services import anonymisation, jobs

    app = make_app()
    company, token = make_tenant(app, "A")
    client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
    job_id = submit(client, company, headers, astronaut_jpeg).get_json()["id"]
    real = anonymisation.detect_and_hide

    def delete_meanwhile(pixels, req):
        out = real(pixels, req)
        assert client.delete(_url(company, job_id), headers=headers).status_code == 204
        return out

    monkeypatch.setattr(anonymisation, "detect_and_hide", delete_meanwhile)
    with app.app_context():
        assert jobs.process_job(uuid.UUID(job_id)) == "lost"
    assert_error(client.get(_url(company, job_id), headers=headers), 404)
    assert stored_keys(app, f"companies/{company}/jobs/{job_id}/") == []
