"""People: MediaPipe's pose detector for where each person is, selfie segmentation for the
silhouette.

The pose detector (BlazePose's, ``pose_detection.tflite``) finds a person by the head and
gives four keypoints: the hips' midpoint and a point on the circle holding the whole body
(and the same two for the upper body). MediaPipe's pose graph takes the body's region as the
square around the hips' midpoint with half-side the circle's radius, enlarged 1.25x; we use
its axis-aligned bounds (clipped to the photo) as the person's region.

The silhouette is the selfie segmentation model (256 x 256, the whole photo letterboxed) at
probability 0.5, upsampled bilinearly before the threshold so its edges are smooth, and
vectorised (OpenCV contours with holes -> shapely). Each person's shape is the pieces of
the silhouette that overlap their region most; their box is that shape's bounds. Where the silhouette is empty (the
model is trained for people near the camera, and misses small, distant ones) the region
itself is the shape.
"""
from __future__ import annotations

import math

import cv2
import numpy as np
from shapely.geometry import Polygon, box as shapely_box
from shapely.ops import unary_union

from algorithms import model_files
from algorithms.detect.ssd import POSE, run_ssd
from algorithms.detect.types import Detected
from algorithms.face.roi import Pyramid, Roi, crop

__all__ = ["detect_persons", "silhouette"]

SEGMENTATION_SIZE = 256
REGION_SCALE = 1.25
CONTOUR_SIDE = 1024      # the silhouette is traced at most this many pixels across
MIN_AREA_FRACTION = 0.002  # silhouette pieces smaller than this share of the photo are noise


def silhouette(pyr: Pyramid, *, threshold: float = 0.5):
    """The selfie-segmentation silhouette of the whole photo as shapely geometry (photo px)."""
    w0, h0 = pyr.size
    side = max(w0, h0)
    n = SEGMENTATION_SIZE
    canvas, _ = crop(pyr, Roi(w0 / 2, h0 / 2, side, side), n, n, border=cv2.BORDER_CONSTANT)
    (prob,) = model_files.run("selfie_segmentation", (canvas.astype(np.float32) / 255.0)[None])
    prob = prob.reshape(n, n)
    # the photo's part of the letterbox, upsampled to at most CONTOUR_SIDE across
    s = n / side
    x0, y0 = (side - w0) / 2 * s, (side - h0) / 2 * s
    trace = min(1.0, CONTOUR_SIDE / side)
    tw, th = max(1, round(w0 * trace)), max(1, round(h0 * trace))
    # map trace pixel centres to letterbox coordinates and sample bilinearly
    f = (w0 / tw) * s
    m = np.array([[f, 0, x0 + 0.5 * f - 0.5], [0, f, y0 + 0.5 * f - 0.5]], np.float64)
    up = cv2.warpAffine(prob.astype(np.float32), m, (tw, th),
                        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                        borderMode=cv2.BORDER_REPLICATE)
    binary = (up >= threshold).astype(np.uint8)
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return Polygon()
    scale = w0 / tw
    min_area = MIN_AREA_FRACTION * w0 * h0
    polys = []
    for i, c in enumerate(contours):
        if hierarchy[0][i][3] != -1 or len(c) < 3:
            continue                      # holes are handled with their outer ring
        outer = (c.reshape(-1, 2) + 0.5) * scale
        holes = []
        child = hierarchy[0][i][2]
        while child != -1:
            if len(contours[child]) >= 3:
                holes.append((contours[child].reshape(-1, 2) + 0.5) * scale)
            child = hierarchy[0][child][0]
        poly = Polygon(outer, holes).buffer(0)
        if poly.area >= min_area:
            polys.append(poly)
    return unary_union(polys) if polys else Polygon()


def _region(det, size) -> tuple[float, float, float, float]:
    (hx, hy), (cx, cy) = det.keypoints[0], det.keypoints[1]
    r = math.hypot(cx - hx, cy - hy) * REGION_SCALE
    w, h = size
    bx = det.box
    return (max(0.0, min(hx - r, bx[0])), max(0.0, min(hy - r, bx[1])),
            min(float(w), max(hx + r, bx[2])), min(float(h), max(hy + r, bx[3])))


def detect_persons(pyr: Pyramid, *, confidence: float, max_persons: int) -> list[Detected]:
    """People in the photo, most confident first: box and silhouette.

    Each connected piece of the silhouette goes to the person whose region overlaps it most
    (whole, not clipped to the region: a kicking leg reaches past it).
    """
    found = run_ssd(pyr, POSE, min_score=confidence)[:max_persons]
    if not found:
        return []
    body = silhouette(pyr)
    regions = [shapely_box(*_region(det, pyr.size)) for det in found]
    pieces: list[list] = [[] for _ in found]
    for piece in getattr(body, "geoms", [body]):
        if piece.is_empty:
            continue
        overlaps = [piece.intersection(r).area for r in regions]
        best = int(np.argmax(overlaps))
        if overlaps[best] > 0:
            pieces[best].append(piece)
    out = []
    for det, region, mine in zip(found, regions, pieces):
        shape = unary_union(mine) if mine else region
        out.append(Detected("person", det.score, shape, tuple(shape.bounds), "contour"))
    return out
