"""The sweeper: finish what a crash, an outage or a race left behind in the object store.

Two kinds of leftovers exist by construction (see ``rasterisation.services.images``):

* **rows marked deleted** (``images.deleted_at``): a DELETE whose object removal failed or
  whose process died after the mark. The sweeper removes the objects under the image's
  prefix, then the row (its derived rows cascade).
* **objects with no row**: an upload whose row insert failed and whose clean-up failed too, a
  masks request that stored pictures of an image deleted meanwhile and died before it
  removed them. Every object of an image lives under ``companies/<cid>/images/<iid>/``; a
  prefix whose (company, image) has no row is removed.

Only leftovers older than ``grace`` are touched, so work in flight (an upload between its
object and its row, a DELETE between its mark and its removal) is never raced.

It also removes the results that expire (RESULT_TTL): masking tasks and synchronous
anonymisations past their ``expires_at``, files then rows
(:func:`rasterisation.services.retention.sweep_expired`).

It needs no Flask app (``run_sweep`` builds an engine and the store from the settings), so
``rasterisation storage sweep`` starts fast and the scheduled sweeper of
``rasterisation serve`` is a small process.

Example
-------
>>> SweepReport().as_text()
'0 deleted images finished, 0 orphan prefixes removed, 0 objects removed'
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rasterisation.models import Image, image_prefix, utcnow
from rasterisation.services.retention import prefix_uuid, remove_prefix, sweep_expired
from rasterisation.storage import StorageError

__all__ = ["SweepReport", "sweep", "run_sweep", "sweep_forever", "DEFAULT_GRACE", "engine_for"]

log = logging.getLogger(__name__)
DEFAULT_GRACE = timedelta(minutes=10)
_BATCH = 500


@dataclass
class SweepReport:
    deleted_rows: int = 0        # rows marked deleted, finished
    orphan_prefixes: int = 0     # image prefixes without a row, removed
    objects_removed: int = 0
    errors: list[str] = field(default_factory=list)
    expired_results: int = 0     # masking tasks and anonymisations past RESULT_TTL, removed

    def as_text(self) -> str:
        text = (f"{self.deleted_rows} deleted images finished, {self.orphan_prefixes} orphan "
                f"prefixes removed, {self.objects_removed} objects removed")
        if self.expired_results:
            text += f", {self.expired_results} expired results removed"
        if self.errors:
            text += f", {len(self.errors)} errors (first: {self.errors[0]})"
        return text


def sweep(session: Session, storage, *, grace: timedelta = DEFAULT_GRACE,
          now=None, result_ttl: timedelta | None = None) -> SweepReport:
    """One pass over the database and the store; see the module docstring. ``result_ttl``
    (the service's RESULT_TTL) also removes row-less results of older versions."""
    report = SweepReport()
    cutoff = (now or utcnow()) - grace
    expired = sweep_expired(session, storage, ttl=result_ttl, now=now)
    report.expired_results = expired.total
    report.objects_removed += expired.objects_removed
    report.errors += expired.errors

    # 1. deletes that did not finish
    marked = session.execute(
        sa.select(Image.id, Image.company_id)
        .where(Image.deleted_at.is_not(None), Image.deleted_at <= cutoff)).all()
    for image_id, company_id in marked:
        if not remove_prefix(storage, image_prefix(company_id, image_id), report):
            continue
        session.execute(sa.delete(Image).where(Image.id == image_id))
        session.commit()
        report.deleted_rows += 1

    # 2. image prefixes with no row
    for company_dir in storage.list_dirs("companies/"):
        company_id = prefix_uuid(company_dir)
        if company_id is None:
            continue
        dirs = {}
        for image_dir in storage.list_dirs(f"{company_dir}images/"):
            image_id = prefix_uuid(image_dir)
            if image_id is not None and image_dir == image_prefix(company_id, image_id):
                dirs[image_id] = image_dir
        ids = list(dirs)
        known: set = set()
        for start in range(0, len(ids), _BATCH):
            known.update(session.scalars(
                sa.select(Image.id).where(Image.company_id == company_id,
                                          Image.id.in_(ids[start:start + _BATCH]))))
        session.rollback()  # end the read transaction before the slow part
        for image_id in ids:
            if image_id in known:
                continue
            prefix = dirs[image_id]
            try:
                newest = storage.newest(prefix)
            except StorageError as exc:
                report.errors.append(f"{prefix}: {exc}")
                continue
            if newest is not None and newest > cutoff:
                continue  # an upload or a request may still be writing it
            if remove_prefix(storage, prefix, report):
                report.orphan_prefixes += 1
    return report


def engine_for(settings) -> sa.Engine:
    """An engine on the configured database, with the service's SQLite pragmas (foreign
    keys on, so a row's derived rows cascade; a busy timeout)."""
    engine = sa.create_engine(settings.database_url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection, _record):
            dbapi_connection.execute("PRAGMA foreign_keys=ON")
            dbapi_connection.execute("PRAGMA busy_timeout=5000")
    return engine


def run_sweep(settings, *, grace: timedelta = DEFAULT_GRACE, engine=None) -> SweepReport:
    """One sweep of the service that ``settings`` describes."""
    from rasterisation.storage import make_storage

    own = engine is None
    engine = engine or engine_for(settings)
    try:
        with Session(engine) as session:
            return sweep(session, make_storage(settings), grace=grace,
                         result_ttl=timedelta(seconds=settings.result_ttl))
    finally:
        if own:
            engine.dispose()


def sweep_forever(settings, *, interval: float, grace: timedelta = DEFAULT_GRACE,
                  parent_pid: int | None = None, first_delay: float | None = None,
                  echo=print) -> None:
    """Sweep every ``interval`` seconds until the parent process (gunicorn's master) is
    gone. A failed pass (database or store down) is logged and retried next time."""
    engine = engine_for(settings)
    delay = min(interval, 30.0) if first_delay is None else first_delay
    while True:
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            if parent_pid is not None and os.getppid() != parent_pid:
                return
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
        try:
            report = run_sweep(settings, grace=grace, engine=engine)
        except Exception as exc:  # noqa: BLE001 - keep sweeping; say why this pass failed
            echo(f"sweep failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        else:
            if (report.deleted_rows or report.orphan_prefixes or report.expired_results
                    or report.errors):
                echo(f"sweep: {report.as_text()}")
        delay = interval
