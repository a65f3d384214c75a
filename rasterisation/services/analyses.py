"""Analyses of stored images, with their caches at the edges.

:class:`StoredPhoto` wraps the pure :class:`algorithms.pipeline.PhotoAnalysis` with the
three caches of an image:

* ``image_faces``: the face (or that there is none) and the restored image, stored once per
  image under its prefix (``restored.png``) and reused;
* ``analyses``: each algorithm's result per (image, algorithm, version) in both coordinate
  spaces, so a second call reads one row and computes nothing;
* the photo's pixels are only fetched and decoded when something must be computed or drawn.

Example
-------
>>> # inside a request: photo = StoredPhoto(image); photo.result("pores", "original")
"""
from __future__ import annotations

import logging

import cv2
import numpy as np
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer

from algorithms.types import IMAGE_TYPES, AnalysisResult, check_image_type, result_from_dict
from algorithms.face.serialise import face_from_dict, face_to_dict
from algorithms.pipeline import MaskError, NoFace, PhotoAnalysis, in_image_type, resolve
from algorithms.render import encode
from rasterisation.extensions import db
from rasterisation.metrics import observe_algorithm
from rasterisation.models import AnalysisRecord, Image, ImageFace, restored_key
from rasterisation.storage import get_storage

__all__ = ["StoredPhoto", "MaskError", "decode_rgb"]

log = logging.getLogger(__name__)


def decode_rgb(data: bytes) -> np.ndarray:
    """Decode stored image bytes (already upright, no metadata) to RGB uint8."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError("stored image could not be decoded")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


class StoredPhoto:
    """One stored image's results and pictures within a request."""

    def __init__(self, image: Image, *, storage=None):
        self.image = image
        self._ids = (image.id, image.company_id)  # still known if a rollback expires `image`
        self.storage = storage or get_storage()
        self._pixels: np.ndarray | None = None
        self._photo: PhotoAnalysis | None = None
        self._face_row: ImageFace | None | bool = False  # False: not looked up yet
        self._pending: list = []
        self._pictures: dict[str, np.ndarray] = {}
        # the geometry column is loaded only when a result's masks are needed
        self._records = {
            (r.tech_name, r.version, r.image_type): r
            for r in db.session.scalars(
                sa.select(AnalysisRecord).where(AnalysisRecord.image_id == image.id)
                .options(defer(AnalysisRecord.masks)))}

    # ---------------------------------------------------------------- pixels and face
    @property
    def pixels(self) -> np.ndarray:
        if self._pixels is None:
            self._pixels = decode_rgb(self.storage.get(self.image.storage_key))
        return self._pixels

    @property
    def face_row(self) -> ImageFace | None:
        if self._face_row is False:
            self._face_row = db.session.get(ImageFace, self.image.id)
        return self._face_row  # type: ignore[return-value]

    @property
    def photo(self) -> PhotoAnalysis:
        """The pure pipeline, seeded with the stored face when there is one."""
        if self._photo is None:
            row = self.face_row
            if row is None:
                self._photo = PhotoAnalysis(self.pixels, on_result=observe_algorithm)
                self._save_face(self._photo)
            elif not row.has_face:
                self._photo = PhotoAnalysis(self.pixels, face=None,
                                            on_result=observe_algorithm)
            else:
                restored = decode_rgb(self.storage.get(row.restored_key))
                self._photo = PhotoAnalysis(self.pixels,
                                            face=face_from_dict(row.data, restored),
                                            on_result=observe_algorithm)
        return self._photo

    def _save_face(self, photo: PhotoAnalysis) -> None:
        face = photo.face
        row = ImageFace(image_id=self.image.id, has_face=face is not None)
        if face is not None:
            row.restored_key = restored_key(self.image.company_id, self.image.id)
            self.storage.put(row.restored_key, encode(face.restored.image, format="png"), "image/png")
            row.data = face_to_dict(face)
        self.stage(row)
        self._face_row = row

    def picture(self, image_type: str) -> np.ndarray:
        """The pixels a mask of ``image_type`` is drawn on (fetched once per request)."""
        check_image_type(image_type)
        if image_type not in self._pictures:
            self._pictures[image_type] = self._picture(image_type)
        return self._pictures[image_type]

    def _picture(self, image_type: str) -> np.ndarray:
        if image_type == "original":
            return self.pixels
        row = self.face_row
        if row is not None and row.has_face:
            if self._photo is not None and self._photo.face_computed:
                return self._photo.face.restored.image
            return decode_rgb(self.storage.get(row.restored_key))
        return self.photo.picture("restored")  # raises MaskError when there is no face

    # ---------------------------------------------------------------- results
    def prefetch(self, algorithms, image_type: str, *, threads: int = 2) -> None:
        """Compute, concurrently, the results of ``algorithms`` (objects or tech_names)
        that are not cached yet."""
        missing = []
        for algorithm in dict.fromkeys(algorithms):
            try:
                algorithm = resolve(algorithm)
            except MaskError:
                continue
            if (algorithm.tech_name, algorithm.version, image_type) not in self._records:
                missing.append(algorithm)
        if missing:
            self.photo.prefetch(missing, threads=threads)

    def summary(self, algorithm, image_type: str) -> AnalysisResult:
        """The result without its geometry (``masks`` empty): metrics, areas, feedback."""
        return self.result(algorithm, image_type, geometry=False)

    def result(self, algorithm, image_type: str, *, geometry: bool = True
               ) -> AnalysisResult:
        """The result of ``algorithm`` (the object, or its tech_name) in ``image_type``
        coordinates; computed at most once."""
        check_image_type(image_type)
        algorithm = resolve(algorithm)
        tech_name = algorithm.tech_name
        record = self._records.get((tech_name, algorithm.version, image_type))
        if record is not None:
            doc = dict(record.summary)
            doc["masks"] = record.masks if geometry else []
            return result_from_dict(doc)
        if image_type == "restored" and self.face_row is not None and not self.face_row.has_face:
            raise NoFace()
        photo = self.photo
        native = photo.native_result(algorithm)
        spaces = {native.image_type: native}
        if photo.face is not None:
            for other in IMAGE_TYPES:
                if other not in spaces:
                    spaces[other] = in_image_type(native, photo.face, other)
        for space, res in spaces.items():
            key = (tech_name, algorithm.version, space)
            if key not in self._records:
                doc = res.to_dict()
                record = AnalysisRecord(image_id=self.image.id, tech_name=tech_name,
                                        version=algorithm.version, image_type=space,
                                        masks=doc.pop("masks"), summary=doc)
                self._records[key] = record
                self.stage(record)
        if image_type not in spaces:
            raise NoFace()
        return spaces[image_type]

    def feedback(self) -> dict:
        """The quality check's feedback (problem codes), shown with every mask."""
        try:
            return dict(self.summary("quality", "original").feedback)
        except MaskError as exc:  # quality itself unavailable: say so, do not hide it
            return {"problems": [], "error": str(exc)}

    def stage(self, row) -> None:
        """Queue a cache row; :meth:`save` writes every queued row in one transaction."""
        self._pending.append(row)  # added at save(): no autoflush surprise mid-request

    def save(self) -> None:
        """Commit the queued cache rows (one fsync per request, not one per row), then make
        sure the image still exists: when it was deleted while this request ran, everything
        under its prefix (what this request stored too) is removed and the answer is 404.

        A concurrent request may have written some of the same rows first: then each row is
        retried alone and the ones that already exist are skipped.
        """
        from rasterisation.services.images import ensure_alive

        self._commit_pending()
        ensure_alive(*self._ids, storage=self.storage)

    def _commit_pending(self) -> None:
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        try:
            db.session.add_all(rows)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            for row in rows:
                try:
                    db.session.add(row)
                    db.session.commit()
                except IntegrityError:
                    db.session.rollback()
                    log.info("cache row %s already written by a concurrent request",
                             type(row).__name__)
