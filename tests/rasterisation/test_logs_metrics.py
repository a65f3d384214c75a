"""JSON logs with the request id, and the engine's operational metrics (issue 12, item 6)."""
from __future__ import annotations

import io
import json
import logging

import pytest

from rasterisation.logs import ACCESS_LOG_JSON, configure_logging
from rasterisation.server import gunicorn_options


@pytest.fixture
def json_log():
    stream = io.StringIO()
    root = logging.getLogger()
    before = list(root.handlers), root.level
    configure_logging("json", stream=stream)
    yield stream
    root.handlers[:] = before[0]
    root.setLevel(before[1])


def test_log_lines_are_json_with_the_request_id(app, json_log):
    with app.test_request_context("/", headers={"X-Request-ID": "req-123"}):
        app.preprocess_request()
        logging.getLogger("rasterisation.test").warning("stored %d objects", 3)
    line = json.loads(json_log.getvalue().strip().splitlines()[-1])
    assert line["message"] == "stored 3 objects" and line["level"] == "WARNING"
    assert line["request_id"] == "req-123" and line["logger"] == "rasterisation.test"


def test_outside_a_request_the_id_is_a_dash(json_log):
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logging.getLogger("rasterisation.test").exception("failed")
    line = json.loads(json_log.getvalue().strip().splitlines()[-1])
    assert line["request_id"] == "-" and "RuntimeError: boom" in line["exception"]


def test_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="json, text"):
        configure_logging("xml")


def test_serve_writes_a_json_access_log_with_the_request_id():
    opts = gunicorn_options(host="127.0.0.1", port=8000, workers=1)
    assert opts["access_log_format"] == ACCESS_LOG_JSON and "x-request-id" in ACCESS_LOG_JSON
    text = gunicorn_options(host="127.0.0.1", port=8000, workers=1, log_format="text")
    assert "access_log_format" not in text


def test_masks_requests_count_cache_hits_and_time_algorithms_and_renders(
        client, company, auth_headers, upload, astronaut_jpeg):
    from rasterisation.metrics import exposition

    def sample(name, **labels):
        want = ",".join(f'{k}="{v}"' for k, v in labels.items())
        for row in exposition().decode().splitlines():
            if row.startswith(name + "{") and want in row:
                return float(row.rsplit(" ", 1)[1])
        return 0.0

    image_id = upload(company, auth_headers, astronaut_jpeg, "a.jpg").json["id"]
    body = {"image_id": image_id, "image_type": "original",
            "masks": [{"algorithm_tech_name": "redness"}]}
    url = f"/service/rasterisation/v4/masks/?company_id={company}"
    hits0 = sample("rasterisation_render_cache_total", result="hit")
    miss0 = sample("rasterisation_render_cache_total", result="miss")
    runs0 = sample("rasterisation_algorithm_duration_seconds_count", algorithm="redness")
    renders0 = sample("rasterisation_render_duration_seconds_count", format="jpeg")
    assert client.post(url, json=body, headers=auth_headers).status_code == 200
    assert client.post(url, json=body, headers=auth_headers).status_code == 200
    assert sample("rasterisation_render_cache_total", result="miss") == miss0 + 1
    assert sample("rasterisation_render_cache_total", result="hit") == hits0 + 1
    assert sample("rasterisation_algorithm_duration_seconds_count", algorithm="redness") \
        == runs0 + 1
    assert sample("rasterisation_render_duration_seconds_count", format="jpeg") == renders0 + 1
