"""Run the app under gunicorn from Python (``rasterisation serve``), no wsgi path needed.

Each worker builds its own app (no preload): model interpreters and DB pools must not be
shared across forks.
"""
from __future__ import annotations

from gunicorn.app.base import BaseApplication

__all__ = ["run_gunicorn", "gunicorn_options"]


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


def _warm_worker(worker) -> None:
    """gunicorn hook, in each worker after the fork: load models and kernels now."""
    from rasterisation.warmup import warm_up

    seconds = warm_up()
    worker.log.info("worker %s warmed up in %.1f s", worker.pid, seconds)


def gunicorn_options(*, host: str, port: int, workers: int, timeout: int = 120,
                     data_dir=None, max_requests: int = 1000,
                     max_requests_jitter: int = 100) -> dict:
    """The gunicorn settings of ``rasterisation serve``.

    ``max_requests`` (+ a random 0..``max_requests_jitter``) replaces a worker after that many
    requests: a safety net should anything (a library, a cache) still grow per photo; the
    jitter keeps the workers from restarting together. 0 disables it.
    """
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "timeout": timeout,
        "graceful_timeout": 30,
        "accesslog": "-",
        "errorlog": "-",
        "proc_name": "rasterisation",
        "post_worker_init": _warm_worker,
        "max_requests": max_requests,
        "max_requests_jitter": max_requests_jitter if max_requests else 0,
    }
    if data_dir is not None:
        socket_path = str(data_dir / "gunicorn.ctl")
        if len(socket_path.encode()) < 100:  # AF_UNIX paths are limited to ~107 bytes
            options["control_socket"] = socket_path
        else:
            options["control_socket_disable"] = True
    return options


def run_gunicorn(**kwargs) -> None:
    """Serve until interrupted (blocks); ``kwargs`` as :func:`gunicorn_options`.

    The gunicorn control socket goes into ``data_dir`` (not ~/.gunicorn), so two services
    with two data dirs do not fight over one socket.
    """
    _Server(gunicorn_options(**kwargs)).run()
