"""Issue 12, memory: gunicorn recycles workers (max_requests + jitter), and every cache of
the service layer is bounded by size."""
from __future__ import annotations

import numpy as np
from click.testing import CliRunner

from rasterisation.config import load_settings


def test_max_requests_defaults_and_env(tmp_path):
    s = load_settings({"RASTERISATION_DATA_DIR": str(tmp_path)})
    assert (s.max_requests, s.max_requests_jitter) == (1000, 100)
    s = load_settings({"RASTERISATION_DATA_DIR": str(tmp_path),
                       "RASTERISATION_MAX_REQUESTS": "50",
                       "RASTERISATION_MAX_REQUESTS_JITTER": "7"})
    assert (s.max_requests, s.max_requests_jitter) == (50, 7)


def test_gunicorn_options_recycle_workers_with_jitter():
    from gunicorn.config import Config

    from rasterisation.server import gunicorn_options

    options = gunicorn_options(host="127.0.0.1", port=1, workers=2, max_requests=300,
                               max_requests_jitter=30)
    cfg = Config()
    for key in ("max_requests", "max_requests_jitter"):
        cfg.set(key, options[key])  # gunicorn accepts them
    assert (cfg.max_requests, cfg.max_requests_jitter) == (300, 30)
    off = gunicorn_options(host="127.0.0.1", port=1, workers=1, max_requests=0)
    assert off["max_requests"] == 0 and off["max_requests_jitter"] == 0


def test_serve_passes_max_requests_from_the_environment(tmp_path, monkeypatch):
    from rasterisation import cli, server

    seen = {}
    monkeypatch.setattr(server, "run_gunicorn", lambda **kw: seen.update(kw))
    result = CliRunner().invoke(cli.main, ["serve"], env={
        "RASTERISATION_DATA_DIR": str(tmp_path), "RASTERISATION_MAX_REQUESTS": "123",
        "RASTERISATION_MAX_REQUESTS_JITTER": "9"})
    assert result.exit_code == 0, result.output
    assert (seen["max_requests"], seen["max_requests_jitter"]) == (123, 9)


def test_render_buffer_pool_is_bounded_by_bytes():
    from algorithms.render.raster import _BufferPool

    pool = _BufferPool(keep=2, max_bytes=1_000_000)
    big = pool.take(1000, 1000)  # 5 MB: more than the pool may keep
    pool.give(big)
    assert pool.free == []
    for _ in range(3):
        pool.give(pool.take(200, 200) if not pool.free else np.zeros((5, 200, 200), np.uint8))
    assert pool.nbytes <= 1_000_000 and len(pool.free) <= 2
    a, b = np.zeros((5, 300, 304), np.uint8), np.zeros((5, 300, 304), np.uint8)
    pool.give(a)
    pool.give(b)  # 2 x 456 kB fits; a third set of that size would not
    pool.give(np.zeros((5, 300, 304), np.uint8))
    assert pool.nbytes <= 1_000_000


def test_thread_pools_are_bounded():
    from algorithms import pipeline

    for threads in (2, 3, 4, 5):
        assert pipeline.thread_map(lambda x: x * 2, [1, 2, 3], threads=threads) == [2, 4, 6]
    assert len(pipeline._POOLS) <= pipeline.MAX_POOLS


def test_workers_trim_the_heap_after_requests_that_grew_it(monkeypatch):
    from rasterisation import server

    assert server.gunicorn_options(host="h", port=1, workers=1)["post_request"] \
        is server._post_request
    trimmer = server._Trimmer(step=100)
    calls = []
    trimmer.trim = lambda pad: calls.append(pad)
    sizes = iter([1000, 1000, 1050, 1200, 1100])
    monkeypatch.setattr(trimmer, "rss", lambda: next(sizes))
    assert trimmer() is True        # 1000 >= 0 + 100: trimmed, baseline 1000
    assert trimmer() is False       # 1050 < 1100
    assert trimmer() is True        # 1200: trimmed again, baseline 1100
    assert calls == [0, 0]
