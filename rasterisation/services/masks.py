"""The masks endpoints' work: per mask, a result, a picture (cached) and a signed URL.

Each mask of a request is independent: an unknown algorithm or a missing face gives that
mask an ``error`` and the others still succeed. Pictures are cached per (image, image_type,
algorithm version, style, format) in ``renders``; a repeated request only signs URLs.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from algorithms import registry
from rasterisation.extensions import db
from rasterisation.models import Image, RenderRecord
from rasterisation.render import CONTENT_TYPES, Style, encode, render, render_svg
from rasterisation.services.analyses import MaskError, StoredPhoto
from rasterisation.services.images import signed_url

__all__ = ["MaskSpec", "make_masks", "SVG"]

SVG = "svg"
_EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", SVG: "svg"}


@dataclass(frozen=True)
class MaskSpec:
    """One entry of the request's ``masks`` list, validated."""

    algorithm_tech_name: str
    style: Style
    main_metric: bool = False
    sub_metrics: bool = False


def _render_bytes(photo: StoredPhoto, spec: MaskSpec, *, image_type: str, fmt: str,
                  mask_over_image: bool) -> tuple[bytes, str]:
    result = photo.result(spec.algorithm_tech_name, image_type)
    picture = photo.picture(image_type)
    if fmt == SVG:
        background = encode(picture, format="jpeg") if mask_over_image else None
        return (render_svg(result.masks, width=result.width, height=result.height,
                           style=spec.style, background=background,
                           background_type=CONTENT_TYPES["jpeg"]),
                "image/svg+xml")
    return encode(render(picture, result.masks, style=spec.style), format=fmt), CONTENT_TYPES[fmt]


def make_masks(image: Image, *, image_type: str, specs: list[MaskSpec], fmt: str = "jpeg",
               mask_over_image: bool = True) -> list[dict]:
    """The response items, one per spec, in request order."""
    photo = StoredPhoto(image)
    renders = {(r.image_type, r.tech_name, r.version, r.style_key, r.format): r
               for r in db.session.scalars(
                   sa.select(RenderRecord).where(RenderRecord.image_id == image.id))}
    items = []
    for spec in specs:
        item = {"algorithm_tech_name": spec.algorithm_tech_name, "masked_image_url": None,
                "error": None, "main_metric": None, "sub_metrics": None, "feedback": {}}
        try:
            algorithm = registry.get(spec.algorithm_tech_name)
            result = photo.summary(algorithm.tech_name, image_type)
            item["feedback"] = photo.feedback()
            style_key = spec.style.cache_key() + ("-bg" if fmt == SVG and mask_over_image else "")
            key = (image_type, algorithm.tech_name, algorithm.version, style_key, fmt)
            record = renders.get(key)
            if record is None:
                data, content_type = _render_bytes(photo, spec, image_type=image_type,
                                                   fmt=fmt, mask_over_image=mask_over_image)
                storage_key = (f"{image.prefix}renders/{image_type}/{algorithm.tech_name}-"
                               f"{algorithm.version}-{style_key}.{_EXTENSIONS[fmt]}")
                photo.storage.put(storage_key, data, content_type)
                record = RenderRecord(image_id=image.id, image_type=image_type,
                                      tech_name=algorithm.tech_name, version=algorithm.version,
                                      style_key=style_key, format=fmt, storage_key=storage_key)
                photo.stage(record)
                renders[key] = record
            item["masked_image_url"], _ = signed_url(record.storage_key, storage=photo.storage)
            if spec.main_metric and result.main_metric is not None:
                item["main_metric"] = result.main_metric.to_dict()
            if spec.sub_metrics:
                item["sub_metrics"] = [m.to_dict() for m in result.sub_metrics]
        except (registry.UnknownAlgorithm, MaskError) as exc:
            item["error"] = str(exc)
        items.append(item)
    photo.save()
    return items
