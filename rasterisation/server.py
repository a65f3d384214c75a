"""Run the app under gunicorn from Python (``rasterisation serve``), no wsgi path needed.

Each worker builds its own app (no preload): model interpreters and DB pools must not be
shared across forks.
"""
from __future__ import annotations

import os

from gunicorn.app.base import BaseApplication

__all__ = ["run_gunicorn", "gunicorn_options", "write_json_error"]


class _Server(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if key in self.cfg.settings:  # e.g. control_socket exists from gunicorn 25 on
                self.cfg.set(key, value)

    def load(self):
        from rasterisation.app import create_app

        return create_app()


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's error page (bad request line, 414, 431, ...) in the service's one error
    shape ``{code, status, message}``, instead of its HTML page."""
    import json

    from gunicorn import util

    body = json.dumps({"code": status_int, "status": reason,
                       "message": (mesg or reason)[:300]}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin1") + body)


def _json_error_pages() -> None:
    """Errors gunicorn answers itself, before the app sees the request, as JSON too.

    gunicorn's workers call ``gunicorn.util.write_error``; it has no setting for the body,
    so the function is replaced in the worker process (docs/decisions.md)."""
    from gunicorn import util

    util.write_error = write_json_error


def _warm_worker(worker) -> None:
    """gunicorn hook, in each worker after the fork: JSON error pages, the log format, then
    load models and kernels now."""
    _json_error_pages()
    from rasterisation.config import load_settings
    from rasterisation.logs import configure_logging

    configure_logging(load_settings().log_format)
    from rasterisation.warmup import warm_up

    seconds = warm_up()
    worker.log.info("worker %s warmed up in %.1f s", worker.pid, seconds)


class _Trimmer:
    """Give freed heap back to the system after requests that grew the worker.

    A new photo allocates and frees a few hundred MB (decoded pixels, filter maps, coverage
    buffers); glibc keeps freed blocks in its arenas, so RSS ratchets up to the largest
    request's high-water mark per arena and stays there. ``malloc_trim(0)`` returns them.
    It runs only when RSS rose by ``step`` bytes since the last trim, so a cached request
    pays one read of /proc/self/statm (~20 us). No-op off glibc.
    """

    def __init__(self, step: int = 64 * 1024 * 1024):
        import ctypes
        import ctypes.util

        self.step = step
        self.after = 0
        self.trim = None
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            self.trim = libc.malloc_trim
        except (OSError, AttributeError):
            pass
        self.page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def rss(self) -> int:
        try:
            with open("/proc/self/statm") as fh:
                return int(fh.read().split()[1]) * self.page
        except (OSError, ValueError, IndexError):
            return 0

    def __call__(self, *_args) -> bool:
        if self.trim is None:
            return False
        rss = self.rss()
        if rss < self.after + self.step:
            return False
        self.trim(0)
        self.after = self.rss()
        return True


_TRIMMER: _Trimmer | None = None


def _post_request(worker, req, environ, resp) -> None:
    """gunicorn hook, in the worker after each request."""
    global _TRIMMER
    if _TRIMMER is None:
        _TRIMMER = _Trimmer()
    _TRIMMER()


class _Sidecar:
    """One small ``rasterisation <command>`` process beside the gunicorn workers: started by
    the master when it is ready, stopped (SIGTERM, then SIGKILL after ``stop_timeout`` s)
    when the master exits; it also stops by itself when its parent is gone (``--parent``).

    The scheduled storage sweeper (``storage sweep --every N``) is one per service, however
    many workers; it imports no model or torch (it needs only the database and the store).
    The embedded job worker (``worker --threads N``) is a process, not a thread of a
    gunicorn worker: gunicorn recycles and times out its workers, which would cut jobs
    short, and the consumer handles its own signals (SIGTERM lets the running job finish,
    at most 60 s; the lease brings an unfinished job back).
    """

    def __init__(self, command: list[str], description: str, *, stop_timeout: float):
        self.command = command
        self.description = description
        self.stop_timeout = stop_timeout
        self.process = None

    @classmethod
    def sweeper(cls, interval: int) -> "_Sidecar":
        return cls(["storage", "sweep", "--every", str(interval)],
                   f"storage sweeper %s: every {interval} s", stop_timeout=10)

    @classmethod
    def job_worker(cls, threads: int) -> "_Sidecar":
        return cls(["worker", "--threads", str(threads)],
                   f"job worker %s: {threads} thread(s)", stop_timeout=60)

    def when_ready(self, server) -> None:
        import subprocess
        import sys

        self.process = subprocess.Popen(
            [sys.executable, "-m", "rasterisation.cli", *self.command,
             "--parent", str(os.getpid())])
        server.log.info(self.description, self.process.pid)

    def on_exit(self, server) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=self.stop_timeout)
            except Exception:  # noqa: BLE001 - it must not keep the master from exiting
                self.process.kill()


def gunicorn_options(*, host: str, port: int, workers: int, timeout: int = 120,
                     data_dir=None, max_requests: int = 1000,
                     max_requests_jitter: int = 100, sweep_interval: int = 0,
                     threads: int = 4, embedded_worker: bool = False,
                     job_threads: int = 1, log_format: str = "json") -> dict:
    """The gunicorn settings of ``rasterisation serve``.

    ``embedded_worker`` starts one job worker process (``rasterisation worker``) beside the
    gunicorn workers, with ``job_threads`` threads.

    ``threads`` > 1 serves each worker's requests on that many threads (gunicorn's gthread
    worker); 1 is the plain sync worker, which a slow client blocks entirely.
    ``max_requests`` (+ a random 0..``max_requests_jitter``) replaces a worker after that many
    requests: a safety net should anything (a library, a cache) still grow per photo; the
    jitter keeps the workers from restarting together. 0 disables it.
    """
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        # threads: a client that sends its request slowly holds one thread, not a whole
        # worker, so /health and other clients are still answered (issue 12; see
        # docs/decisions.md); gthread also hands idle connections back to its poller
        "worker_class": "gthread" if threads > 1 else "sync",
        "threads": threads,
        "timeout": timeout,
        "graceful_timeout": 30,
        "accesslog": "-",
        "errorlog": "-",
        "proc_name": "rasterisation",
        "post_worker_init": _warm_worker,
        "post_request": _post_request,
        "max_requests": max_requests,
        "max_requests_jitter": max_requests_jitter if max_requests else 0,
    }
    if log_format == "json":
        from rasterisation.logs import ACCESS_LOG_JSON

        options["access_log_format"] = ACCESS_LOG_JSON
    sidecars = []
    if sweep_interval:
        sidecars.append(_Sidecar.sweeper(sweep_interval))
    if embedded_worker:
        sidecars.append(_Sidecar.job_worker(job_threads))
    if sidecars:
        options["when_ready"] = lambda server: [s.when_ready(server) for s in sidecars]
        options["on_exit"] = lambda server: [s.on_exit(server) for s in sidecars]
    if data_dir is not None:
        socket_path = str(data_dir / "gunicorn.ctl")
        if len(socket_path.encode()) < 100:  # AF_UNIX paths are limited to ~107 bytes
            options["control_socket"] = socket_path
        else:
            options["control_socket_disable"] = True
    return options


def _child_exit(server, worker) -> None:
    """gunicorn hook, in the master when a worker exits: drop its live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def prepare_metrics_dir(data_dir) -> str:
    """An empty ``<data_dir>/prometheus`` for the workers' metric files (multiprocess mode);
    set in the environment before any worker is forked."""
    import shutil
    from pathlib import Path

    # not imported from rasterisation.metrics: importing prometheus_client here, before the
    # variable is set, would fix its single-process mode into every forked worker
    directory = Path(data_dir) / "prometheus"
    shutil.rmtree(directory, ignore_errors=True)  # counters of a previous run are stale
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    return str(directory)


def run_gunicorn(**kwargs) -> None:
    """Serve until interrupted (blocks); ``kwargs`` as :func:`gunicorn_options`.

    The gunicorn control socket goes into ``data_dir`` (not ~/.gunicorn), so two services
    with two data dirs do not fight over one socket; so do the workers' metric files.
    """
    options = gunicorn_options(**kwargs)
    if kwargs.get("data_dir") is not None:
        prepare_metrics_dir(kwargs["data_dir"])
        options["child_exit"] = _child_exit
    _Server(options).run()
