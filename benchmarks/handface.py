"""A hand-made :class:`FaceGeometry` from two eye centres: no models involved.

For unit tests and development of the skin algorithms without the face layer's models. The
restored image is the photo warped by the similarity that puts the eyes level at 63 mm apart
(4 px/mm, 1024x1024), and the regions are a fixed template in millimetres around the eyes
(an average adult face; good enough to test the algorithms' mechanics, not to replace the
landmark-driven regions of ``algorithms.face``). Landmarks are left empty (zeros).

Eye positions of the test photos were read off by hand (original pixels, the subject's
right eye first, i.e. the one on the image's left).
"""
from __future__ import annotations

import cv2
import numpy as np
from shapely.geometry import Polygon, box
from shapely.ops import unary_union

from algorithms.face.types import FaceGeometry, Restored

__all__ = ["face_from_eyes", "EYES", "SIZE", "PX_PER_MM", "IPD_MM"]

SIZE = 1024
PX_PER_MM = 4.0
IPD_MM = 63.0
EYE_Y = 400.0  # restored row of the eyes

# (subject's right eye, subject's left eye) in original pixels of each test photo.
EYES = {
    "astronaut": ((205.0, 101.0), (246.0, 104.0)),   # skimage data.astronaut(), 512 px
    "london_006": ((570.0, 622.0), (780.0, 627.0)),
    "london_021": ((574.0, 536.0), (780.0, 536.0)),
    "london_042": ((542.0, 552.0), (762.0, 567.0)),
}


def _poly(points_mm, cx, cy):
    pts = [(cx + x * PX_PER_MM, cy + y * PX_PER_MM) for x, y in points_mm]
    return Polygon(pts)


def _mirror(points_mm):
    return [(-x, y) for x, y in points_mm]


def template_regions(cx: float = SIZE / 2, cy: float = EYE_Y) -> dict:
    """Region polygons (restored px) around the eye midpoint ``(cx, cy)``; x in mm to the
    image's right, y down. The subject's left is the image's right."""
    forehead = [(-42, -22), (-30, -48), (0, -55), (30, -48), (42, -22), (12, -20), (-12, -20)]
    glabella = [(-10, -20), (10, -20), (8, -6), (-8, -6)]
    nose = [(-7, -4), (7, -4), (15, 34), (9, 40), (-9, 40), (-15, 34)]
    # subject's right side (image left); mirrored for the left
    under_eye = [(-44, 9), (-20, 9), (-17, 20), (-30, 24), (-44, 19)]
    crows = [(-62, -10), (-49, -6), (-48, 12), (-60, 16)]
    cheek = [(-58, 20), (-20, 24), (-17, 38), (-25, 55), (-50, 58), (-60, 40)]
    nasolabial = [(-17, 40), (-12, 44), (-22, 68), (-28, 66)]
    perioral = [(-22, 50), (22, 50), (24, 80), (-24, 80)]
    chin = [(-20, 88), (20, 88), (16, 105), (0, 110), (-16, 105)]
    regions = {
        "forehead": _poly(forehead, cx, cy), "glabella": _poly(glabella, cx, cy),
        "nose": _poly(nose, cx, cy),
        "right_under_eye": _poly(under_eye, cx, cy),
        "left_under_eye": _poly(_mirror(under_eye), cx, cy),
        "right_crows_feet": _poly(crows, cx, cy),
        "left_crows_feet": _poly(_mirror(crows), cx, cy),
        "right_cheek": _poly(cheek, cx, cy), "left_cheek": _poly(_mirror(cheek), cx, cy),
        "right_nasolabial": _poly(nasolabial, cx, cy),
        "left_nasolabial": _poly(_mirror(nasolabial), cx, cy),
        "chin": _poly(chin, cx, cy),
    }
    mouth = _poly([(-24, 60), (24, 60), (24, 76), (-24, 76)], cx, cy)
    regions["perioral"] = _poly(perioral, cx, cy).difference(mouth)
    regions["face_skin"] = unary_union(list(regions.values())).intersection(
        box(0, 0, SIZE, SIZE))
    return regions


def face_from_eyes(image: np.ndarray, right_eye, left_eye) -> FaceGeometry:
    """Build a FaceGeometry for ``image`` given the subject's eye centres (original px)."""
    (x1, y1), (x2, y2) = right_eye, left_eye
    dist = float(np.hypot(x2 - x1, y2 - y1))
    scale = IPD_MM * PX_PER_MM / dist
    angle = float(np.arctan2(y2 - y1, x2 - x1))
    c, s = np.cos(-angle) * scale, np.sin(-angle) * scale
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    fwd = np.array([[c, -s, SIZE / 2 - (c * mx - s * my)],
                    [s, c, EYE_Y - (s * mx + c * my)]])
    inv = cv2.invertAffineTransform(fwd)
    src, warp = np.ascontiguousarray(image), fwd
    if scale < 0.8:  # shrink with area averaging first: warpAffine would alias
        h0, w0 = image.shape[:2]
        src = cv2.resize(src, (round(w0 * scale), round(h0 * scale)), interpolation=cv2.INTER_AREA)
        pre = np.diag([src.shape[1] / w0, src.shape[0] / h0])
        warp = fwd.copy()
        warp[:, :2] = fwd[:, :2] @ np.linalg.inv(pre)
    # maps are in continuous pixel coordinates (pixel i spans [i, i + 1)); OpenCV indexes
    # pixel centres at integers
    idx = warp.copy()
    idx[:, 2] = warp[:, :2] @ [0.5, 0.5] + warp[:, 2] - 0.5
    restored = cv2.warpAffine(src, idx, (SIZE, SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
    h, w = image.shape[:2]
    return FaceGeometry(
        image_size=(w, h), landmarks=np.zeros((478, 2)),
        box=(mx - 1.2 * dist, my - 1.3 * dist, mx + 1.2 * dist, my + 2.0 * dist),
        detection_score=1.0, face_count=1, px_per_mm=dist / IPD_MM,
        restored=Restored(image=restored, to_original=inv, from_original=fwd,
                          px_per_mm=PX_PER_MM),
        regions=template_regions())
