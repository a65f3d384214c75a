"""Video anonymisation jobs through the API (issue 9 item 1), run by the in-process job worker
on the SQLite queue as tests/rasterisation/api/test_anonymisation_jobs.py does.

The videos are built here from the CC BY portraits of tests/data/photos
(benchmarks/video_scene.py): 320 x 180, 40 frames at 20 fps, a sine-wave audio track. They are
uploaded as ``photo.jpg``: the container is recognised from the bytes, never the name.
"""
from __future__ import annotations

import io
import json

import av
import pytest

from rasterisation.queue import wait_for

from tests.conftest import assert_error, encode, get_signed, make_tenant
from tests.rasterisation.api.test_anonymisation_jobs import (  # noqa: F401 - fixture
    _url, stored_keys, submit, wait_status, worker,
)

FRAMES, FPS = 40, 20


@pytest.fixture(scope="module")
def videos(tmp_path_factory, face_models):
    """{format: bytes} of the test scene."""
    from benchmarks.video_scene import Scene, write_video

    scene = Scene(320, 180, frames=FRAMES, fps=FPS)
    folder = tmp_path_factory.mktemp("videos")
    return {fmt: write_video(folder / f"clip-{fmt}", scene, fmt=fmt).read_bytes()
            for fmt in ("mp4", "mkv")}


def temp_files(app) -> list[str]:
    """What video uploads and video jobs left in <DATA_DIR>/tmp (nothing, ever)."""
    root = app.config["RASTERISATION"].data_dir / "tmp"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) \
        if root.exists() else []


def test_video_job_runs_end_to_end(app, client, company, auth_headers, videos, worker,
                                   tmp_path, monkeypatch):
    from rasterisation.services import jobs

    written = []                          # every progress the worker wrote to the job
    guarded = jobs._guarded

    def spy(job_id, token, **values):
        if "progress" in values:
            detail = (values.get("result") or {}).get("progress")
            written.append((values["progress"], detail and (
                detail["stage"], detail["frames_done"], detail["frames_total"])))
        return guarded(job_id, token, **values)

    monkeypatch.setattr(jobs, "_guarded", spy)
    monkeypatch.setattr(jobs, "_PROGRESS_EVERY", 0.0)
    response = submit(client, company, auth_headers, videos["mp4"], method="pixelate",
                      metadata="clip 7")
    assert response.status_code == 202, response.get_json()
    queued = response.get_json()
    assert queued["status"] == "queued" and queued["progress_detail"] is None

    job = wait_status(client, company, auth_headers, queued["id"], timeout=180)
    assert job["status"] == "succeeded", job
    assert job["progress"] == 1.0 and job["attempts"] == 1 and job["error"] is None
    assert job["progress_detail"] == {"stage": "done", "frames_done": FRAMES,
                                      "frames_total": FRAMES}
    values = [v for v, _ in written]
    assert values == sorted(values) and values[-1] == 1.0, values
    details = [d for _, d in written if d]
    assert ("detect", FRAMES, FRAMES) in details and ("encode", FRAMES, FRAMES) in details
    assert [d for d in details if d[0] == "encode"] == \
        [("encode", i, FRAMES) for i in range(1, FRAMES + 1)]
    results = job["results"]
    assert results["kind"] == "video" and results["format"] == "mp4"
    assert (results["width"], results["height"]) == (320, 180)
    assert results["frames"] == FRAMES and results["fps"] == FPS
    assert results["audio"] == "copy" and results["detections_count"] >= 3
    assert results["mask_url"] is None and results["instance_mask_url"] is None

    out = tmp_path / "out.mp4"
    out.write_bytes(get_signed(client, results["media_url"]))
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
        assert c.streams.video[0].codec_context.pix_fmt == "yuv420p"
        assert c.streams.audio, "no audio stream in the output"
        assert sum(1 for _ in c.decode(video=0)) == FRAMES
    with av.open(io.BytesIO(videos["mp4"])) as c:
        source_audio = [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size]
    with av.open(str(out)) as c:
        assert [bytes(p) for p in c.demux(c.streams.audio[0]) if p.size] == source_audio

    doc = json.loads(get_signed(client, results["detections_url"]))
    assert doc["job_id"] == job["id"] and doc["frames"] == FRAMES
    assert len(doc["per_frame"]) == FRAMES
    boxes = [d for f in doc["per_frame"] for d in f["detections"]]
    assert boxes and all(isinstance(d["track_id"], int) for d in boxes)
    assert len({d["track_id"] for d in boxes}) == results["detections_count"]

    prefix = f"companies/{company}/jobs/{job['id']}/"
    wait_for(lambda: len(stored_keys(app, prefix)) == 2, timeout=10)  # input removed
    keys = stored_keys(app, prefix)
    assert keys == [prefix + "a1/detections.json", prefix + "a1/video.mp4"], keys
    assert temp_files(app) == []
    assert client.delete(_url(company, job["id"]), headers=auth_headers).status_code == 204
    assert stored_keys(app, prefix) == []


def test_truncated_video_fails_the_job_with_the_reason_and_leaves_nothing(
        app, client, company, auth_headers, videos, worker):
    # Matroska's header (duration, tracks) comes first: the cut passes the submission's
    # header check and is found by the worker
    data = videos["mkv"]
    response = submit(client, company, auth_headers, data[:len(data) * 6 // 10])
    assert response.status_code == 202, response.get_json()
    job = wait_status(client, company, auth_headers, response.get_json()["id"], timeout=120)
    assert job["status"] == "failed" and job["attempts"] == 1, job
    assert job["error"].startswith(("file: truncated: ", "file: corrupt: ")), job["error"]
    assert job["results"] is None
    # the input goes right after the failing update (the worker's next step): wait for it
    prefix = f"companies/{company}/jobs/{job['id']}/"
    wait_for(lambda: not stored_keys(app, prefix), timeout=10)
    assert stored_keys(app, prefix) == []
    assert temp_files(app) == []


def test_unreadable_or_oversized_videos_are_refused_at_submission(
        make_app, client, company, auth_headers, videos):
    # an MP4 whose index (moov, written last) is cut off: the header check fails
    mp4 = videos["mp4"]
    body = assert_error(submit(client, company, auth_headers, mp4[:len(mp4) // 2]), 422,
                        "file")
    assert "truncated" in body["message"] or "corrupt" in body["message"]
    body = assert_error(submit(client, company, auth_headers, mp4, output_format="png"), 422,
                        "output_format")

    app = make_app(RASTERISATION_VIDEO_MAX_SECONDS="1")
    tenant, token = make_tenant(app, "A")
    headers = {"Authorization": f"Bearer {token}"}
    short = app.test_client()
    body = assert_error(submit(short, tenant, headers, mp4), 413, "file",
                        "RASTERISATION_VIDEO_MAX_SECONDS", "2.0 s")
    assert body["errors"]["form"]["file"]
    assert short.get(_url(tenant), headers=headers).get_json()["total"] == 0
    assert temp_files(app) == []

    app = make_app(RASTERISATION_VIDEO_MAX_BYTES=str(len(mp4) - 1))
    tenant, token = make_tenant(app, "A")
    headers = {"Authorization": f"Bearer {token}"}
    assert_error(submit(app.test_client(), tenant, headers, mp4), 413, "file",
                 "RASTERISATION_VIDEO_MAX_BYTES")
    assert temp_files(app) == []


def test_the_job_endpoint_takes_bodies_up_to_the_video_limit(make_app, videos, astronaut):
    """Photos keep MAX_UPLOAD_BYTES; videos may be up to VIDEO_MAX_BYTES; a body over both is
    refused by werkzeug before it is parsed, naming both variables."""
    mp4 = videos["mp4"]
    png = encode(astronaut, "PNG")
    video_limit = max(len(mp4), len(png)) + 10
    app = make_app(RASTERISATION_MAX_UPLOAD_BYTES="20000",
                   RASTERISATION_VIDEO_MAX_BYTES=str(video_limit))
    tenant, token = make_tenant(app, "A")
    headers = {"Authorization": f"Bearer {token}"}
    client = app.test_client()
    assert len(png) > 20000 and len(mp4) > 20000
    assert submit(client, tenant, headers, mp4).status_code == 202  # no worker: stays queued
    assert_error(submit(client, tenant, headers, png), 413, "file",
                 "RASTERISATION_MAX_UPLOAD_BYTES")
    assert_error(submit(client, tenant, headers, mp4 + bytes(video_limit)), 413,
                 "RASTERISATION_VIDEO_MAX_BYTES", f"{video_limit} bytes")
    # other endpoints keep the upload limit
    response = client.post(f"/api/v1/companies/{tenant}/anonymise", headers=headers,
                           data={"file": (io.BytesIO(mp4), "clip.mp4")},
                           content_type="multipart/form-data")
    assert_error(response, 413, "RASTERISATION_MAX_UPLOAD_BYTES")


def test_neither_photo_nor_video_is_415(client, company, auth_headers):
    for data in (b"GIF89a" + bytes(100), b"\x1f\x8b\x08\x00" + bytes(100), b"hello"):
        body = assert_error(submit(client, company, auth_headers, data), 415, "file",
                            "video", "JPEG")
        assert body["errors"]["form"]["file"]
    assert client.get(_url(company), headers=auth_headers).get_json()["total"] == 0
