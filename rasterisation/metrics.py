"""Prometheus metrics (``GET /metrics``, text exposition format, no token).

* ``rasterisation_http_requests_total{method, endpoint, status}``: answers by route template
  (``/api/v1/companies/<uuid:company_id>/images/``, never the concrete path, so the label set
  stays bounded; requests that matched no route are ``endpoint="<unmatched>"``);
* ``rasterisation_http_request_duration_seconds{method, endpoint}``: latency histogram;
* ``rasterisation_worker_rss_bytes``: each worker's resident memory after its last request;
* ``rasterisation_algorithm_duration_seconds{algorithm}``: each algorithm's run on a photo
  (cached results are not runs);
* ``rasterisation_render_duration_seconds{format}``: drawing and encoding one mask picture;
* ``rasterisation_render_cache_total{result}``: masks requests' pictures served from the
  cache (``hit``) or drawn (``miss``); the hit ratio is
  ``sum(rate(...{result="hit"}[5m])) / sum(rate(...[5m]))``.

Under ``rasterisation serve`` the workers are separate processes: the server sets
``PROMETHEUS_MULTIPROC_DIR`` (``<DATA_DIR>/prometheus``, emptied at start) before forking,
every worker writes its samples there, and ``/metrics`` answered by any worker aggregates
all of them (prometheus-client's multiprocess mode). Without it (tests, ``flask run``) the
process's own registry is served.

Example
-------
>>> "rasterisation_http_requests_total" in exposition().decode()
True
"""
from __future__ import annotations

import os
import time

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram,
    generate_latest,
)

__all__ = ["init_metrics", "exposition", "MULTIPROC_ENV", "REQUESTS", "LATENCY", "RSS",
           "ALGORITHM_SECONDS", "RENDER_SECONDS", "RENDER_CACHE", "observe_algorithm"]

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "<unmatched>"

REQUESTS = Counter("rasterisation_http_requests_total", "HTTP answers",
                   ["method", "endpoint", "status"])
LATENCY = Histogram("rasterisation_http_request_duration_seconds", "Time to answer",
                    ["method", "endpoint"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                             30.0, 60.0))
RSS = Gauge("rasterisation_worker_rss_bytes", "Resident memory of the worker process",
            multiprocess_mode="liveall")
ALGORITHM_SECONDS = Histogram("rasterisation_algorithm_duration_seconds",
                              "Time one algorithm took on one photo", ["algorithm"],
                              buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
RENDER_SECONDS = Histogram("rasterisation_render_duration_seconds",
                           "Time to draw and encode one mask picture", ["format"],
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5))
RENDER_CACHE = Counter("rasterisation_render_cache_total",
                       "Mask pictures of masks requests: from the cache or drawn", ["result"])
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _rss() -> int:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return 0


def observe_algorithm(tech_name: str, seconds: float) -> None:
    """``PhotoAnalysis``'s ``on_result`` hook."""
    ALGORITHM_SECONDS.labels(tech_name).observe(seconds)


def exposition() -> bytes:
    """The metrics text: all workers' under multiprocess mode, else this process's."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _start():
    g.metrics_start = time.perf_counter()


def _record(response):
    start = g.pop("metrics_start", None)
    if start is None:
        return response
    rule = request.url_rule
    endpoint = rule.rule if rule is not None else UNMATCHED
    if endpoint == "/metrics":  # scrapes are not traffic
        return response
    LATENCY.labels(request.method, endpoint).observe(time.perf_counter() - start)
    REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
    RSS.set(_rss())
    return response


def _metrics_view():
    return Response(exposition(), content_type=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})


def init_metrics(app: Flask) -> None:
    """Time every request (first hook in, so limits and auth are inside the timing) and
    serve ``GET /metrics`` without a token."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_record)
    _metrics_view.rasterisation_public = True
    app.add_url_rule("/metrics", "metrics", _metrics_view, methods=["GET"])
