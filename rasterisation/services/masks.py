"""The masks endpoints' work: per mask, a result, a picture (cached) and a signed URL.

Each mask of a request is independent: an unknown algorithm or a missing face gives that
mask an ``error`` and the others still succeed. Pictures are cached per (image, image_type,
algorithm version, style, format) in ``renders``; a repeated request only signs URLs.

A request runs in phases so the heavy, pure parts can use several threads
(``RASTERISATION_ANALYSIS_THREADS``): the algorithms not cached yet, then the pictures not
cached yet; the database and the storage are only touched from the request's own thread.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from algorithms import registry
from algorithms.pipeline import thread_map
from algorithms.render import CONTENT_TYPES, EXTENSIONS, Style, encode, render, render_svg
from rasterisation.extensions import db
from rasterisation.metrics import RENDER_CACHE, RENDER_SECONDS
from rasterisation.models import Image, RenderRecord, render_key
from rasterisation.services.analyses import MaskError, StoredPhoto
from rasterisation.services.images import settings, signed_url

__all__ = ["MaskSpec", "make_masks", "SVG"]

SVG = "svg"


@dataclass(frozen=True)
class MaskSpec:
    """One entry of the request's ``masks`` list, validated."""

    algorithm_tech_name: str
    style: Style
    main_metric: bool = False
    sub_metrics: bool = False


def _draw(picture, result, style: Style, *, fmt: str, background: bytes | None
          ) -> tuple[bytes, str]:
    """The picture of one mask, encoded (timed for the metrics)."""
    start = time.perf_counter()
    try:
        return _draw_pure(picture, result, style, fmt=fmt, background=background)
    finally:
        RENDER_SECONDS.labels(fmt).observe(time.perf_counter() - start)


def _draw_pure(picture, result, style: Style, *, fmt: str, background: bytes | None
               ) -> tuple[bytes, str]:
    """Pure: the picture of one mask, encoded."""
    if fmt == SVG:
        return (render_svg(result.masks, width=result.width, height=result.height, style=style,
                           background=background, background_type=CONTENT_TYPES["jpeg"]),
                "image/svg+xml")
    return encode(render(picture, result.masks, style=style), format=fmt), CONTENT_TYPES[fmt]


def merge_feedback(quality: dict, own: dict) -> dict:
    """The photo's quality feedback plus what the algorithm says of itself (e.g. pores'
    ``low_resolution`` with the px/mm it needs): problems in order without repeats,
    measures merged.

    >>> merge_feedback({"problems": ["blurry"]},
    ...                {"problems": ["low_resolution"], "measures": {"needed_px_per_mm": 6}})
    {'problems': ['blurry', 'low_resolution'], 'measures': {'needed_px_per_mm': 6}}
    """
    out = dict(quality)
    problems = list(quality.get("problems", []))
    problems += [p for p in own.get("problems", []) if p not in problems]
    out["problems"] = problems
    if own.get("measures"):
        out["measures"] = {**quality.get("measures", {}), **own["measures"]}
    return out


def make_masks(image: Image, *, image_type: str, specs: list[MaskSpec], fmt: str = "jpeg",
               mask_over_image: bool = True) -> list[dict]:
    """The response items, one per spec, in request order."""
    threads = settings().analysis_threads
    photo = StoredPhoto(image)
    renders = {(r.image_type, r.tech_name, r.version, r.style_key, r.format): r
               for r in db.session.scalars(
                   sa.select(RenderRecord).where(RenderRecord.image_id == image.id))}
    items = [{"algorithm_tech_name": spec.algorithm_tech_name, "masked_image_url": None,
              "error": None, "main_metric": None, "sub_metrics": None, "feedback": {}}
             for spec in specs]
    suffix = "-bg" if fmt == SVG and mask_over_image else ""

    # 1. which masks are valid, and which pictures are missing
    wanted: dict[int, tuple] = {}  # item index -> (algorithm, render cache key)
    for index, spec in enumerate(specs):
        try:
            algorithm = registry.get(spec.algorithm_tech_name)
        except registry.UnknownAlgorithm as exc:
            items[index]["error"] = str(exc)
            continue
        wanted[index] = (algorithm, (image_type, algorithm.tech_name, algorithm.version,
                                     spec.style.cache_key() + suffix, fmt))
    missing = [i for i, (_, key) in wanted.items() if key not in renders]
    RENDER_CACHE.labels("hit").inc(len(wanted) - len(missing))
    RENDER_CACHE.labels("miss").inc(len(missing))

    # 2. results not cached yet, concurrently (quality too: every item carries its feedback)
    if wanted:
        photo.prefetch(["quality"] + [algorithm for algorithm, _ in wanted.values()],
                       image_type, threads=threads)

    # 3. metrics, and the geometry of the pictures to draw
    jobs, job_items, feedback, background = [], [], None, None
    for index, (algorithm, key) in wanted.items():
        spec, item = specs[index], items[index]
        try:
            summary = photo.summary(algorithm, image_type)
            if feedback is None:
                feedback = photo.feedback()
            item["feedback"] = merge_feedback(feedback, summary.feedback)
            if spec.main_metric and summary.main_metric is not None:
                item["main_metric"] = summary.main_metric.to_dict()
            if spec.sub_metrics:
                item["sub_metrics"] = [m.to_dict() for m in summary.sub_metrics]
            if index in missing and key not in {k for _, k in job_items}:
                picture = photo.picture(image_type)
                if fmt == SVG and mask_over_image and background is None:
                    background = encode(picture, format="jpeg")
                jobs.append((picture, photo.result(algorithm, image_type),
                             spec.style, fmt, background))
                job_items.append((index, key))
        except MaskError as exc:
            item["error"] = str(exc)

    # 4. draw the missing pictures concurrently, then store them from this thread
    drawn = thread_map(lambda job: _draw(job[0], job[1], job[2], fmt=job[3], background=job[4]),
                       jobs, threads=threads)
    for (index, key), (data, content_type) in zip(job_items, drawn):
        image_type_, tech_name, version, style_key, fmt_ = key
        storage_key = render_key(image.company_id, image.id, image_type=image_type_,
                                 tech_name=tech_name, version=version, style_key=style_key,
                                 extension=EXTENSIONS.get(fmt_, fmt_))
        photo.storage.put(storage_key, data, content_type)
        record = RenderRecord(image_id=image.id, image_type=image_type_, tech_name=tech_name,
                              version=version, style_key=style_key, format=fmt_,
                              storage_key=storage_key)
        photo.stage(record)
        renders[key] = record
    photo.save()

    # 5. sign
    for index, (algorithm, key) in wanted.items():
        if items[index]["error"] is None:
            items[index]["masked_image_url"], _ = signed_url(renders[key].storage_key,
                                                             storage=photo.storage)
    return items
