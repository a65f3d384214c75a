"""Geometry: raster masks <-> shapely polygons in continuous pixel coordinates.

Shapely regions -> raster masks (cv2.fillPoly), binary masks -> polygons (cv2.findContours),
connected components -> one polygon each, nested heatmap levels, array indices -> pixel
centres, bounding boxes of masks.

Examples
--------
>>> import numpy as np
>>> from shapely.geometry import box
>>> rasterise(box(1, 1, 3, 2), (3, 4)).astype(int).tolist()  # and centres ~0.5 px outside
[[0, 0, 0, 0], [0, 1, 1, 1], [0, 1, 1, 1]]
>>> [p.bounds for p in polygons_from_mask(np.pad(np.ones((2, 2), bool), 1))]
[(1.0, 1.0, 3.0, 3.0)]
>>> index_to_xy([0], [2]).tolist()
[[2.5, 0.5]]
"""
from __future__ import annotations

from typing import Iterable, Sequence

import cv2
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from algorithms.types import Feature

__all__ = ["PIXEL_CENTRE", "index_to_xy", "disc", "rasterise", "polygons_from_mask",
           "polygon_features", "heatmap_features", "bbox_slices"]

# Geometry uses continuous pixel coordinates, as the face layer does: pixel (row i, col j)
# covers [j, j + 1) x [i, i + 1), so its centre is (j + 0.5, i + 0.5). Array indices are
# converted with PIXEL_CENTRE on the way out (features) and in (rasterising regions).
PIXEL_CENTRE = 0.5


def index_to_xy(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Array indices -> ``(N, 2)`` x, y of the pixel centres."""
    return np.stack([np.asarray(cols, float) + PIXEL_CENTRE,
                     np.asarray(rows, float) + PIXEL_CENTRE], axis=1)


def _rings(geom: BaseGeometry) -> Iterable[Polygon]:
    if geom.is_empty:
        return ()
    if isinstance(geom, Polygon):
        return (geom,)
    return tuple(g for g in getattr(geom, "geoms", ()) if isinstance(g, Polygon))


def disc(radius_px: float) -> np.ndarray:
    """An elliptic structuring element of ``radius_px`` (rounded, at least 1 px): the one
    morphology kernel of the skin layer, for bands, guards and grown zones in millimetres."""
    r = max(int(round(radius_px)), 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))


def rasterise(geom: BaseGeometry | None, shape: tuple[int, int]) -> np.ndarray:
    """Bool mask ``(H, W)`` of the pixels whose centres lie in a (Multi)Polygon (OpenCV's
    fill also takes pixels whose centre is within about half a pixel of the boundary)."""
    mask = np.zeros(shape, np.uint8)
    if geom is None:
        return mask.astype(bool)
    shift = 4  # 1/16 px sub-pixel precision

    def ring(coords):
        return np.round((np.asarray(coords) - PIXEL_CENTRE) * (1 << shift)).astype(np.int32)

    for poly in _rings(geom):
        cv2.fillPoly(mask, [ring(poly.exterior.coords)], 1, lineType=cv2.LINE_8, shift=shift)
        holes = [ring(r.coords) for r in poly.interiors]
        if holes:
            cv2.fillPoly(mask, holes, 0, lineType=cv2.LINE_8, shift=shift)
    return mask.astype(bool)


def polygons_from_mask(mask: np.ndarray, min_area_px: float = 0.0,
                       simplify_px: float = 0.5, offset: tuple[int, int] = (0, 0)
                       ) -> list[Polygon]:
    """Outer contours (with holes) of a binary mask as shapely polygons, pixel coordinates.

    Each boundary is moved out by half a pixel (contours run through boundary pixel
    centres), tiny ones dropped, and vertices simplified to ``simplify_px``. ``offset`` is
    added to the array indices (a crop's origin).
    """
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    if not m.any():
        return []
    contours, hierarchy = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE,
                                           offset=offset)
    contours = [c[:, 0, :].astype(np.float64) + PIXEL_CENTRE for c in contours]
    hierarchy = hierarchy[0]
    out: list[Polygon] = []
    for i, (_nxt, _prv, child, parent) in enumerate(hierarchy):
        if parent != -1:
            continue
        shell = contours[i]
        holes = []
        j = child
        while j != -1:
            h = contours[j]
            if len(h) >= 3:
                holes.append(h)
            j = hierarchy[j][0]
        if len(shell) >= 3:
            poly = Polygon(shell, holes)
            poly = poly if poly.is_valid else shapely.make_valid(poly)
            poly = poly.buffer(0.5, join_style="mitre")
        else:
            poly = shapely.MultiPoint(shell).buffer(0.5 + 0.5 * (len(shell) > 1), quad_segs=2)
        if simplify_px:
            poly = poly.simplify(simplify_px)
        for p in _rings(poly):
            if p.area >= max(min_area_px, 1e-9):
                out.append(p)
    return out


def polygon_features(labels: np.ndarray, keep: np.ndarray, stats: np.ndarray,
                     simplify_px: float = 0.5) -> list[tuple[int, Polygon]]:
    """Polygons of the components ``keep`` (labels from cv2.connectedComponentsWithStats)."""
    out = []
    for i in keep:
        x, y, w, h = (int(v) for v in stats[i, :4])
        crop = labels[y:y + h, x:x + w] == i
        polys = polygons_from_mask(np.pad(crop, 1), simplify_px=simplify_px,
                                   offset=(x - 1, y - 1))
        if polys:
            poly = max(polys, key=lambda p: p.area)
            out.append((int(i), poly))
    return out


def heatmap_features(value: np.ndarray, valid: np.ndarray, thresholds: Sequence[float],
                     min_area_px: float, simplify_px: float = 1.0):
    """Nested heatmap levels: level ``k`` = where ``value >= thresholds[k]`` inside ``valid``.

    Returns ``[(level, threshold, MultiPolygon)]`` for the levels that have any area; each
    level is clipped to the one below so the nesting survives simplification.
    """
    feats = []
    previous: BaseGeometry | None = None
    for level, t in enumerate(thresholds):
        m = (value >= t) & valid
        polys = polygons_from_mask(m, min_area_px=min_area_px, simplify_px=simplify_px)
        if not polys:
            break
        geom: BaseGeometry = shapely.union_all(polys)
        if previous is not None:
            geom = geom.intersection(previous)
        polys = [p for p in _rings(geom) if p.area >= min_area_px]
        if not polys:
            break
        geom = MultiPolygon(polys)
        feats.append(Feature(geom, {"level": level, "value": float(t)}))
        previous = geom
    return feats


def bbox_slices(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """Row and column slices of ``mask``'s bounding box grown by ``margin`` (clipped)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return slice(0, 0), slice(0, 0)
    h, w = mask.shape
    return (slice(max(rows[0] - margin, 0), min(rows[-1] + margin + 1, h)),
            slice(max(cols[0] - margin, 0), min(cols[-1] + margin + 1, w)))
