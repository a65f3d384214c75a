"""Real `rasterisation worker` processes: several on one Redis queue, and one killed (SIGKILL,
by PID) in the middle of a job, whose job is then retried and finished by another.

The workers share the test app's data dir (SQLite database, local objects) and queue name.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REQUIRE_BACKENDS, encode, load_portrait, make_tenant, stop_server
from tests.rasterisation.api.test_anonymisation_jobs import stored_keys, submit

TEST_REDIS_URL = os.environ.get("RASTERISATION_TEST_REDIS_URL")
RASTERISATION = Path(sys.executable).parent / "rasterisation"


class Workers:
    """Start ``rasterisation worker`` processes with the app's settings; stop them by PID."""

    def __init__(self, env: dict, log_dir: Path):
        self.env = {**{k: v for k, v in os.environ.items()
                       if not k.startswith("RASTERISATION_")}, **env}
        self.log_dir = log_dir
        self.procs: list[subprocess.Popen] = []

    def start(self, threads: int = 1) -> subprocess.Popen:
        log = open(self.log_dir / f"worker{len(self.procs)}.log", "wb")
        proc = subprocess.Popen([str(RASTERISATION), "worker", "--threads", str(threads)],
                                env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def stop_all(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)  # immediate stop: the tests are done
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")[-3000:]
                         for p in sorted(self.log_dir.glob("worker*.log")))


@pytest.fixture
def workers(tmp_path):
    made = []

    def factory(app):
        settings = app.config["RASTERISATION"]
        env = {"RASTERISATION_DATA_DIR": str(settings.data_dir),
               "RASTERISATION_DATABASE_URL": settings.database_url,
               "RASTERISATION_SECRET_KEY": settings.secret_key,
               "RASTERISATION_JOB_QUEUE": settings.job_queue,
               "RASTERISATION_JOB_LEASE": str(settings.job_lease),
               "RASTERISATION_SWEEP_INTERVAL": "0"}
        if settings.redis_url:
            env["RASTERISATION_REDIS_URL"] = settings.redis_url
        log_dir = tmp_path / f"logs{len(made)}"
        log_dir.mkdir()
        made.append(Workers(env, log_dir))
        return made[-1]

    yield factory
    for w in made:
        w.stop_all()


def _statuses(app, company):
    from rasterisation.extensions import db
    from rasterisation.models import AnonymisationJob

    with app.app_context():
        rows = db.session.query(AnonymisationJob.id, AnonymisationJob.status,
                                AnonymisationJob.attempts) \
            .filter(AnonymisationJob.company_id == company).all()
        db.session.commit()
        return {str(i): (s, a) for i, s, a in rows}


def _wait(predicate, timeout: float, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


@pytest.fixture
def redis_app(make_app):
    if not TEST_REDIS_URL:
        pytest.skip("RASTERISATION_TEST_REDIS_URL not set")
    import redis

    try:
        redis.Redis.from_url(TEST_REDIS_URL, socket_timeout=2).ping()
    except redis.RedisError as exc:
        if REQUIRE_BACKENDS:
            pytest.fail(f"Redis configured but unreachable: {exc}")
        pytest.skip(f"Redis unreachable: {exc}")
    app = make_app(RASTERISATION_REDIS_URL=TEST_REDIS_URL,
                   RASTERISATION_JOB_QUEUE=f"test-{uuid.uuid4().hex[:12]}")
    yield app
    from rasterisation.queue import get_huey

    get_huey(app).storage.flush_all()


def test_fifty_jobs_on_redis_are_shared_by_two_worker_processes_and_each_runs_once(
        redis_app, workers, astronaut):
    from rasterisation.queue import get_huey

    company, token = make_tenant(redis_app, "A")
    client, headers = redis_app.test_client(), {"Authorization": f"Bearer {token}"}
    assert type(get_huey(redis_app)).__name__ == "RedisHuey"
    small = encode(astronaut[::2, ::2], "JPEG", quality=90)
    ids = [submit(client, company, headers, small).get_json()["id"] for _ in range(50)]
    assert len(set(ids)) == 50

    pool = workers(redis_app)
    pool.start(threads=1)
    pool.start(threads=1)
    done = _wait(lambda: all(s == "succeeded" for s, _ in _statuses(redis_app,
                                                                     company).values()),
                 timeout=90, interval=0.2)
    statuses = _statuses(redis_app, company)
    assert done, (statuses, pool.logs())
    assert sorted(statuses) == sorted(ids)
    assert {a for _, a in statuses.values()} == {1}  # never run twice
    for job_id in ids:
        keys = stored_keys(redis_app, f"companies/{company}/jobs/{job_id}/")
        assert {k.rsplit("/", 2)[1] for k in keys} == {"a1"}
    # both processes took part, and are still up
    per_worker = [p.read_text(errors="replace") for p in sorted(pool.log_dir.glob("*.log"))]
    assert all("Executing" in log for log in per_worker), pool.logs()
    assert all(p.poll() is None for p in pool.procs), pool.logs()


def _big_photo() -> bytes:
    """A ~12 MP photo (a portrait on a 4000 x 3000 canvas): ~1 s of work for a new worker."""
    face = load_portrait(sorted(p.stem for p in (Path(__file__).parents[1] / "data" /
                                                 "photos").glob("london_*.jpg"))[0])
    canvas = np.full((3000, 4000, 3), 128, np.uint8)
    canvas[800:800 + face.shape[0], 1300:1300 + face.shape[1]] = face
    return encode(canvas, "JPEG", quality=85)


def test_a_worker_killed_mid_job_leaves_the_job_retried_and_finished(make_app, workers):
    app = make_app(RASTERISATION_JOB_LEASE="2")
    company, token = make_tenant(app, "A")
    client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
    photo = _big_photo()
    ids = [submit(client, company, headers, photo).get_json()["id"] for _ in range(2)]

    pool = workers(app)
    first = pool.start()
    processing = _wait(lambda: [i for i, (s, _) in _statuses(app, company).items()
                                if s == "processing"], timeout=60, interval=0.01)
    assert processing, pool.logs()
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    killed = processing[0]
    status, attempts = _statuses(app, company)[killed]
    assert (status, attempts) == ("processing", 1), "the job finished before the kill"

    pool.start()
    done = _wait(lambda: all(s == "succeeded" for s, _ in _statuses(app, company).values()),
                 timeout=90, interval=0.1)
    statuses = _statuses(app, company)
    assert done, (statuses, pool.logs())
    assert statuses[killed] == ("succeeded", 2)
    job = client.get(f"/api/v1/companies/{company}/anonymisation_jobs/{killed}",
                     headers=headers).get_json()
    assert job["error"] is None and job["results"]["detections_count"] >= 1
    # only the finishing attempt's results are kept; the upload is gone
    keys = stored_keys(app, f"companies/{company}/jobs/{killed}/")
    assert {k.rsplit("/", 2)[1] for k in keys} == {"a2"}, keys
    assert sorted(statuses) == sorted(ids)


def test_serve_runs_jobs_with_its_embedded_worker_and_stops_it(tmp_path, astronaut):
    """`rasterisation serve` with the defaults (SQLite queue, embedded worker): a job posted
    over HTTP finishes; stopping serve stops its worker process too."""
    import requests

    from tests.rasterisation.test_serve import free_port

    env = {k: v for k, v in os.environ.items() if not k.startswith("RASTERISATION_")}
    env.update(RASTERISATION_DATA_DIR=str(tmp_path / "var"), RASTERISATION_SWEEP_INTERVAL="0",
               RASTERISATION_PORT=str(free_port()))
    run = lambda *args: subprocess.run([str(RASTERISATION), *args], env=env, check=True,  # noqa: E731
                                       capture_output=True, text=True, timeout=120).stdout.strip()
    run("db", "upgrade")
    company = run("companies", "create", "Served")
    token = run("tokens", "create", "--company", company)
    base = f"http://127.0.0.1:{env['RASTERISATION_PORT']}"
    log = open(tmp_path / "serve.log", "wb")
    server = subprocess.Popen([str(RASTERISATION), "serve", "--workers", "1"], env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        assert _wait(lambda: _health(base), timeout=60, interval=0.2), \
            (tmp_path / "serve.log").read_text()[-3000:]
        headers = {"Authorization": f"Bearer {token}"}
        response = requests.post(f"{base}/api/v1/companies/{company}/anonymisation_jobs/",
                                 files={"file": ("a.jpg", encode(astronaut, "JPEG"))},
                                 data={"metadata": "served"}, headers=headers, timeout=30)
        assert response.status_code == 202, response.text
        url = f"{base}/api/v1/companies/{company}/anonymisation_jobs/{response.json()['id']}"
        job = _wait(lambda: (lambda j: j if j["status"] in ("succeeded", "failed") else None)(
            requests.get(url, headers=headers, timeout=10).json()), timeout=90, interval=0.2)
        assert job and job["status"] == "succeeded", (job, (tmp_path / "serve.log")
                                                      .read_text()[-3000:])
        media = requests.get(job["results"]["media_url"], timeout=10)
        assert media.status_code == 200 and media.content[:2] == b"\xff\xd8"
    finally:
        stop_server(server, timeout=90)
    text = (tmp_path / "serve.log").read_text()
    assert server.returncode == 0, text[-3000:]
    worker_pids = [int(line.split("job worker ")[1].split(":")[0])
                   for line in text.splitlines() if "job worker " in line]
    assert worker_pids, text[-3000:]
    for pid in worker_pids:  # gone with serve
        assert _wait(lambda: not _alive(pid), timeout=10), f"worker {pid} outlived serve"


def _health(base) -> bool:
    import requests

    try:
        return requests.get(f"{base}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False
