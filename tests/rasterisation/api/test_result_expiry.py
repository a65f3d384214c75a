"""Masking tasks and synchronous anonymisations expire (RASTERISATION_RESULT_TTL): the storage
sweeper removes their files and rows (rasterisation/services/retention.py), as the job
workers do for anonymisation jobs (JOB_TTL)."""
from __future__ import annotations

import io
import os
import time
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from conftest import SERVICE_BACKENDS  # shared helpers (tests/conftest.py)

TTL = 3600


@pytest.fixture(params=[p for p in SERVICE_BACKENDS if p.values[0][1] == "local"])
def app(request, make_app):
    """Local storage (the tests look at the files), SQLite and, when configured, PostgreSQL;
    a one-hour RESULT_TTL."""
    return make_app(request.param, request=request, RASTERISATION_RESULT_TTL=str(TTL))


@pytest.fixture
def image_id(company, auth_headers, upload, astronaut_jpeg):
    r = upload(company, auth_headers, astronaut_jpeg)
    assert r.status_code == 201
    return r.json["id"]


def _files(app, prefix: str) -> list:
    root = app.config["RASTERISATION"].data_dir / "objects" / prefix
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def _age(path, seconds):
    past = time.time() - seconds
    for p in [path, *path.rglob("*")]:
        os.utime(p, (past, past))


def _task(client, company, headers, image, task_uuid=None, **fields):
    body = {"taskUUID": str(task_uuid or uuid.uuid4()), "inputImage": image, "model": "hand",
            "outputType": "URL", **fields}
    r = client.post(f"/api/v1/companies/{company}/masking_tasks/", json=body, headers=headers)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _anonymise(client, company, headers, jpeg):
    r = client.post(f"/api/v1/companies/{company}/anonymise", headers=headers,
                    data={"file": (io.BytesIO(jpeg), "p.jpg"), "faces": "false",
                          "masks": "true"}, content_type="multipart/form-data")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def _sweep(app, **kw):
    from rasterisation.extensions import db
    from rasterisation.services.sweep import sweep
    from rasterisation.storage import get_storage

    with app.app_context():
        return sweep(db.session, get_storage(), **kw)


def _rows(app, model) -> list:
    from rasterisation.extensions import db

    with app.app_context():
        return db.session.scalars(sa.select(model)).all()


def test_expired_tasks_and_anonymisations_are_swept_rows_and_files(
        app, client, company, auth_headers, image_id, astronaut_jpeg):
    from rasterisation.models import AnonymiseResult, MaskingTaskRecord, utcnow

    task = _task(client, company, auth_headers, image_id)
    anonymised = _anonymise(client, company, auth_headers, astronaut_jpeg)
    [record] = _rows(app, MaskingTaskRecord)
    [result] = _rows(app, AnonymiseResult)
    now = utcnow()
    for row in (record, result):  # kept for RESULT_TTL from now
        assert abs((row.expires_at - now).total_seconds() - TTL) < 120
    mask_dir = f"companies/{company}/images/{image_id}/masks/{task['maskImageUUID']}/"
    result_dir = f"companies/{company}/anonymised/{anonymised['id']}/"
    assert len(_files(app, mask_dir)) == 1
    assert len(_files(app, result_dir)) == 3            # picture, mask, instance mask

    report = _sweep(app)                                 # not expired yet: kept
    assert report.expired_results == 0 and report.errors == []
    assert _files(app, mask_dir) and _files(app, result_dir)

    report = _sweep(app, now=now + timedelta(seconds=TTL + 60))
    assert report.expired_results == 2 and report.errors == []
    assert report.objects_removed == 4
    assert _files(app, mask_dir) == [] and _files(app, result_dir) == []
    assert _rows(app, MaskingTaskRecord) == [] and _rows(app, AnonymiseResult) == []
    # the image itself is not a result: it stays
    assert _files(app, f"companies/{company}/images/{image_id}/")
    assert client.get(f"/api/v1/companies/{company}/images/{image_id}",
                      headers=auth_headers).status_code == 200


def test_a_repeat_after_expiry_runs_the_task_anew(app, client, company, auth_headers,
                                                  image_id):
    from rasterisation.extensions import db
    from rasterisation.models import MaskingTaskRecord, utcnow

    task_uuid = uuid.uuid4()
    first = _task(client, company, auth_headers, image_id, task_uuid)
    again = _task(client, company, auth_headers, image_id, task_uuid)
    assert again["maskImageUUID"] == first["maskImageUUID"]          # the stored answer
    with app.app_context():                   # expired, the sweeper not there yet
        db.session.execute(sa.update(MaskingTaskRecord).values(
            expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    # an idempotency key is only remembered for RESULT_TTL: other fields are not a 409 now
    later = _task(client, company, auth_headers, image_id, task_uuid, maskPadding=3)
    assert later["maskImageUUID"] != first["maskImageUUID"]
    old_dir = f"companies/{company}/images/{image_id}/masks/{first['maskImageUUID']}/"
    assert _files(app, old_dir) == []
    [row] = _rows(app, MaskingTaskRecord)
    assert row.record["maskImageUUID"] == later["maskImageUUID"]


def test_older_versions_row_less_results_go_after_the_ttl(app, company, image_id):
    root = app.config["RASTERISATION"].data_dir / "objects" / f"companies/{company}"
    legacy_tasks = root / "masking_tasks"                # records kept as JSON objects
    legacy_tasks.mkdir(parents=True)
    (legacy_tasks / f"{uuid.uuid4()}.json").write_text("{}")
    old_result = root / "anonymised" / str(uuid.uuid4())
    new_result = root / "anonymised" / str(uuid.uuid4())
    for d in (old_result, new_result):
        d.mkdir(parents=True)
        (d / "image.jpg").write_bytes(b"x")
    _age(legacy_tasks, TTL + 60)
    _age(old_result, TTL + 60)

    report = _sweep(app, result_ttl=timedelta(seconds=TTL))
    assert report.expired_results == 2 and report.errors == []
    assert not legacy_tasks.exists() and not old_result.exists() and new_result.exists()
    # without the TTL (a direct call), row-less prefixes are left alone
    _age(new_result, TTL + 60)
    assert _sweep(app).expired_results == 0 and new_result.exists()


def test_a_legacy_task_record_still_answers_a_repeat(app, client, company, auth_headers,
                                                     image_id):
    """Records written by older versions (JSON objects in storage) answer their repeats
    until the sweeper removes them."""
    import json

    from rasterisation.storage import get_storage

    first = _task(client, company, auth_headers, image_id, outputType="base64Data")
    from rasterisation.extensions import db
    from rasterisation.models import MaskingTaskRecord

    with app.app_context():
        row = db.session.scalars(sa.select(MaskingTaskRecord)).one()
        record = dict(row.record)
        db.session.delete(row)
        db.session.commit()
        get_storage().put(f"companies/{company}/masking_tasks/{first['taskUUID']}.json",
                          json.dumps(record).encode(), "application/json")
    again = _task(client, company, auth_headers, image_id, first["taskUUID"],
                  outputType="base64Data")
    assert again == first


def test_storage_sweep_command_reports_expired_results(app, client, company, auth_headers,
                                                       astronaut_jpeg, monkeypatch):
    from rasterisation.cli import main
    from rasterisation.extensions import db
    from rasterisation.models import AnonymiseResult, utcnow

    anonymised = _anonymise(client, company, auth_headers, astronaut_jpeg)
    with app.app_context():
        db.session.execute(sa.update(AnonymiseResult).values(
            expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    monkeypatch.setenv("RASTERISATION_DATA_DIR", str(app.config["RASTERISATION"].data_dir))
    monkeypatch.setenv("RASTERISATION_DATABASE_URL", app.config["RASTERISATION"].database_url)
    result = CliRunner().invoke(main, ["storage", "sweep"])
    assert result.exit_code == 0, result.output
    assert "1 expired results removed" in result.stdout
    assert _files(app, f"companies/{company}/anonymised/{anonymised['id']}/") == []


def test_result_ttl_is_a_setting(tmp_path):
    from rasterisation.config import ConfigError, load_settings

    env = {"RASTERISATION_DATA_DIR": str(tmp_path)}
    assert load_settings(env).result_ttl == 7 * 24 * 3600
    assert load_settings({**env, "RASTERISATION_RESULT_TTL": "120"}).result_ttl == 120
    with pytest.raises(ConfigError, match="RASTERISATION_RESULT_TTL"):
        load_settings({**env, "RASTERISATION_RESULT_TTL": "10"})
