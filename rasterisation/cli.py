"""The ``rasterisation`` console script.

Commands print their result alone on stdout (ids, tokens) so shells can capture them;
everything else goes to stderr. A new command or group is one decorated function here
(``@main.command()`` / ``@main.group()``) or ``main.add_command(...)`` from another module.

Example
-------
::

    $ COMPANY=$(rasterisation companies create "Acme clinic")
    $ TOKEN=$(rasterisation tokens create --company "$COMPANY" --name dashboard)
"""
from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import click

__all__ = ["main", "openapi_document", "OPENAPI_PATH"]

OPENAPI_PATH = Path(__file__).resolve().parent.parent / "api_spec" / "openapi.json"


def _app():
    from rasterisation.app import create_app
    from rasterisation.config import ConfigError

    try:
        return create_app()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _database_error(exc: Exception) -> click.ClickException:
    return click.ClickException(
        f"database error ({type(exc).__name__}: {str(exc).splitlines()[0]}); "
        "has `rasterisation db upgrade` been run for this RASTERISATION_DATA_DIR / "
        "RASTERISATION_DATABASE_URL?")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """Self-hostable skin-analysis mask service."""


# ------------------------------------------------------------------ companies
@main.group()
def companies():
    """Manage companies (tenants)."""


@companies.command("create")
@click.argument("name")
def companies_create(name: str):
    """Create a company; print its id alone."""
    from sqlalchemy.exc import SQLAlchemyError

    from rasterisation.services.companies import create_company

    app = _app()
    with app.app_context():
        try:
            company = create_company(name=name)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="NAME") from None
        except SQLAlchemyError as exc:
            raise _database_error(exc) from None
        click.echo(str(company.id))


# ------------------------------------------------------------------ tokens
@main.group()
def tokens():
    """Manage API tokens."""


@tokens.command("create")
@click.option("--company", "company_id", required=True, type=click.UUID,
              help="company id (from `companies create`)")
@click.option("--name", default="cli", show_default=True, help="label to recognise it by")
@click.option("--expires-in", "expires_in", type=click.IntRange(1, 3650), default=None,
              help="days until it expires (default: never)")
def tokens_create(company_id: uuid.UUID, name: str, expires_in: int | None):
    """Create a token for a company; print the token alone (it is not shown again)."""
    from sqlalchemy.exc import SQLAlchemyError

    from rasterisation.services.tokens import issue_token

    app = _app()
    with app.app_context():
        try:
            _row, plaintext = issue_token(company_id=company_id, name=name,
                                          expires_in_days=expires_in)
        except LookupError:
            raise click.BadParameter(f"no company {company_id}", param_hint="--company") \
                from None
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        except SQLAlchemyError as exc:
            raise _database_error(exc) from None
        click.echo(plaintext)


@tokens.command("list")
@click.option("--company", "company_id", required=True, type=click.UUID,
              help="company id (from `companies create`)")
@click.option("--json", "as_json", is_flag=True, help="one JSON object per line")
def tokens_list(company_id: uuid.UUID, as_json: bool):
    """List a company's tokens, newest first (never their secrets).

    Columns: id, state, prefix, name, created, expires, last used (tab-separated).
    """
    from sqlalchemy.exc import SQLAlchemyError

    from rasterisation.services.companies import get_company
    from rasterisation.services.tokens import count_tokens, list_tokens

    def iso(value):
        return value.isoformat() if value else "-"

    app = _app()
    with app.app_context():
        try:
            if get_company(company_id) is None:
                raise click.BadParameter(f"no company {company_id}", param_hint="--company")
            total = count_tokens(company_id)
            rows = list_tokens(company_id, page=1, page_size=max(total, 1))
        except SQLAlchemyError as exc:
            raise _database_error(exc) from None
        for row in rows:
            fields = {"id": str(row.id), "state": row.state(), "prefix": row.prefix,
                      "name": row.name, "created_at": iso(row.created_at),
                      "expires_at": iso(row.expires_at), "last_used_at": iso(row.last_used_at)}
            click.echo(json.dumps(fields) if as_json else "\t".join(fields.values()))


@tokens.command("revoke")
@click.argument("token_id", type=click.UUID)
@click.option("--company", "company_id", type=click.UUID, default=None,
              help="only if the token belongs to this company")
def tokens_revoke(token_id: uuid.UUID, company_id: uuid.UUID | None):
    """Revoke a token by its id (from `tokens list`); idempotent. It stops working at once."""
    from sqlalchemy.exc import SQLAlchemyError

    from rasterisation.extensions import db as database
    from rasterisation.models import ApiToken
    from rasterisation.services.tokens import revoke_token

    app = _app()
    with app.app_context():
        try:
            row = database.session.get(ApiToken, token_id)
            if row is None or (company_id is not None and row.company_id != company_id):
                raise click.BadParameter(f"no token {token_id}"
                                         + (f" in company {company_id}" if company_id else ""),
                                         param_hint="TOKEN_ID")
            row = revoke_token(company_id=row.company_id, token_id=token_id)
        except SQLAlchemyError as exc:
            raise _database_error(exc) from None
        click.echo(f"revoked {token_id} at {row.revoked_at.isoformat()}", err=True)


# ------------------------------------------------------------------ storage
@main.group()
def storage():
    """Object storage maintenance."""


@storage.command("sweep")
@click.option("--grace", default=600, show_default=True, type=click.IntRange(0, 10**7),
              help="seconds: leave younger leftovers alone (work in flight)")
@click.option("--every", "every", default=None, type=click.IntRange(1, 10**7),
              help="sweep every N seconds until stopped (the serve scheduler uses this)")
@click.option("--parent", "parent_pid", default=None, type=int, hidden=True,
              help="with --every: stop when this process is no longer the parent")
def storage_sweep(grace: int, every: int | None, parent_pid: int | None):
    """Remove objects with no image row, finish images marked deleted, and remove masking
    tasks and anonymisations older than RASTERISATION_RESULT_TTL.

    Prints one summary line; exits 1 when some leftovers could not be removed.
    """
    from datetime import timedelta

    from sqlalchemy.exc import SQLAlchemyError

    from rasterisation.config import ConfigError, load_settings
    from rasterisation.services.sweep import run_sweep, sweep_forever

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    if every is not None:
        sweep_forever(settings, interval=every, grace=timedelta(seconds=grace),
                      parent_pid=parent_pid,
                      echo=lambda line: click.echo(f"rasterisation {line}", err=True))
        return
    from rasterisation.storage import StorageError

    try:
        report = run_sweep(settings, grace=timedelta(seconds=grace))
    except SQLAlchemyError as exc:
        raise _database_error(exc) from None
    except StorageError as exc:
        raise click.ClickException(f"object storage unavailable: {exc}") from None
    click.echo(report.as_text())
    for error in report.errors:
        click.echo(error, err=True)
    if report.errors:
        sys.exit(1)


# ------------------------------------------------------------------ models
@main.group()
def models():
    """Face model files."""


@models.command("fetch")
def models_fetch():
    """Fetch and verify the model files (idempotent)."""
    from algorithms import model_files as model_store  # the face layer owns the artefacts

    try:
        paths = model_store.fetch()
    except model_store.FetchError as exc:
        raise click.ClickException(str(exc)) from None
    folder = paths[0].parent if paths else "the model cache"
    click.echo(f"{len(paths)} model files present and verified in {folder}", err=True)
    # CenterFace's int8 file is derived from the verified original (a few seconds, once per
    # machine): built here so that no anonymise request pays for it.
    from algorithms.detect import centerface

    centerface.load()
    click.echo(f"CenterFace {centerface.PRECISION} model ready in {folder}", err=True)


# ------------------------------------------------------------------ db
@main.group()
def db():
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str):
    """Apply the migrations to the configured database."""
    import flask_migrate

    app = _app()
    with app.app_context():
        flask_migrate.upgrade(revision=revision)
    click.echo(f"database at {revision}", err=True)


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str):
    """Revert the migrations down to REVISION (`base` removes every table)."""
    import flask_migrate

    app = _app()
    with app.app_context():
        flask_migrate.downgrade(revision=revision)


# ------------------------------------------------------------------ serve
@main.command()
@click.option("--host", default=None, help="default RASTERISATION_HOST or 127.0.0.1")
@click.option("--port", default=None, type=click.IntRange(1, 65535),
              help="default RASTERISATION_PORT or 8000")
@click.option("--workers", default=None, type=click.IntRange(1, 64),
              help="default RASTERISATION_WORKERS or 2")
@click.option("--threads", default=None, type=click.IntRange(1, 256),
              help="threads per worker; default RASTERISATION_THREADS or 4 (1: sync worker)")
@click.option("--timeout", default=120, show_default=True, type=click.IntRange(1, 3600),
              help="seconds before a silent worker is restarted")
def serve(host: str | None, port: int | None, workers: int | None, threads: int | None,
          timeout: int):
    """Serve the API with gunicorn."""
    from rasterisation.config import ConfigError, load_settings
    from rasterisation.server import run_gunicorn

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    run_gunicorn(host=host or settings.host, port=port or settings.port,
                 workers=workers or settings.workers, timeout=timeout,
                 data_dir=settings.data_dir, max_requests=settings.max_requests,
                 max_requests_jitter=settings.max_requests_jitter,
                 sweep_interval=settings.sweep_interval,
                 threads=threads or settings.threads,
                 embedded_worker=settings.embedded_worker, job_threads=settings.job_threads,
                 log_format=settings.log_format)


# ------------------------------------------------------------------ worker
@main.command()
@click.option("--threads", default=None, type=click.IntRange(1, 64),
              help="jobs run at once; default RASTERISATION_JOB_THREADS or 1")
@click.option("--parent", "parent_pid", default=None, type=int, hidden=True,
              help="stop when this process is no longer the parent (serve uses this)")
def worker(threads: int | None, parent_pid: int | None):
    """Run anonymisation jobs until stopped (SIGTERM / Ctrl-C: the running job finishes).

    The queue is a SQLite file in RASTERISATION_DATA_DIR, or Redis when
    RASTERISATION_REDIS_URL is set (any number of workers, on any machine).
    """
    import logging
    import os

    from rasterisation.queue import JobWorker

    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s [worker %(process)d] %(levelname)s %(name)s: "
                               "%(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    app = _app()
    settings = app.config["RASTERISATION"]
    job_worker = JobWorker(app, threads=threads, parent_pid=parent_pid)
    where = settings.redis_url or str(settings.data_dir / "jobs.sqlite3")
    click.echo(f"rasterisation worker {os.getpid()}: queue {settings.job_queue!r} on "
               f"{where.split('@')[-1]}, {job_worker.threads} thread(s)", err=True)
    job_worker.run()


# ------------------------------------------------------------------ analyse
def _image_type(ctx, param, value: str) -> str:
    from algorithms.types import check_image_type  # the engine's one rule, imported late

    try:
        return check_image_type(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@main.command()
@click.argument("photos", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--algorithm", "-a", "algorithm_names", multiple=True, required=True,
              help="tech_name to run (repeat the option), or `all`")
@click.option("--out", "out_dir", required=True,
              type=click.Path(file_okay=False, path_type=Path), help="output directory")
@click.option("--image-type", default="original", show_default=True, callback=_image_type,
              help="coordinate space: original (the photo) or restored (the face, upright)")
@click.option("--format", "fmt", default="jpeg", show_default=True,
              type=click.Choice(["jpeg", "png", "webp"]))
def analyse(photos, algorithm_names, out_dir: Path, image_type: str, fmt: str):
    """Analyse PHOTOS with no server: write mask pictures and a JSON per photo."""
    from algorithms import registry
    from rasterisation.batch import analyse_photos

    known = registry.names()
    names = known if "all" in algorithm_names else list(dict.fromkeys(algorithm_names))
    for name in names:
        try:
            registry.get(name)
        except registry.UnknownAlgorithm as exc:
            raise click.BadParameter(str(exc), param_hint="--algorithm") from None
    failed = 0
    for doc in analyse_photos(photos, names, out_dir=out_dir, image_type=image_type, fmt=fmt):
        errors = {k: v["error"] for k, v in doc["results"].items() if "error" in v}
        failed += bool(errors)
        for name, message in errors.items():
            click.echo(f"{doc['photo']}: {name}: {message}", err=True)
    click.echo(str(out_dir))
    if failed:
        sys.exit(1)


# ------------------------------------------------------------------ openapi
def openapi_document(app=None) -> str:
    """The OpenAPI document as deterministic JSON text (sorted keys, trailing newline)."""
    app = app or _app()
    from rasterisation.extensions import api

    with app.app_context():
        spec = api.spec.to_dict()
    return json.dumps(spec, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@main.group()
def openapi():
    """The OpenAPI document."""


@openapi.command("write")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              default=OPENAPI_PATH, show_default=True)
def openapi_write(output: Path):
    """Regenerate api_spec/openapi.json from the code."""
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(openapi_document())
    click.echo(str(output), err=True)



# ------------------------------------------------------------------ users (cli_users.py)
def _add_users_group() -> None:
    from rasterisation.cli_users import users

    main.add_command(users)


_add_users_group()

if __name__ == "__main__":  # pragma: no cover
    main()
