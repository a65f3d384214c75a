"""Named skin regions as shapely polygons, built from the 478 landmarks.

MediaPipe defines only the face oval, eyes, brows and lips. Every other region here is a
polygon through mesh points chosen on the studio portraits (see the map in
docs/algorithms.md); the subject's right-side regions are written out and the left side is
their mirror image through :func:`algorithms.face.indices.mirror`, so the two sides are
symmetric by construction. Left and right are the subject's.

``face_skin`` is the face oval minus the eyes (grown by EYE_MARGIN to drop lashes and lid
margins), brows, lips and nostrils (each grown a little). Every other region is clipped to
``face_skin``, so all of them are skin inside the face oval. Margins are fractions of the
inter-pupillary distance (IPD), so the regions scale with the face in any coordinate space.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from algorithms.face import indices as ix
from algorithms.face.types import REGION_NAMES

__all__ = ["REGION_NAMES", "REGION_LOOPS", "build_regions", "feature_polygons"]

EYE_MARGIN = 0.04       # x IPD (about 2.5 mm): lashes and lid margin
BROW_MARGIN = 0.02
LIPS_MARGIN = 0.02
NOSTRIL_MARGIN = 0.0


def _sym(right_chain, top=(), bottom=()) -> tuple[int, ...]:
    """A loop symmetric about the midline: ``top`` midline points, the right-side chain
    (top to bottom), ``bottom`` midline points, then the left-side chain back up."""
    left = ix.mirror_indices(right_chain)
    return tuple(top) + tuple(right_chain) + tuple(bottom) + tuple(reversed(left))


# Right-side (subject's right) loops; the left side is mirrored.
_RIGHT = {
    "under_eye": (130, 25, 110, 24, 23, 22, 26, 112, 243, 244, 245, 128, 121, 120, 119, 118,
                  117, 111, 31, 226),
    "crows_feet": (46, 124, 113, 226, 31, 111, 116, 227, 34, 127, 162, 21, 71, 70),
    "cheek": (111, 117, 118, 119, 120, 121, 128, 47, 126, 209, 129, 203, 206, 216, 212, 214,
              138, 172, 58, 132, 93, 234, 227, 116),
    "nasolabial": (129, 203, 206, 216, 212, 57, 186, 92, 165, 98, 64),
}


def _loops() -> dict[str, tuple[int, ...]]:
    loops = {
        # Upper face oval from temple to temple, down to the brows' upper edges and the top
        # of the glabella.
        "forehead": (21, 54, 103, 67, 109, 10, 338, 297, 332, 284, 251, 301, 300, 293, 334,
                     296, 336, 9, 107, 66, 105, 63, 70, 71),
        # Between the brows, down to the root of the nose.
        "glabella": (107, 9, 336, 285, 417, 168, 193, 55),
        # Root, bridge, side walls (to the nasofacial groove), tip and alae.
        "nose": _sym((193, 245, 128, 47, 126, 209, 129, 64, 98, 97), top=(168,), bottom=(2,)),
        # Below the lower lip to the bottom of the oval, between the marionette lines.
        "chin": _sym((83, 182, 106, 43, 202, 210, 169, 150, 149, 176, 148), top=(18,),
                     bottom=(152,)),
        # Around the lips: under the nose, inside the nasolabial folds, down to the chin.
        "perioral": _sym((97, 98, 165, 92, 186, 57, 43, 106, 182, 83), top=(2,), bottom=(18,)),
    }
    for name, loop in _RIGHT.items():
        loops[f"right_{name}"] = loop
        loops[f"left_{name}"] = tuple(reversed(ix.mirror_indices(loop)))
    return loops


REGION_LOOPS: Mapping[str, tuple[int, ...]] = _loops()


def _poly(points: np.ndarray, loop) -> BaseGeometry:
    g = Polygon(points[list(loop)])
    return g if g.is_valid else shapely.make_valid(g)


def feature_polygons(points: np.ndarray) -> dict[str, BaseGeometry]:
    """Face oval, eyes, brows, lips and nostrils (exact mesh contours, no margin)."""
    p = np.asarray(points, dtype=np.float64)[:, :2]
    return {
        "face_oval": _poly(p, ix.FACE_OVAL),
        "right_eye": _poly(p, ix.RIGHT_EYE), "left_eye": _poly(p, ix.LEFT_EYE),
        "right_brow": _poly(p, ix.RIGHT_BROW), "left_brow": _poly(p, ix.LEFT_BROW),
        "lips": _poly(p, ix.LIPS_OUTER),
        "right_nostril": _poly(p, ix.RIGHT_NOSTRIL), "left_nostril": _poly(p, ix.LEFT_NOSTRIL),
    }


def _polygonal(g: BaseGeometry) -> BaseGeometry:
    """Keep only the (multi)polygon part of ``g`` (intersections can add lines, points)."""
    if g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    parts = [p for p in getattr(g, "geoms", []) if p.geom_type in ("Polygon", "MultiPolygon")]
    return shapely.union_all(parts) if parts else Polygon()


def build_regions(points: np.ndarray) -> dict[str, BaseGeometry]:
    """Every region of :data:`REGION_NAMES` from (478, 2) landmarks, same coordinates.

    Examples
    --------
    >>> regions = build_regions(face.landmarks_restored)            # doctest: +SKIP
    >>> regions["left_cheek"].area / face.restored.px_per_mm ** 2    # doctest: +SKIP
    1699.9
    """
    p = np.asarray(points, dtype=np.float64)[:, :2]
    ipd = float(np.linalg.norm(p[ix.LEFT_IRIS_CENTER] - p[ix.RIGHT_IRIS_CENTER]))
    f = feature_polygons(p)
    holes = shapely.union_all([
        f["right_eye"].buffer(EYE_MARGIN * ipd), f["left_eye"].buffer(EYE_MARGIN * ipd),
        f["right_brow"].buffer(BROW_MARGIN * ipd), f["left_brow"].buffer(BROW_MARGIN * ipd),
        f["lips"].buffer(LIPS_MARGIN * ipd),
        f["right_nostril"].buffer(NOSTRIL_MARGIN * ipd),
        f["left_nostril"].buffer(NOSTRIL_MARGIN * ipd),
    ])
    skin = _polygonal(f["face_oval"].difference(holes))
    out: dict[str, BaseGeometry] = {}
    for name in REGION_NAMES:
        if name == "face_skin":
            out[name] = skin
        else:
            out[name] = _polygonal(_poly(p, REGION_LOOPS[name]).intersection(skin))
    return out
