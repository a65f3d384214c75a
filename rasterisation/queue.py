"""The job queue: huey, on a SQLite file by default, on Redis when ``RASTERISATION_REDIS_URL``
is set.

* **Storage.** ``<DATA_DIR>/jobs.sqlite3`` (huey's ``SqliteHuey``: one machine, any number of
  processes) or Redis (``RedisHuey``: any number of ``rasterisation worker`` processes on any
  number of machines consume one queue). The queue is named ``RASTERISATION_JOB_QUEUE``.
* **Messages carry ids only.** The truth is the job's row (``rasterisation.models
  .AnonymisationJob``): a message is a hint "job X may be runnable"; the worker claims the job
  with a guarded UPDATE and drops a message whose job is not ``queued`` any more. So a
  duplicate message is harmless and a lost one is re-sent by the maintenance loop
  (``rasterisation.services.jobs.maintain``).
* **Crashes.** huey pops a message before running it, so a worker killed mid-job loses the
  message; the job's lease (a heartbeat every ``JOB_LEASE / 4`` s) lapses, and the maintenance
  loop of any worker puts it back in the queue (or fails it after ``JOB_ATTEMPTS``).

Each Flask app has its own huey instance (``get_huey(app)``), whose tasks run inside that
app's context: the worker process builds one app; tests build one per test.

Example
-------
>>> from rasterisation.config import load_settings
>>> type(make_huey(load_settings({"RASTERISATION_DATA_DIR": "/tmp/rst-doc"}))).__name__
'SqliteHuey'
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
import uuid

from huey import RedisHuey, SqliteHuey
from huey.consumer import Consumer

__all__ = ["make_huey", "get_huey", "enqueue_job", "enqueue_webhook", "JobWorker",
           "EXTENSION_KEY"]

log = logging.getLogger(__name__)
EXTENSION_KEY = "rasterisation.huey"
_LOCK = threading.Lock()


def make_huey(settings):
    """A huey instance for ``settings`` (no tasks registered)."""
    if settings.redis_url:
        return RedisHuey(settings.job_queue, url=settings.redis_url, results=False, utc=True)
    return SqliteHuey(settings.job_queue, filename=str(settings.data_dir / "jobs.sqlite3"),
                      results=False, utc=True, timeout=30)


def _register_tasks(huey, app) -> None:
    @huey.task(name="run_job")
    def run_job(job_id: str):
        from rasterisation.services import jobs

        with app.app_context():
            jobs.process_job(uuid.UUID(job_id))

    @huey.task(name="deliver_webhook")
    def deliver_webhook(job_id: str, attempt: int):
        from rasterisation.services import webhooks

        with app.app_context():
            webhooks.deliver(uuid.UUID(job_id), attempt)

    huey.rasterisation_tasks = {"run_job": run_job, "deliver_webhook": deliver_webhook}


def get_huey(app=None):
    """The app's huey instance (created on first use, tasks registered)."""
    if app is None:
        from flask import current_app

        app = current_app._get_current_object()
    huey = app.extensions.get(EXTENSION_KEY)
    if huey is None:
        with _LOCK:
            huey = app.extensions.get(EXTENSION_KEY)
            if huey is None:
                huey = make_huey(app.config["RASTERISATION"])
                _register_tasks(huey, app)
                app.extensions[EXTENSION_KEY] = huey
    return huey


def enqueue_job(job_id, *, delay: float | None = None, app=None) -> None:
    task = get_huey(app).rasterisation_tasks["run_job"]
    if delay:
        task.schedule(args=(str(job_id),), delay=delay)
    else:
        task(str(job_id))


def enqueue_webhook(job_id, attempt: int, *, delay: float | None = None, app=None) -> None:
    task = get_huey(app).rasterisation_tasks["deliver_webhook"]
    if delay:
        task.schedule(args=(str(job_id), attempt), delay=delay)
    else:
        task(str(job_id), attempt)


class _Consumer(Consumer):
    """huey's consumer; signal handlers only when it runs the process (main thread)."""

    handle_signals = True

    def _set_signal_handlers(self):
        if self.handle_signals and threading.current_thread() is threading.main_thread():
            super()._set_signal_handlers()


class JobWorker:
    """A huey consumer (``threads`` worker threads + its scheduler) plus the maintenance loop
    (lapsed leases, lost messages, expired jobs) every ``interval`` seconds.

    ``run()`` blocks and handles signals (``rasterisation worker``: SIGINT / SIGTERM finish
    the running job first; a second signal stops at once); ``start()`` / ``stop()`` run it on
    threads of the current process (tests).
    """

    def __init__(self, app, *, threads: int | None = None, parent_pid: int | None = None):
        self.app = app
        settings = app.config["RASTERISATION"]
        self.threads = threads or settings.job_threads
        self.interval = max(0.5, min(settings.job_lease / 4, 30.0))
        self.parent_pid = parent_pid
        self.huey = get_huey(app)
        self.consumer = _Consumer(self.huey, workers=self.threads, periodic=False,
                                  worker_type="thread", initial_delay=0.05, backoff=1.5,
                                  max_delay=0.5, scheduler_interval=1,
                                  graceful_signal="TERM")
        self._stop = threading.Event()
        self._maintenance = threading.Thread(target=self._maintain_forever,
                                             name="job-maintenance", daemon=True)

    def _maintain_once(self) -> None:
        from rasterisation.services import jobs

        try:
            with self.app.app_context():
                jobs.maintain()
        except Exception:  # noqa: BLE001 - the loop must survive a database hiccup
            log.exception("job maintenance failed; retrying in %.1f s", self.interval)

    def _maintain_forever(self) -> None:
        while not self._stop.wait(self.interval):
            if self.parent_pid is not None and os.getppid() != self.parent_pid:
                log.info("parent %s is gone; stopping", self.parent_pid)
                os.kill(os.getpid(), signal.SIGTERM)
                return
            self._maintain_once()

    def start(self) -> "JobWorker":
        self.consumer.handle_signals = False
        self._maintain_once()
        self.consumer.start()
        self._maintenance.start()
        return self

    def stop(self, *, graceful: bool = True) -> None:
        self._stop.set()
        self.consumer.stop(graceful=graceful)
        self._maintenance.join(timeout=10)

    def run(self) -> None:
        self._maintain_once()
        self._maintenance.start()
        try:
            self.consumer.run()
        finally:
            self._stop.set()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def wait_for(predicate, *, timeout: float, interval: float = 0.05) -> bool:
    """Poll ``predicate`` until true or ``timeout`` seconds passed (helper for tests and
    scripts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
