"""Results that expire: masking tasks and synchronous anonymisations (RESULT_TTL).

Each kept result has a row whose ``expires_at`` is set when it is made (now +
``RASTERISATION_RESULT_TTL``):

* :class:`~rasterisation.models.MaskingTaskRecord`: the answer a repeated taskUUID gets, and
  the mask it points at (``<image prefix>masks/<maskImageUUID>/``);
* :class:`~rasterisation.models.AnonymiseResult`: the anonymised picture and its masks
  (``companies/<cid>/anonymised/<id>/``). The row is committed before the files are stored.

:func:`sweep_expired` (run by the storage sweeper, ``rasterisation storage sweep``, every
SWEEP_INTERVAL under ``rasterisation serve``) removes each expired result's files, then its
row; a store that fails keeps the row, so the next pass retries. It also removes what older
versions stored without a row, once it is older than the TTL: ``anonymised/<id>/`` prefixes
with no row, and the ``masking_tasks/`` prefix of the task records that lived in object
storage. (Masks those tasks stored directly under ``<image prefix>masks/`` are single
objects the store cannot delete one by one; they go with their image.)

Pure database + store code: no Flask app needed (the sweeper is a small process).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from rasterisation.models import AnonymiseResult, MaskingTaskRecord, anonymised_prefix, utcnow
from rasterisation.storage import StorageError

__all__ = ["ExpiryReport", "sweep_expired", "expiry", "LEGACY_TASKS", "prefix_uuid",
           "remove_prefix"]

LEGACY_TASKS = "masking_tasks/"      # under companies/<cid>/: the records before the table
_BATCH = 200


def expiry(ttl_seconds: int, now: datetime | None = None) -> datetime:
    """When a result made now expires."""
    return (now or utcnow()) + timedelta(seconds=ttl_seconds)


@dataclass
class ExpiryReport:
    masking_tasks: int = 0          # expired task rows removed (with their masks)
    anonymised: int = 0             # expired anonymisations removed (rows and files)
    leftovers: int = 0              # prefixes of older versions (no row) removed
    objects_removed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.masking_tasks + self.anonymised + self.leftovers


def prefix_uuid(segment: str) -> uuid.UUID | None:
    """The UUID a directory ends with (``companies/<cid>/`` -> cid), or None."""
    try:
        return uuid.UUID(segment.rstrip("/").rsplit("/", 1)[-1])
    except ValueError:
        return None


def remove_prefix(storage, prefix: str, report) -> bool:
    """Remove everything under ``prefix``, counted in ``report.objects_removed``; on a
    storage error, note it in ``report.errors`` and answer False."""
    try:
        report.objects_removed += storage.delete_prefix(prefix)
        return True
    except StorageError as exc:
        report.errors.append(f"{prefix}: {exc}")
        return False


def sweep_expired(session: Session, storage, *, ttl: timedelta | None = None,
                  now: datetime | None = None, report: ExpiryReport | None = None
                  ) -> ExpiryReport:
    """Remove expired masking tasks and anonymisations (files, then rows); with ``ttl``,
    also the row-less prefixes of older versions not written to for ``ttl``."""
    report = report or ExpiryReport()
    now = now or utcnow()
    T, A = MaskingTaskRecord, AnonymiseResult

    while True:
        rows = session.execute(sa.select(T.company_id, T.task_uuid, T.mask_prefix)
                               .where(T.expires_at <= now).limit(_BATCH)).all()
        session.rollback()
        done = 0
        for company_id, task_uuid, mask_prefix in rows:
            if not remove_prefix(storage, mask_prefix, report):
                continue
            session.execute(sa.delete(T).where(T.company_id == company_id,
                                               T.task_uuid == task_uuid, T.expires_at <= now))
            session.commit()
            report.masking_tasks += 1
            done += 1
        if len(rows) < _BATCH or not done:
            break

    while True:
        rows = session.execute(sa.select(A.id, A.company_id).where(A.expires_at <= now)
                               .limit(_BATCH)).all()
        session.rollback()
        done = 0
        for result_id, company_id in rows:
            if not remove_prefix(storage, anonymised_prefix(company_id, result_id), report):
                continue
            session.execute(sa.delete(A).where(A.id == result_id))
            session.commit()
            report.anonymised += 1
            done += 1
        if len(rows) < _BATCH or not done:
            break

    if ttl is not None:
        _leftovers(session, storage, now - ttl, report)
    return report


def _leftovers(session: Session, storage, cutoff: datetime, report: ExpiryReport) -> None:
    """Row-less prefixes of older versions, untouched since ``cutoff``."""
    for company_dir in storage.list_dirs("companies/"):
        company_id = prefix_uuid(company_dir)
        if company_id is None:
            continue
        try:
            legacy = f"{company_dir}{LEGACY_TASKS}"
            newest = storage.newest(legacy)
            if newest is not None and newest <= cutoff and remove_prefix(storage, legacy, report):
                report.leftovers += 1
            dirs = {}
            for d in storage.list_dirs(f"{company_dir}anonymised/"):
                rid = prefix_uuid(d)
                if rid is not None and d == anonymised_prefix(company_id, rid):
                    dirs[rid] = d
        except StorageError as exc:
            report.errors.append(f"{company_dir}: {exc}")
            continue
        ids = list(dirs)
        known: set = set()
        for start in range(0, len(ids), _BATCH):
            known.update(session.scalars(sa.select(AnonymiseResult.id).where(
                AnonymiseResult.company_id == company_id,
                AnonymiseResult.id.in_(ids[start:start + _BATCH]))))
        session.rollback()
        for rid in ids:
            if rid in known:
                continue
            try:
                newest = storage.newest(dirs[rid])
            except StorageError as exc:
                report.errors.append(f"{dirs[rid]}: {exc}")
                continue
            if (newest is None or newest <= cutoff) and remove_prefix(storage, dirs[rid], report):
                report.leftovers += 1
