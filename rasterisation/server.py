"""Run the app under gunicorn from Python (``rasterisation serve``), no wsgi path needed.

Each worker builds its own app (no preload): model interpreters and DB pools must not be
shared across forks.
"""
from __future__ import annotations

from gunicorn.app.base import BaseApplication

__all__ = ["run_gunicorn"]


class _Server(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from rasterisation.app import create_app

        return create_app()


def run_gunicorn(*, host: str, port: int, workers: int, timeout: int = 120) -> None:
    """Serve until interrupted (blocks)."""
    _Server({
        "bind": f"{host}:{port}",
        "workers": workers,
        "timeout": timeout,
        "graceful_timeout": 30,
        "accesslog": "-",
        "errorlog": "-",
        "proc_name": "rasterisation",
    }).run()
