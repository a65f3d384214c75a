"""Configuration from ``RASTERISATION_*`` environment variables, with embedded defaults.

A fresh clone runs with no variable set: SQLite and local file storage under
``RASTERISATION_DATA_DIR`` (default ``./var``), plus a secret key generated once into that
directory, so two data dirs are two independent services.

Example
-------
>>> settings = load_settings({"RASTERISATION_DATA_DIR": "/tmp/rst-doc"})
>>> settings.storage, settings.database_url.startswith("sqlite:///")
('local', True)
"""
from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

__all__ = [
    "Settings", "ConfigError", "STORAGE_BACKENDS", "ENV_VARS", "load_settings",
    "flask_config", "normalise_database_url",
]

PREFIX = "RASTERISATION_"
STORAGE_BACKENDS = ("local", "minio")
MiB = 1024 * 1024


class ConfigError(ValueError):
    """A configuration variable has a value the service cannot use."""


@dataclass(frozen=True)
class Settings:
    """Every setting of the service, already parsed and validated."""

    data_dir: Path
    database_url: str
    secret_key: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    storage: str = "local"
    s3_endpoint: str | None = None
    s3_access_key: str | None = None
    s3_secret_key: str | None = None
    s3_bucket: str = "rasterisation"
    s3_region: str = "us-east-1"
    s3_public_endpoint: str | None = None
    public_url: str | None = None
    cors_origins: tuple[str, ...] = ()
    max_upload_bytes: int = 30 * MiB
    max_image_pixels: int = 50_000_000
    signed_url_ttl: int = 3600
    jpeg_quality: int = 95
    analysis_threads: int = 2
    log_format: str = "json"
    fetch_urls: bool = False
    fetch_allow_networks: tuple[str, ...] = ()
    fetch_timeout: float = 10.0
    max_requests: int = 1000
    max_requests_jitter: int = 100
    max_json_bytes: int = MiB
    max_masks_per_request: int = 32
    sweep_interval: int = 3600
    redis_url: str | None = None
    rate_limit: str | None = "120/minute"
    token_rate_limit: str | None = "30/hour"
    threads: int = 4
    access_token_ttl: int = 900
    refresh_token_ttl: int = 30 * 24 * 3600
    job_ttl: int = 7 * 24 * 3600
    result_ttl: int = 7 * 24 * 3600
    job_attempts: int = 3
    job_lease: int = 60
    job_threads: int = 1
    job_queue: str = "rasterisation"
    embedded_worker: bool = True
    webhook_backoff: float = 10.0
    video_max_bytes: int = 500 * MiB
    video_max_seconds: int = 600


# name -> (default shown in the docs, description); the README table is built from this.
ENV_VARS: dict[str, tuple[str, str]] = {
    "DATA_DIR": ("./var", "Directory of the embedded defaults: the SQLite file, the local "
                 "objects and the generated secret key."),
    "DATABASE_URL": ("sqlite:///<DATA_DIR>/rasterisation.sqlite3",
                     "SQLAlchemy URL. `postgresql://...` is read as "
                     "`postgresql+psycopg://...` (psycopg 3)."),
    "SECRET_KEY": ("generated into <DATA_DIR>/secret_key",
                   "Key of the signed file URLs and of the stored webhook secrets' "
                   "encryption (changing it: create new webhook secrets). Set it when "
                   "several machines serve one data set."),
    "HOST": ("127.0.0.1", "Address `rasterisation serve` binds to."),
    "PORT": ("8000", "Port `rasterisation serve` (and `make run`) listens on."),
    "WORKERS": ("2", "gunicorn worker processes of `rasterisation serve`."),
    "THREADS": ("4", "Threads per worker of `rasterisation serve` (gunicorn's gthread "
                "worker): a client sending its request slowly holds one thread, not a worker, "
                "so /health and the others are still answered. 1 = the sync worker."),
    "STORAGE": ("local", "Object storage backend: `local` (files under DATA_DIR/objects, "
                "URLs signed and checked by the app) or `minio` (any S3-protocol server, "
                "presigned URLs)."),
    "S3_ENDPOINT": ("(none)", "S3 endpoint for `minio`, e.g. `http://127.0.0.1:9000`; "
                    "the scheme selects TLS."),
    "S3_ACCESS_KEY": ("(none)", "S3 access key."),
    "S3_SECRET_KEY": ("(none)", "S3 secret key."),
    "S3_BUCKET": ("rasterisation", "Bucket; created when missing."),
    "S3_REGION": ("us-east-1", "Region used to sign (no network round trip to find it)."),
    "S3_PUBLIC_ENDPOINT": ("(S3_ENDPOINT)", "Address clients fetch presigned URLs from, when "
                           "it differs from S3_ENDPOINT (docker, proxies), e.g. "
                           "`https://s3.example.com`."),
    "PUBLIC_URL": ("(the request's host)", "Base URL put in front of local signed file "
                   "URLs, e.g. `https://masks.example.com` behind a proxy."),
    "CORS_ORIGINS": ("(empty: no CORS headers)", "Comma-separated origins allowed to call "
                     "the API from a browser, or `*`."),
    "MAX_UPLOAD_BYTES": (str(30 * MiB), "Largest accepted upload (bytes); larger -> 413."),
    "MAX_IMAGE_PIXELS": ("50000000", "Largest accepted width x height, checked from the "
                         "header before decoding; larger -> 413. Pillow itself refuses "
                         "images over ~179 MP whatever this says."),
    "SIGNED_URL_TTL": ("3600", "Lifetime of signed file URLs, in seconds."),
    "JPEG_QUALITY": ("95", "Quality of the re-encoded JPEG originals (1-95)."),
    "LOG_FORMAT": ("json", "`json` (one object a line, with `request_id`, also for the "
                   "access log) or `text`, for `rasterisation serve`."),
    "ANALYSIS_THREADS": ("2", "Threads one masks request uses to run its algorithms and "
                         "draw its pictures concurrently (1 = one after the other)."),
    "FETCH_URLS": ("0", "`1`: a masking task's `inputImage` may be an http(s) URL, fetched "
                   "through the SSRF guard (public addresses only, size and time limits). "
                   "`uploadEndpoint` always goes through the guard."),
    "FETCH_ALLOW_NETWORKS": ("(empty)", "Comma-separated networks the SSRF guard allows "
                             "although they are not public, e.g. `127.0.0.1/32` in tests. "
                             "Leave empty in production."),
    "FETCH_TIMEOUT": ("10", "Seconds for one outgoing fetch or upload, redirects included."),
    "MAX_REQUESTS": ("1000", "`rasterisation serve`: a gunicorn worker is replaced after "
                     "this many requests (plus a random jitter), a safety net against "
                     "memory growth; 0 disables it."),
    "MAX_REQUESTS_JITTER": ("100", "Random 0..N added to MAX_REQUESTS per worker, so the "
                            "workers do not all restart at once."),
    "MAX_JSON_BYTES": (str(MiB), "Largest accepted JSON body (bytes), checked before it is "
                       "parsed; larger -> 413. Uploads have their own limit."),
    "MAX_MASKS_PER_REQUEST": ("32", "Longest `masks` list of a v4/v5 masks request, checked "
                              "before its items are validated; longer -> 422."),
    "REDIS_URL": ("(none)", "Redis, e.g. `redis://127.0.0.1:6379/0`. When set, the rate "
                  "limit counters live there, shared by every worker and machine; without it "
                  "each worker process counts alone (N workers allow up to N times a limit)."),
    "RATE_LIMIT": ("120/minute", "Per-token limit on each expensive endpoint: uploads, "
                   "analyses, v4/v5 masks, masking_tasks, anonymise (e.g. `10/second;"
                   "2000/hour`, or `off`); over it -> 429 with Retry-After."),
    "TOKEN_RATE_LIMIT": ("30/hour", "Per-token limit on creating tokens "
                         "(`POST /api/v1/auth/private_tokens/`), or `off`; over it -> 429."),
    "ACCESS_TOKEN_TTL": ("900", "Seconds a user's access token (JWT from "
                         "`POST /api/v1/auth/login` or `/token`) is valid."),
    "REFRESH_TOKEN_TTL": ("2592000", "Seconds a refresh token is valid (each use rotates it "
                          "and starts a new period)."),
    "SWEEP_INTERVAL": ("3600", "`rasterisation serve`: seconds between two runs of the "
                       "storage sweeper (one small process beside the workers; the first "
                       "run 30 s after start); 0 disables it. The sweeper finishes deletes "
                       "that failed half-way and removes objects with no image row, older "
                       "than 10 minutes."),
    "JOB_TTL": ("604800", "Seconds an anonymisation job (row and files) is kept after it "
                "succeeded or failed; the job workers delete expired ones."),
    "RESULT_TTL": ("604800", "Seconds a masking task (its record, which answers a repeated "
                   "taskUUID, and its stored mask) and a synchronous anonymisation's stored "
                   "picture and masks are kept; the storage sweeper (SWEEP_INTERVAL, or "
                   "`rasterisation storage sweep`) deletes them after. Keep it at least "
                   "SIGNED_URL_TTL: the answers' URLs point at these files."),
    "JOB_ATTEMPTS": ("3", "Attempts of an anonymisation job before it fails: a worker that "
                     "crashed or was killed mid-job, or an unexpected error, costs one."),
    "JOB_LEASE": ("60", "Seconds without a heartbeat (sent every LEASE/4 s by the worker "
                  "running a job) after which a `processing` job is taken back and retried "
                  "(or failed after JOB_ATTEMPTS)."),
    "JOB_THREADS": ("1", "Jobs one `rasterisation worker` (or the embedded one) runs at once."),
    "JOB_QUEUE": ("rasterisation", "Name of the job queue. Jobs use huey: a SQLite file "
                  "`<DATA_DIR>/jobs.sqlite3` by default, Redis when `RASTERISATION_REDIS_URL` "
                  "is set (any number of `rasterisation worker` processes, on any machine, "
                  "sharing one queue)."),
    "EMBEDDED_WORKER": ("1", "`rasterisation serve` also starts one job worker process "
                        "(`rasterisation worker`) beside gunicorn; 0: run workers yourself."),
    "WEBHOOK_BACKOFF": ("10", "Seconds before the second webhook attempt; each next wait "
                        "doubles (5 attempts: 10, 20, 40, 80 s). Decimals allowed."),
    "VIDEO_MAX_BYTES": (str(500 * MiB), "Largest video an anonymisation job accepts (bytes). "
                        "`POST .../anonymisation_jobs/` takes request bodies up to this (or "
                        "MAX_UPLOAD_BYTES, if larger) plus 64 KiB; photos keep "
                        "MAX_UPLOAD_BYTES. Larger -> 413 naming `file`."),
    "VIDEO_MAX_SECONDS": ("600", "Longest video an anonymisation job accepts (seconds), read "
                          "from the container header before any frame is decoded; longer -> "
                          "413 naming `file`."),
}


def _log_format(env: Mapping[str, str]) -> str:
    from rasterisation.logs import LOG_FORMATS

    value = env.get(f"{PREFIX}LOG_FORMAT", "json").strip().lower()
    if value not in LOG_FORMATS:
        raise ConfigError(f"{PREFIX}LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}; "
                         f"got {value!r}")
    return value


def _int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(PREFIX + name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}{name} must be an integer, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{PREFIX}{name} must be between {low} and {high}, got {value}")
    return value


def normalise_database_url(url: str) -> str:
    """Make a PostgreSQL URL use psycopg 3, the driver this project installs.

    >>> normalise_database_url("postgres://u@h/db")
    'postgresql+psycopg://u@h/db'
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _secret_key(data_dir: Path) -> str:
    """Read the data dir's key, creating it atomically the first time.

    Several gunicorn workers may start at once: O_EXCL makes exactly one of them write it.
    """
    path = data_dir / "secret_key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if key:
            return key
        raise ConfigError(f"{path} is empty; delete it to generate a new key") from None
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Parse ``RASTERISATION_*`` variables of ``env`` (default ``os.environ``).

    Creates the data directory (and the secret key file in it) when missing.

    Raises
    ------
    ConfigError
        A value is malformed or out of range; the message names the variable.
    """
    env = os.environ if env is None else env
    get = lambda name, default=None: (env.get(PREFIX + name) or default)  # noqa: E731

    data_dir = Path(get("DATA_DIR", "./var")).expanduser().resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{PREFIX}DATA_DIR {data_dir} cannot be created: "
                          f"{exc.strerror or exc}") from None
    database_url = normalise_database_url(
        get("DATABASE_URL", f"sqlite:///{data_dir / 'rasterisation.sqlite3'}"))

    storage = get("STORAGE", "local").strip().lower()
    if storage not in STORAGE_BACKENDS:
        raise ConfigError(f"{PREFIX}STORAGE must be one of {', '.join(STORAGE_BACKENDS)}; "
                          f"got {storage!r}")
    s3_endpoint = get("S3_ENDPOINT")
    if storage == "minio" and not s3_endpoint:
        raise ConfigError(f"{PREFIX}STORAGE=minio needs {PREFIX}S3_ENDPOINT "
                          "(e.g. http://127.0.0.1:9000)")
    for name in ("S3_ENDPOINT", "S3_PUBLIC_ENDPOINT"):
        value = get(name)
        if value and not value.startswith(("http://", "https://")):
            raise ConfigError(f"{PREFIX}{name} must start with http:// or https://, "
                              f"got {value!r}")

    bucket = get("S3_BUCKET", "rasterisation")
    if not re.fullmatch(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", bucket):
        raise ConfigError(f"{PREFIX}S3_BUCKET must be 3-63 lowercase letters, digits, dots "
                          f"or hyphens, got {bucket!r}")

    origins = tuple(o.strip() for o in get("CORS_ORIGINS", "").split(",") if o.strip())
    public_url = get("PUBLIC_URL")
    if public_url and not public_url.startswith(("http://", "https://")):
        raise ConfigError(f"{PREFIX}PUBLIC_URL must start with http:// or https://, "
                          f"got {public_url!r}")

    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        secret_key=get("SECRET_KEY") or _secret_key(data_dir),
        host=get("HOST", "127.0.0.1"),
        port=_int(env, "PORT", 8000, low=1, high=65535),
        workers=_int(env, "WORKERS", 2, low=1, high=64),
        threads=_int(env, "THREADS", 4, low=1, high=256),
        analysis_threads=_int(env, "ANALYSIS_THREADS", 2, low=1, high=64),
        log_format=_log_format(env),
        storage=storage,
        s3_endpoint=s3_endpoint,
        s3_access_key=get("S3_ACCESS_KEY"),
        s3_secret_key=get("S3_SECRET_KEY"),
        s3_bucket=bucket,
        s3_region=get("S3_REGION", "us-east-1"),
        s3_public_endpoint=get("S3_PUBLIC_ENDPOINT"),
        public_url=public_url.rstrip("/") if public_url else None,
        cors_origins=origins,
        max_upload_bytes=_int(env, "MAX_UPLOAD_BYTES", 30 * MiB, low=1, high=2**40),
        max_image_pixels=_int(env, "MAX_IMAGE_PIXELS", 50_000_000, low=1, high=2**34),
        signed_url_ttl=_int(env, "SIGNED_URL_TTL", 3600, low=1, high=7 * 24 * 3600),
        jpeg_quality=_int(env, "JPEG_QUALITY", 95, low=1, high=95),
        **_fetch_settings(env),
        max_requests=_int(env, "MAX_REQUESTS", 1000, low=0, high=10**9),
        max_requests_jitter=_int(env, "MAX_REQUESTS_JITTER", 100, low=0, high=10**9),
        max_json_bytes=_int(env, "MAX_JSON_BYTES", MiB, low=64, high=2**31),
        max_masks_per_request=_int(env, "MAX_MASKS_PER_REQUEST", 32, low=1, high=10_000),
        sweep_interval=_int(env, "SWEEP_INTERVAL", 3600, low=0, high=10**7),
        access_token_ttl=_int(env, "ACCESS_TOKEN_TTL", 900, low=10, high=24 * 3600),
        refresh_token_ttl=_int(env, "REFRESH_TOKEN_TTL", 30 * 24 * 3600, low=60,
                               high=365 * 24 * 3600),
        **_rate_limit_settings(env),
        **_job_settings(env),
        video_max_bytes=_int(env, "VIDEO_MAX_BYTES", 500 * MiB, low=1, high=2**40),
        video_max_seconds=_int(env, "VIDEO_MAX_SECONDS", 600, low=1, high=24 * 3600),
    )


def _job_settings(env: Mapping[str, str]) -> dict:
    """JOB_TTL, RESULT_TTL, JOB_ATTEMPTS, JOB_LEASE, JOB_THREADS, JOB_QUEUE,
    EMBEDDED_WORKER, WEBHOOK_BACKOFF."""
    queue = (env.get(PREFIX + "JOB_QUEUE") or "rasterisation").strip()
    if not re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", queue):
        raise ConfigError(f"{PREFIX}JOB_QUEUE must be 1-64 letters, digits, '_', '.' or '-', "
                          f"got {queue!r}")
    embedded = (env.get(PREFIX + "EMBEDDED_WORKER") or "1").strip().lower()
    if embedded not in ("0", "1", "true", "false", "yes", "no"):
        raise ConfigError(f"{PREFIX}EMBEDDED_WORKER must be 0 or 1, got {embedded!r}")
    raw = (env.get(PREFIX + "WEBHOOK_BACKOFF") or "10").strip()
    try:
        backoff = float(raw)
    except ValueError:
        raise ConfigError(f"{PREFIX}WEBHOOK_BACKOFF must be a number of seconds, "
                          f"got {raw!r}") from None
    if not 0.0 <= backoff <= 3600.0:
        raise ConfigError(f"{PREFIX}WEBHOOK_BACKOFF must be between 0 and 3600, got {raw!r}")
    return {
        "job_ttl": _int(env, "JOB_TTL", 7 * 24 * 3600, low=60, high=10**9),
        "result_ttl": _int(env, "RESULT_TTL", 7 * 24 * 3600, low=60, high=10**9),
        "job_attempts": _int(env, "JOB_ATTEMPTS", 3, low=1, high=20),
        "job_lease": _int(env, "JOB_LEASE", 60, low=2, high=24 * 3600),
        "job_threads": _int(env, "JOB_THREADS", 1, low=1, high=64),
        "job_queue": queue,
        "embedded_worker": embedded in ("1", "true", "yes"),
        "webhook_backoff": backoff,
    }


def _rate_limit_settings(env: Mapping[str, str]) -> dict:
    """REDIS_URL, RATE_LIMIT, TOKEN_RATE_LIMIT (limit strings checked now, not per request)."""
    from rasterisation.ratelimit import parse_limit

    redis_url = (env.get(PREFIX + "REDIS_URL") or "").strip() or None
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{PREFIX}REDIS_URL must start with redis://, rediss:// or unix://, "
                          f"got {redis_url!r}")
    out = {"redis_url": redis_url}
    for name, field, default in (("RATE_LIMIT", "rate_limit", "120/minute"),
                                 ("TOKEN_RATE_LIMIT", "token_rate_limit", "30/hour")):
        raw = env.get(PREFIX + name)
        try:
            out[field] = parse_limit(raw if raw not in (None, "") else default)
        except ValueError as exc:
            raise ConfigError(f"{PREFIX}{name}: {exc}") from None
    return out


def _fetch_settings(env: Mapping[str, str]) -> dict:
    """FETCH_URLS (0/1), FETCH_ALLOW_NETWORKS (CIDR list), FETCH_TIMEOUT (seconds)."""
    import ipaddress

    raw = (env.get(PREFIX + "FETCH_URLS") or "0").strip().lower()
    if raw not in ("0", "1", "true", "false", "yes", "no"):
        raise ConfigError(f"{PREFIX}FETCH_URLS must be 0 or 1, got {raw!r}")
    networks = []
    for item in (env.get(PREFIX + "FETCH_ALLOW_NETWORKS") or "").split(","):
        if item.strip():
            try:
                networks.append(str(ipaddress.ip_network(item.strip(), strict=False)))
            except ValueError:
                raise ConfigError(f"{PREFIX}FETCH_ALLOW_NETWORKS: {item.strip()!r} is not an "
                                  "IP network (e.g. 127.0.0.1/32)") from None
    return {"fetch_urls": raw in ("1", "true", "yes"),
            "fetch_allow_networks": tuple(networks),
            "fetch_timeout": float(_int(env, "FETCH_TIMEOUT", 10, low=1, high=300))}


def flask_config(settings: Settings) -> dict:
    """The Flask / extension configuration derived from ``settings``."""
    return {
        "SECRET_KEY": settings.secret_key,
        "SQLALCHEMY_DATABASE_URI": settings.database_url,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        # multipart overhead on top of the file itself; the file size is checked exactly later
        "MAX_CONTENT_LENGTH": settings.max_upload_bytes + 64 * 1024,
        "JSON_SORT_KEYS": False,
        "API_TITLE": "rasterisation",
        "API_VERSION": "v1",
        "OPENAPI_VERSION": "3.1.0",
        "OPENAPI_URL_PREFIX": "/",
        "OPENAPI_JSON_PATH": "openapi.json",
        "OPENAPI_SWAGGER_UI_PATH": "docs",
        # relative, so the page also works when the app is mounted under a path prefix
        "OPENAPI_SWAGGER_UI_URL": "docs/assets/",
        "OPENAPI_SWAGGER_UI_CONFIG": {"persistAuthorization": True},
        "RASTERISATION": settings,
    }
