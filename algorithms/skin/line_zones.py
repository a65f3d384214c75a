"""Where a wrinkle can be and which way it runs: anatomy bands and line zones.

Two things the lines algorithm needs from the face's anatomy (docs/algorithms.md#lines):

* :func:`anatomy_bands`: a mask of the places where a dark valley is the outline of a feature
  and not a wrinkle: bands of ANATOMY_BAND_MM around the face oval, the sides of the nose and
  the alae, the lip margin, the eyelid margins, the brows' edges, the philtrum columns
  (contour polylines of the mesh) and the mentolabial sulcus (filled);
* :func:`classify`: the zone of a line (forehead, glabella, crows_feet, under_eye,
  nasolabial, marionette, perioral, cheek, chin) from where its middle lies, and whether its
  direction fits the zone's orientation prior (:data:`ORIENTATION`): forehead lines run
  across, glabellar frown lines up and down, perioral lines at right angles to the lips,
  nasolabial folds obliquely from the ala to the mouth corner. A line against its zone's
  prior is hair, a crease of the photo or anatomy, not a wrinkle of that zone;
* :func:`typed`: the lines that are wrinkles, with their type: in a zone, along its prior,
  smooth, no longer than the zone holds, and no hair (not hugging hair or background, not
  hair-coloured, not poorer in blood than the skin beside it); on the cheek, not running
  along the face's turn where it faces more than 60 degrees away from the camera
  (:func:`algorithms.skin.surface.surface_slope`, from the landmark mesh's depth), nor, where
  it faces more than 35 degrees away, a bend of the turn's shading: a valley along the turn
  whose receding side is no lighter than it (a fold is a minimum of light across it).

Example
-------
>>> orientation_fits("forehead", 10.0), orientation_fits("forehead", 80.0)
(True, False)
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Mapping

import cv2
import numpy as np
import torch
from shapely.geometry import LineString

from algorithms.face import indices as ix
from algorithms.skin.colour import log_luminance
from algorithms.skin.surface import FORESHORTENED_SLOPE

if TYPE_CHECKING:
    from algorithms.skin.skin_image import SkinImage

__all__ = ["LINE_TYPES", "REGION_TYPE", "ORIENTATION", "MAX_LENGTH_MM", "ANATOMY_BAND_MM",
           "anatomy_bands", "classify", "orientation_fits", "line_angle",
           "typed"]

LINE_TYPES = ("forehead", "glabella", "crows_feet", "under_eye", "nasolabial", "marionette",
              "perioral", "cheek", "chin")
# Allowed |angle from horizontal| in degrees (y down, 0 = across the face, 90 = up-down).
ORIENTATION: Mapping[str, tuple[float, float]] = {
    "forehead": (0.0, 35.0),      # transverse forehead lines
    "glabella": (45.0, 90.0),     # vertical frown lines ("11s")
    "crows_feet": (0.0, 65.0),    # fanning out from the outer eye corner
    "under_eye": (0.0, 45.0),     # along the lower lid, the tear trough obliquely
    "nasolabial": (35.0, 88.0),   # ala to mouth corner
    "marionette": (45.0, 90.0),   # mouth corner down to the jaw
    "perioral": (45.0, 90.0),     # at right angles to the lip margin
    "cheek": (0.0, 90.0),         # sleep and cheek lines run any way
    "chin": (0.0, 40.0),          # chin creases run across (the mentolabial sulcus is a band)
}
# Longest wrinkle a zone holds (mm): a cheek "line" running from temple to jaw is the edge
# of a hair strand or of the cheek's shading, not a wrinkle.
MAX_LENGTH_MM: Mapping[str, float] = {
    "forehead": 120.0, "glabella": 25.0, "crows_feet": 30.0, "under_eye": 40.0,
    "nasolabial": 60.0, "marionette": 40.0, "perioral": 20.0, "cheek": 35.0, "chin": 40.0,
}
ANATOMY_BAND_MM = 2.5

REGION_TYPE = {
    "forehead": "forehead", "glabella": "glabella", "left_crows_feet": "crows_feet",
    "right_crows_feet": "crows_feet", "left_under_eye": "under_eye",
    "right_under_eye": "under_eye", "left_nasolabial": "nasolabial",
    "right_nasolabial": "nasolabial", "perioral": "perioral", "left_cheek": "cheek",
    "right_cheek": "cheek", "chin": "chin",
}
# Subject's right side chains (the left side is mirrored).
_NOSE_SIDE = (193, 245, 128, 47, 126, 209, 129, 64, 98, 97, 2)  # nasofacial groove to ala
_ALA = (129, 49, 48, 219, 218, 237, 44, 1)                       # alar rim and crease
_PHILTRUM = (0, 164, 2)
# the mentolabial sulcus, between the lower lip and the chin's prominence: a fold of the
# chin's shape at any age (filled: both its edges and the crease between them)
_MENTOLABIAL = (194, 83, 18, 313, 418, 421, 200, 201)


def _chains() -> list[tuple[tuple[int, ...], bool]]:
    """(mesh index chain, closed) of every contour whose valley is anatomy."""
    out = [(ix.FACE_OVAL, True), (ix.LIPS_OUTER, True), (ix.RIGHT_EYE, True),
           (ix.LEFT_EYE, True), (ix.RIGHT_BROW, True), (ix.LEFT_BROW, True),
           (ix.RIGHT_NOSTRIL, True), (ix.LEFT_NOSTRIL, True), (_PHILTRUM, False),
           (_MENTOLABIAL, True)]
    for chain in (_NOSE_SIDE, _ALA):
        out += [(chain, False), (ix.mirror_indices(chain), False)]
    return out


def anatomy_bands(points: np.ndarray, px_per_mm: float, shape) -> np.ndarray:
    """Bool mask of the bands around the anatomy contours (empty without a mesh)."""
    band = np.zeros(shape, np.uint8)
    if not ix.has_mesh(points):
        return band.astype(bool)
    thickness = max(int(round(2 * ANATOMY_BAND_MM * px_per_mm)), 1)
    for chain, closed in _chains():
        pts = np.round(np.asarray(points)[list(chain)] * 16).astype(np.int32)
        cv2.polylines(band, [pts], closed, 1, thickness=thickness, lineType=cv2.LINE_8,
                      shift=4)
        if chain == _MENTOLABIAL:
            cv2.fillPoly(band, [pts], 1, cv2.LINE_8, 4)
    return band.astype(bool)


# Cheek lines where the face turns away (FORESHORTENED_SLOPE, algorithms.skin.surface) and
# running along the turn are the outline's shading, not folds of the skin.
SLOPE_TYPES = ("cheek",)
ALONG_TURN_COS = 0.5     # within 30 degrees of the depth contour: runs along the turn
# A fold is a groove, a minimum of light across it: the skin rises again on both sides.
# Where the face turns away the shading darkens towards the outline, and a bend of that
# shading reads as a valley with one shoulder only, the one facing the camera
# (docs/algorithms.md#lines).
KNEE_SLOPE = math.tan(math.radians(35.0))   # the face turns more than 35 degrees away ...
SHOULDER_MM = 1.0                           # ... and the receding side, this far out,
KNEE_SHOULDER = 0.0                         # is no lighter than the line (share of its depth)
SHOULDER_BLUR_MM = 0.3                      # (ln Y smoothed this much: pores, noise)


def _turn(line: LineString, grad: np.ndarray) -> tuple[np.ndarray, float, bool]:
    """``(median depth gradient, its length, whether the line runs along the turn)``: within
    30 degrees of the depth contour."""
    g = np.median(grad, axis=0)
    n = float(np.hypot(*g))
    xy = np.asarray(line.coords, float)
    d = xy[-1] - xy[0]
    return g, n, abs(float(d @ g)) <= ALONG_TURN_COS * n * (float(np.hypot(*d)) + 1e-9)


def _follows_the_turn(line: LineString, grad: np.ndarray) -> bool:
    """Whether a line lies where the surface turns away (median slope over
    FORESHORTENED_SLOPE) and runs along that turn (within 30 degrees of the depth contour):
    the shading of the face's curve, or hair falling along it."""
    _, n, along = _turn(line, grad)
    return n > FORESHORTENED_SLOPE and along


def _middle(line: LineString) -> np.ndarray:
    """17 points along the middle 80 % of a line, (x, y)."""
    return np.asarray([line.interpolate(t, normalized=True).coords[0]
                       for t in np.linspace(0.1, 0.9, 17)])


def _shoulder(skin: "SkinImage", xy: np.ndarray, toward: np.ndarray) -> float:
    """How much ln Y rises from a line (points ``xy`` along its middle) to one side, the
    side the vectors ``toward`` (one per point) point to: the median, over the points, of
    ln Y SHOULDER_MM beside the line minus ln Y on it (smoothed by SHOULDER_BLUR_MM; point
    by point, as the shading also changes along the line)."""
    mm = skin.px_per_mm
    d = np.gradient(xy, axis=0)
    d /= np.linalg.norm(d, axis=1, keepdims=True) + 1e-9
    nrm = np.stack([-d[:, 1], d[:, 0]], 1)
    nrm *= np.where(np.sum(nrm * toward, axis=1) >= 0, 1.0, -1.0)[:, None]
    pad = (SHOULDER_MM + 4 * SHOULDER_BLUR_MM) * mm + 2
    h, w = skin.shape
    x0, y0 = (max(int(v - pad), 0) for v in xy.min(axis=0))
    x1, y1 = (int(v + pad) + 1 for v in xy.max(axis=0))
    x1, y1 = min(x1, w), min(y1, h)
    lny = cv2.GaussianBlur(log_luminance(skin.linear[:, y0:y1, x0:x1]).cpu().numpy()
                           .astype(np.float32), (0, 0), SHOULDER_BLUR_MM * mm)

    def at(p):
        xi = np.clip(p[:, 0].astype(int) - x0, 0, x1 - x0 - 1)
        yi = np.clip(p[:, 1].astype(int) - y0, 0, y1 - y0 - 1)
        return lny[yi, xi]

    return float(np.median(at(xy + SHOULDER_MM * mm * nrm) - at(xy)))


def _shading_knee(skin: "SkinImage", line: LineString, slope: np.ndarray,
                  depth_ln: float) -> bool:
    """Whether a line is the knee of the shading where the face turns away: over its middle
    80 % the surface turns more than 35 degrees from the camera (KNEE_SLOPE), the line runs
    along the turn and the skin on its receding side (where the depth gradient points) does
    not rise again 1 mm out: the line is no minimum of light across it."""
    xy = _middle(line)
    h, w = skin.shape
    g, n, along = _turn(line, slope[np.clip(xy[:, 1].astype(int), 0, h - 1),
                                    np.clip(xy[:, 0].astype(int), 0, w - 1)])
    if n <= KNEE_SLOPE or not along:
        return False
    return _shoulder(skin, xy, np.broadcast_to(g, xy.shape)) < KNEE_SHOULDER * depth_ln


def line_angle(line: LineString) -> float:
    """|angle| of a line's principal direction from horizontal, 0-90 degrees."""
    xy = np.asarray(line.coords, float)
    if len(xy) < 2:
        return 0.0
    d = xy - xy.mean(axis=0)
    _, _, vt = np.linalg.svd(d, full_matrices=False)
    dx, dy = vt[0]
    a = abs(math.degrees(math.atan2(dy, dx))) % 180.0
    return min(a, 180.0 - a)


def orientation_fits(line_type: str, angle: float) -> bool:
    lo, hi = ORIENTATION[line_type]
    return lo <= angle <= hi


def classify(centre: tuple[float, float], region_masks: Mapping[str, np.ndarray],
             points: np.ndarray) -> str | None:
    """The line type of a line whose middle is ``centre`` (x, y), or None outside the
    zones. Perioral lines below the mouth corners and beside them are marionette lines."""
    h, w = next(iter(region_masks.values())).shape
    x, y = int(min(max(centre[0], 0), w - 1)), int(min(max(centre[1], 0), h - 1))
    for region, line_type in REGION_TYPE.items():
        m = region_masks.get(region)
        if m is not None and m[y, x]:
            if line_type == "perioral" and ix.has_mesh(points):
                (rx, ry), (lx, ly) = (points[i] for i in ix.MOUTH_CORNERS)
                below = centre[1] > max(ry, ly)
                beside = centre[0] < rx + 0.15 * (lx - rx) or centre[0] > lx - 0.15 * (lx - rx)
                if below and beside:
                    return "marionette"
            return line_type
    return None


HAIR_LINE_Z = 4.0  # colour z-score of hair (less blood, more melanin than the cheeks);
                   # drawn wrinkles stay below 3.4 (99th percentile): a shadow moves neither
BLOOD_DROP_MAX = -1.5  # a line with this much less haemoglobin than the skin beside it is
                       # a hair (drawn wrinkles: 5th percentile 0.0)
BLOOD_SHARE = 0.15     # ... and more than this share of the line's own depth (a deep
                       # shadow's colour is off by a few % of its depth: rounding, resampling)
INDEX_PER_OD = 100.0 / math.log(10.0)   # chromophore index units per unit optical density
BLOOD_SIDE_MM = 1.5


def _blood_contrast(skin: "SkinImage", line) -> float:
    """Median haemoglobin index on the line minus beside it (BLOOD_SIDE_MM either side)."""
    hb = skin.haemoglobin
    xy = np.asarray([line.interpolate(t, normalized=True).coords[0]
                     for t in np.linspace(0.1, 0.9, 17)])
    d = np.gradient(xy, axis=0)
    d /= np.linalg.norm(d, axis=1, keepdims=True) + 1e-9
    nrm = np.stack([-d[:, 1], d[:, 0]], 1) * skin.px(BLOOD_SIDE_MM)
    h, w = skin.shape

    def at(p):
        x = np.clip(p[:, 0].astype(int), 0, w - 1)
        y = np.clip(p[:, 1].astype(int), 0, h - 1)
        return hb[torch.from_numpy(y), torch.from_numpy(x)].cpu().numpy()

    return float(np.median(at(xy) - 0.5 * (at(xy + nrm) + at(xy - nrm))))


HAIR_HUG_MM = 3.0  # a line whose middle half runs this close to hair is the hair's edge


def _distance_to_hair(skin: "SkinImage") -> np.ndarray:
    """Distance (px) of each pixel to the nearest hair, beard or background pixel."""
    sm = skin.skin_mask
    other = (sm.hair | ~sm.person).astype(np.uint8)
    if not other.any():
        return np.full(skin.shape, np.inf, np.float32)
    return cv2.distanceTransform(1 - other, cv2.DIST_L2, 3)


STRAIGHTNESS_MIN = 0.75  # end-to-end distance / length: wrinkles are smooth arcs (a 120 degree
                         # arc keeps 0.83), hair curls and texture zig-zags


def typed(lines: list[dict], skin: "SkinImage", points: np.ndarray, slope=None) -> list[dict]:
    """The ``lines`` (dicts with ``line``, ``centre`` and ``depth_ln``, as
    :func:`algorithms.skin.lines.detect` gives them) that are wrinkles, each with its
    ``type``: see the module doc."""
    regions = {r: skin.mask((r,)) for r in REGION_TYPE}
    hair_dist = _distance_to_hair(skin)
    hair_chroma = skin.skin_mask.hair_chroma
    out = []
    for ln in lines:
        line = ln["line"]
        xy = np.asarray([line.interpolate(t, normalized=True).coords[0]
                         for t in np.linspace(0, 1, 9)])
        yi = np.clip(xy[:, 1].astype(int), 0, skin.shape[0] - 1)
        xi = np.clip(xy[:, 0].astype(int), 0, skin.shape[1] - 1)
        if np.median(hair_dist[yi, xi]) < skin.px(HAIR_HUG_MM):
            continue  # runs along the edge of hair or background: a strand's outline
        ends = np.asarray(line.coords)[[0, -1]]
        if np.linalg.norm(ends[1] - ends[0]) < STRAIGHTNESS_MIN * max(line.length, 1e-9):
            continue
        kind = classify(ln["centre"], regions, points)
        if kind is None or not orientation_fits(kind, line_angle(line)):
            continue
        if kind in SLOPE_TYPES and slope is not None and (
                _follows_the_turn(line, slope[yi, xi])
                or _shading_knee(skin, line, slope, ln["depth_ln"])):
            continue  # the face's turn: its shading, or the knee of that shading
        if line.length > skin.px(MAX_LENGTH_MM[kind]):
            continue
        if (kind != "under_eye" and hair_chroma is not None
                and np.median(hair_chroma[yi, xi]) > HAIR_LINE_Z):
            # less blood and more melanin than skin, not only darker: a hair (under the
            # eyes skin itself is browner: dark circles are not hair)
            continue
        if _blood_contrast(skin, line) < min(BLOOD_DROP_MAX,
                                             -BLOOD_SHARE * INDEX_PER_OD * ln["depth_ln"]):
            continue  # less blood than the skin beside it: a hair, not a fold of that skin
        out.append({**ln, "type": kind})
    return out
