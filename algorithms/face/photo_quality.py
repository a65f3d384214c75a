"""Photo quality for skin analysis: face, size, pose, blur, exposure, light evenness.

Every measure is taken on the face, in a *native view*: the restored geometry (eyes level,
face centred) sampled at min(1, IPD / 256) of the restored size, i.e. at the photo's own
resolution when the face is smaller than in the restored image and at the restored
resolution when it is larger. Blur is judged where the skin algorithms look, and a small
face is not made to look blurred by upsampling.

Each measure maps to a goodness g in [0, 1] by a documented ramp whose midpoint (g = 0.5) is
the problem threshold; the score is ``100 * sqrt(min(g) * mean(g))`` (the geometric mean of
the worst and the average goodness), so one problem keeps the score at or under ~71 and a
photo with none scores above ~71. No face scores 0. ``multiple_faces`` is reported but does
not lower the score (the largest face is analysed).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import shapely

from algorithms.face.pose import head_pose
from algorithms.face.regions import feature_polygons
from algorithms.face.restore import RESTORED_SIZE
from algorithms.face.types import FaceGeometry, apply_affine

__all__ = ["PROBLEM_CODES", "THRESHOLDS", "QualityReport", "assess_quality", "native_view"]

# The codes a ``feedback.problems`` list may hold. All but the last are this module's; the
# last is an algorithm's own: ``low_resolution``, the photo has fewer pixels per millimetre
# on the face than the algorithm needs (its result's ``feedback.measures`` give
# ``needed_px_per_mm`` and ``actual_px_per_mm``; e.g. pores, algorithms/skin/pores.py).
PROBLEM_CODES = ("no_face", "multiple_faces", "face_too_small", "bad_pose", "blurry",
                 "under_exposed", "over_exposed", "uneven_light", "low_resolution")

THRESHOLDS = {
    "face_size_px": 256.0,       # face height (brow-top of the mesh to chin), original px
    "yaw_deg": 20.0,
    "pitch_deg": 20.0,
    "roll_deg": 45.0,
    "sharpness": 0.19,           # RMS Laplacian / mean gradient magnitude
    "highlight_level": 100.0,    # 99th percentile of max(R, G, B) over the face, 0-255
    "clipped_fraction": 0.05,    # share of face-skin pixels with a channel >= 250
    "evenness_stops": 0.75,      # |log2| of the left / right face-skin luminance ratio
}
# Ramps: value at g = 0 and at g = 1 (the threshold is the midpoint).
_SIZE_RAMP = (64.0, 1024.0)         # on a log scale
_SHARP_RAMP = (0.09, 0.29)
_HIGHLIGHT_RAMP = (50.0, 150.0)
_CLIP_MAX = 0.10
_EVEN_MAX = 1.5
_SIDES = ("cheek", "under_eye", "crows_feet", "nasolabial")


@dataclass(frozen=True)
class QualityReport:
    has_face: bool
    face_count: int
    score: float
    problems: tuple[str, ...]
    measures: dict = field(default_factory=dict)   # raw values (None without a face)
    goodness: dict = field(default_factory=dict)   # per measure, 0-1

    def feedback(self) -> dict:
        return {"problems": list(self.problems), "has_face": self.has_face,
                "face_count": self.face_count,
                "measures": {k: (round(v, 4) if isinstance(v, float) else v)
                             for k, v in self.measures.items()},
                "goodness": {k: round(v, 3) for k, v in self.goodness.items()},
                "thresholds": dict(THRESHOLDS)}


def _ramp(v: float, lo: float, hi: float) -> float:
    return float(min(1.0, max(0.0, (v - lo) / (hi - lo))))


def native_view(image: np.ndarray, face: FaceGeometry) -> tuple[np.ndarray, float]:
    """The face in restored geometry at min(1, IPD / 256) of the restored size.

    Returns (view, k): view pixels = restored pixels * k.
    """
    m = face.restored.from_original
    s = math.sqrt(abs(np.linalg.det(m[:, :2])))      # restored px per original px
    if s <= 1.0:            # the face is larger than in the restored image: use that
        return face.restored.image, 1.0
    size = max(16, int(round(RESTORED_SIZE / s)))
    k = size / RESTORED_SIZE
    to_orig = face.restored.to_original @ np.diag([1 / k, 1 / k, 1.0])
    idx = to_orig.copy()
    idx[:, 2] = to_orig[:, :2] @ [0.5, 0.5] + to_orig[:, 2] - 0.5
    view = cv2.warpAffine(image, idx, (size, size), flags=cv2.INTER_LINEAR
                          | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
    return view, k


def _mask(geom, shape, k: float) -> np.ndarray:
    m = np.zeros(shape[:2], np.uint8)
    rings = []
    for poly in getattr(geom, "geoms", [geom]):
        if poly.is_empty or poly.geom_type != "Polygon":
            continue
        for ring in (poly.exterior, *poly.interiors):
            rings.append(np.round((np.asarray(ring.coords) * k - 0.5) * 16).astype(np.int32))
    if rings:
        cv2.fillPoly(m, rings, 1, cv2.LINE_8, 4)
    return m.astype(bool)


def _linear(rgb: np.ndarray) -> np.ndarray:
    c = rgb.astype(np.float32) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return lin @ np.array([0.2126, 0.7152, 0.0722], np.float32)


def _face_height(face: FaceGeometry) -> float:
    pts = face.landmarks_restored[:468]
    s = math.sqrt(abs(np.linalg.det(face.restored.from_original[:, :2])))
    return float(np.ptp(pts[:, 1]) / s)


def _sharpness(gray: np.ndarray, mask: np.ndarray) -> float:
    """RMS of the 4-neighbour Laplacian over the mean 3x3 Sobel gradient magnitude.

    Both grow with contrast, so their ratio does not; it falls as edges widen (about as
    1 / edge width), so it measures blur in pixels of the view.
    """
    g = gray.astype(np.float32)
    lap = cv2.Laplacian(g, cv2.CV_32F, ksize=1)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    inner = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    if inner.sum() < 50:
        inner = mask
    grad = float(np.mean(np.hypot(gx, gy)[inner]))
    if grad < 1e-3:
        return 0.0
    return float(np.sqrt(np.mean(lap[inner] ** 2)) / grad)


def assess_quality(image: np.ndarray, face: FaceGeometry | None) -> QualityReport:
    """Quality of ``image`` (original RGB uint8) for skin analysis of ``face``.

    ``face`` is ``analyse_face(image)``, or None when it raised NoFaceError.

    Examples
    --------
    >>> report = assess_quality(photo, analyse_face(photo))          # doctest: +SKIP
    >>> report.problems, round(report.score)                         # doctest: +SKIP
    (('face_too_small',), 34)
    """
    if face is None:
        return QualityReport(False, 0, 0.0, ("no_face",), {"face_count": 0}, {})
    view, k = native_view(np.ascontiguousarray(image), face)
    oval_pts = apply_affine(face.restored.from_original, face.landmarks)
    oval = _mask(feature_polygons(oval_pts)["face_oval"], view.shape, k)
    skin = _mask(face.regions["face_skin"], view.shape, k)
    if skin.sum() < 20:
        skin = oval
    gray = cv2.cvtColor(view, cv2.COLOR_RGB2GRAY)
    vmax = view.max(axis=2)
    lum = _linear(view)
    sides = {}
    for side in ("left", "right"):
        g = shapely.union_all([face.regions[f"{side}_{n}"] for n in _SIDES])
        m = _mask(g, view.shape, k)
        sides[side] = float(np.median(lum[m])) if m.sum() >= 10 else float("nan")
    # A face reloaded from a cache may lack the pose: recompute it (from 2D if need be).
    yaw, pitch, roll = (face.pose if face.pose is not None
                        else head_pose(face.landmarks, face.landmarks_z))
    measures = {
        "face_count": int(face.face_count),
        "face_size_px": _face_height(face),
        "yaw_deg": float(yaw), "pitch_deg": float(pitch), "roll_deg": float(roll),
        "sharpness": _sharpness(gray, oval),
        "highlight_level": float(np.percentile(vmax[oval], 99)) if oval.any() else 0.0,
        "clipped_fraction": float(np.mean(vmax[skin] >= 250)) if skin.any() else 0.0,
        "median_skin_luminance": float(np.median(lum[skin])) if skin.any() else 0.0,
        "evenness_stops": (abs(math.log2(max(sides["left"], 1e-4) / max(sides["right"], 1e-4)))
                           if all(math.isfinite(v) for v in sides.values()) else 0.0),
        "px_per_mm": float(face.px_per_mm),
    }
    t = THRESHOLDS
    lo, hi = _SIZE_RAMP
    pose_ratio = max(abs(yaw) / t["yaw_deg"], abs(pitch) / t["pitch_deg"],
                     abs(roll) / t["roll_deg"])
    goodness = {
        "face_size": _ramp(math.log(max(measures["face_size_px"], 1.0)), math.log(lo),
                           math.log(hi)),
        "pose": max(0.0, 1.0 - 0.5 * pose_ratio ** 2),
        "sharpness": _ramp(measures["sharpness"], *_SHARP_RAMP),
        "exposure": min(_ramp(measures["highlight_level"], *_HIGHLIGHT_RAMP),
                        1.0 - _ramp(measures["clipped_fraction"], 0.0, _CLIP_MAX)),
        "evenness": 1.0 - _ramp(measures["evenness_stops"], 0.0, _EVEN_MAX),
    }
    problems = []
    if face.face_count > 1:
        problems.append("multiple_faces")
    if measures["face_size_px"] < t["face_size_px"]:
        problems.append("face_too_small")
    if pose_ratio > 1.0:
        problems.append("bad_pose")
    if measures["sharpness"] < t["sharpness"]:
        problems.append("blurry")
    if measures["highlight_level"] < t["highlight_level"]:
        problems.append("under_exposed")
    if measures["clipped_fraction"] > t["clipped_fraction"]:
        problems.append("over_exposed")
    if measures["evenness_stops"] > t["evenness_stops"]:
        problems.append("uneven_light")
    g = list(goodness.values())
    score = 100.0 * math.sqrt(min(g) * (sum(g) / len(g)))
    return QualityReport(True, int(face.face_count), float(score), tuple(problems), measures,
                         goodness)
