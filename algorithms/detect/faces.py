"""Faces and face parts for masks: BlazeFace boxes, the mesh's face oval, eyes, lips, nose.

Every face found by the detector (short or full range, at the caller's confidence) is
confirmed by the landmark model, which also gives its 478 points; the shapes come from those
points (MediaPipe's published contours for the oval, eyes, brows and lips; a hull of the
nose points for the nose). A face's *box* is the union of the detector's box and the mesh
oval's bounds: BlazeFace's box stops at the brows, and an inpainting mask of "the face" must
hold the forehead too.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
from shapely.geometry import MultiPoint, Polygon
from shapely.ops import unary_union

from algorithms.detect.types import Detected
from algorithms.face import indices as ix
from algorithms.face.detection import detect_faces
from algorithms.face.landmark_model import landmarks_from_detection
from algorithms.face.roi import Pyramid, Roi, crop

__all__ = ["PARTS", "DETECTORS", "detect_face_shapes", "part_contour", "tiled_faces"]

DETECTORS = ("short", "full", "both", "tiled")
TILES_ACROSS = 3          # tiles on the photo's long side, full-range detector
TILE_OVERLAP = 0.25
CONTAINED = 0.5           # a box this much inside a kept one is the same face

PARTS = ("face", "eyes_only", "eyes", "lips", "nose")

# Nose: bridge from between the eyes to the tip, the alae and the nostrils' base.
NOSE = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 122, 351, 196, 419, 3, 248, 236, 456, 198, 420,
        131, 360, 49, 279, 48, 278, 219, 439, 218, 438, 237, 457, 44, 274, 64, 294, 129, 358,
        102, 331, 240, 460, 75, 305, 59, 289, 60, 290, 20, 250, 79, 309, 166, 392, 97, 326,
        98, 327, 141, 370, 242, 462)


def _ring(points: np.ndarray, loop) -> Polygon:
    poly = Polygon(points[list(loop)])
    return poly if poly.is_valid else poly.buffer(0)


def part_contour(points: np.ndarray, part: str):
    """The outline of ``part`` of one face from its (478, 2) landmarks.

    ``face``: the face oval; ``eyes_only``: the two eye openings; ``eyes``: each eye with its
    brow (the hull of the eye and brow contours); ``lips``: the outer lip contour; ``nose``:
    the hull of the nose points.
    """
    if part == "face":
        return _ring(points, ix.FACE_OVAL)
    if part == "eyes_only":
        return unary_union([_ring(points, ix.RIGHT_EYE), _ring(points, ix.LEFT_EYE)])
    if part == "eyes":
        return unary_union([MultiPoint(points[list(ix.RIGHT_EYE + ix.RIGHT_BROW)]).convex_hull,
                            MultiPoint(points[list(ix.LEFT_EYE + ix.LEFT_BROW)]).convex_hull])
    if part == "lips":
        return _ring(points, ix.LIPS_OUTER)
    if part == "nose":
        return MultiPoint(points[list(NOSE)]).convex_hull
    raise ValueError(f"part must be one of {', '.join(PARTS)}; got {part!r}")


def _tile_centres(length: float, side: float) -> list[float]:
    if length <= side:
        return [length / 2]
    n = math.ceil((length - side) / (side * (1 - TILE_OVERLAP))) + 1
    return [side / 2 + k * (length - side) / (n - 1) for k in range(n)]


def tiled_faces(pyr: Pyramid, *, confidence: float):
    """Faces of any size: BlazeFace short and full range on the whole photo, plus the full
    range model on overlapping tiles (TILES_ACROSS on the long side, 25 % overlap), merged
    and confirmed by the landmark model.

    On the whole photo the full-range model sees a 4000 px photo at 192 px, so faces under
    ~5 % of the photo's width (~200 px at 12 MP) go unseen; in a third of the photo the limit
    is three times smaller. A face cut by a tile's edge is found whole in a neighbour (the
    overlap) and its partial box dropped (a box mostly inside a kept one is the same face).
    """
    from algorithms.face.detection import _SPECS, _detections, _verified

    found = detect_faces(pyr, model="both", min_score=confidence, verify=False,
                         try_rotations=False)
    w, h = pyr.size
    side = max(w, h) / TILES_ACROSS
    if side >= 256:      # below that, the whole-photo passes already see faces of ~15 px
        size = _SPECS["full"].size
        for cy in _tile_centres(h, side):
            for cx in _tile_centres(w, side):
                canvas, m = crop(pyr, Roi(cx, cy, side, side), size, size,
                                 border=cv2.BORDER_CONSTANT)
                found += _detections(canvas, m, "full", confidence)
    kept = []
    for d in sorted(found, key=lambda d: (-d.area, -d.score)):
        x0, y0, x1, y1 = d.box
        inside = any(
            max(0.0, min(x1, k.box[2]) - max(x0, k.box[0]))
            * max(0.0, min(y1, k.box[3]) - max(y0, k.box[1])) > CONTAINED * d.area
            for k in kept)
        if not inside:
            kept.append(d)
    return sorted(_verified(pyr, kept), key=lambda d: -d.area)


def _label(part: str) -> str:
    return "eyes" if part == "eyes_only" else part


def detect_face_shapes(pyr: Pyramid, *, detector: str, parts: tuple[str, ...],
                       confidence: float, max_faces: int, shape: str = "contour"
                       ) -> list[Detected]:
    """Faces (``parts == ("face",)``) or face parts, largest face first.

    Parameters
    ----------
    pyr : Pyramid
        The photo.
    detector : {"short", "full", "both", "tiled"}
        BlazeFace model(s); "tiled" adds the full-range model on tiles (:func:`tiled_faces`).
    parts : tuple of str
        Members of :data:`PARTS`; each face gives one :class:`Detected` per part.
    confidence : float
        Detector score threshold in [0, 1].
    max_faces : int
        At most this many faces (the largest).
    shape : {"box", "contour"}
        The default mask shape recorded in each detection.
    """
    for part in parts:
        if part not in PARTS:
            raise ValueError(f"part must be one of {', '.join(PARTS)}; got {part!r}")
    if detector not in DETECTORS:
        raise ValueError(f"detector must be one of {', '.join(DETECTORS)}; got {detector!r}")
    if detector == "tiled":
        faces = tiled_faces(pyr, confidence=confidence)[:max_faces]
    else:
        faces = detect_faces(pyr, model=detector, min_score=confidence)[:max_faces]
    out: list[Detected] = []
    for det in faces:
        points = landmarks_from_detection(pyr, det).points
        for part in parts:
            contour = part_contour(points, part)
            if contour.is_empty:
                continue
            x0, y0, x1, y1 = contour.bounds
            if part == "face":
                bx = det.box
                x0, y0 = min(x0, bx[0]), min(y0, bx[1])
                x1, y1 = max(x1, bx[2]), max(y1, bx[3])
            w, h = pyr.size
            box = (max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1))
            out.append(Detected(_label(part), det.score, contour, box, shape))
    return out
