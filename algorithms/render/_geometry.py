"""Shapely geometry -> OpenCV fixed-point arrays, with the corrections OpenCV's drawing needs.

OpenCV draws anti-aliased shapes fast but not exactly (measured, see docs/decisions.md):

- filled polygons spill ~0.6 px outward on every edge (the anti-aliased edge is a 1 px line
  centred on the true edge, drawn over a solid fill), so fills are inset by
  :data:`FILL_INSET` along each vertex's miter before drawing; holes grow by the same amount;
- filled circles come out ~0.5 px too large in radius (:data:`CIRCLE_INSET`);
- thick strokes come only in widths ~1.4, 3.5, 5.5, 7.5 ... px (:func:`cv_thickness`).

Coordinates are continuous pixel units: pixel (column j, row i) covers [j, j + 1) x [i, i + 1)
and its centre is (j + 0.5, i + 0.5), the convention of ``algorithms`` (face landmarks, skin
geometry) and of SVG. OpenCV puts pixel centres on integers, so :func:`fixed` moves every
coordinate by half a pixel on its way to OpenCV, as integers in 1/16 px (``shift=4``).
"""
from __future__ import annotations

import numpy as np
import shapely

__all__ = ["SHIFT", "ONE", "FILL_INSET", "CIRCLE_INSET", "explode", "fixed",
           "Rings", "line_coords", "cv_thickness"]

SHIFT = 4
ONE = 1 << SHIFT
FILL_INSET = 0.6
CIRCLE_INSET = 0.5

# shapely type ids
_POINTS = (0, 4)
_LINES = (1, 2, 5)
_POLYGONS = (3, 6)
_COLLECTION = 7


def explode(geoms, kinds: str) -> tuple[np.ndarray, np.ndarray]:
    """Single parts of ``geoms`` of one kind ('point', 'line' or 'polygon'), with the index
    of the geometry each came from."""
    if not isinstance(geoms, np.ndarray):  # fromiter: 10x faster than asarray on a list
        geoms = np.fromiter(geoms, dtype=object, count=len(geoms))
    types = shapely.get_type_id(geoms)
    if (types < 4).all():  # no multi-part geometry: the common case, and much faster
        parts, index = geoms, np.arange(len(geoms))
    else:
        parts, index = shapely.get_parts(geoms, return_index=True)
    while True:  # geometry collections may nest multi-geometries
        types = shapely.get_type_id(parts)
        multi = types >= 4
        if not multi.any():
            break
        sub, sub_index = shapely.get_parts(parts[multi], return_index=True)
        parent = index[multi][sub_index]
        parts = np.concatenate([parts[~multi], sub])
        index = np.concatenate([index[~multi], parent])
    types = shapely.get_type_id(parts)
    wanted = {"point": _POINTS, "line": _LINES, "polygon": _POLYGONS}[kinds]
    keep = np.isin(types, wanted) & ~shapely.is_empty(parts)
    return parts[keep], index[keep]


def fixed(coords: np.ndarray) -> np.ndarray:
    """Continuous pixel coordinates -> OpenCV's (centres on integers) int32 fixed point."""
    return np.round((np.asarray(coords, np.float64) - 0.5) * ONE).astype(np.int32)


def _inset(coords: np.ndarray, counts: np.ndarray, d: float) -> np.ndarray:
    """Move every vertex of the rings (closing vertex dropped) ``d`` px to the left of its
    edges along the miter, which for oriented polygons is towards the filled side."""
    n = len(coords)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    ends = starts + np.repeat(counts, counts)
    i = np.arange(n)
    prev = np.where(i == starts, ends - 1, i - 1)
    nxt = np.where(i == ends - 1, starts, i + 1)

    def left_normal(e):
        length = np.hypot(e[:, 0], e[:, 1])
        length[length == 0] = 1.0
        return np.stack([-e[:, 1], e[:, 0]], axis=1) / length[:, None]

    n1 = left_normal(coords - coords[prev])
    n2 = left_normal(coords[nxt] - coords)
    den = np.maximum(1.0 + (n1 * n2).sum(axis=1), 0.5)  # caps the miter of sharp spikes
    return coords + (n1 + n2) * (d / den)[:, None]


class Rings:
    """The rings of some polygons, oriented so that each polygon's inside is on the left of
    its rings (exteriors counter-clockwise, holes clockwise), closing vertices dropped."""

    def __init__(self, polys: np.ndarray):
        polys = shapely.orient_polygons(np.asarray(polys, dtype=object), exterior_cw=False)
        self.n_polygons = len(polys)
        rings, self.polygon_of_ring = shapely.get_rings(polys, return_index=True)
        coords, ring_index = shapely.get_coordinates(rings, return_index=True)
        counts = np.bincount(ring_index, minlength=len(rings))
        keep = np.ones(len(coords), bool)
        keep[np.cumsum(counts) - 1] = False  # the closing vertex repeats the first
        self.coords, self.counts = coords[keep], counts - 1

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        if not len(self.coords):
            return (0.0, 0.0, -1.0, -1.0)
        (x0, y0), (x1, y1) = self.coords.min(axis=0), self.coords.max(axis=0)
        return float(x0), float(y0), float(x1), float(y1)

    def fixed(self, inset: float = 0.0) -> list[list[np.ndarray]]:
        """For each polygon, its rings as fixed-point int32 (n, 2) arrays, moved ``inset`` px
        towards the polygon's inside (0: exactly on the boundary)."""
        coords = _inset(self.coords, self.counts, inset) if inset else self.coords
        pts = fixed(coords)
        ends = np.cumsum(self.counts).tolist()
        out: list[list[np.ndarray]] = [[] for _ in range(self.n_polygons)]
        start = 0
        for end, p in zip(ends, self.polygon_of_ring.tolist()):
            if end - start >= 2:
                out[p].append(pts[start:end])
            start = end
        return out

    def flat(self) -> list[np.ndarray]:
        """Every ring, on the boundary, as fixed-point int32 (n, 2) arrays."""
        return [r for rings in self.fixed() for r in rings]


def line_coords(lines: np.ndarray) -> list[np.ndarray]:
    """Each line (LineString or LinearRing) as a fixed-point int32 (n, 2) array."""
    if len(lines) == 0:
        return []
    coords, index = shapely.get_coordinates(lines, return_index=True)
    ends = np.cumsum(np.bincount(index, minlength=len(lines))).tolist()
    pts = fixed(coords)
    return [pts[a:b] for a, b in zip([0] + ends[:-1], ends)]


def cv_thickness(width: float) -> int:
    """OpenCV ``thickness`` whose anti-aliased stroke is nearest ``width`` px.

    thickness 1 draws ~1.4 px (the thinnest, never under 1 px); an even thickness t draws
    t + 1.5 px; an odd one >= 3 draws as wide as the even one above it.
    """
    if width < 2.5:
        return 1
    return max(2, 2 * round((width - 1.5) / 2))
