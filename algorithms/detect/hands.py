"""Hands: MediaPipe's palm detector, then its 21 hand landmarks; the mask is their hull.

Follows MediaPipe's hand landmark graph in static-image mode: the palm detector (192 px,
whole photo letterboxed, inputs in [0, 1]) gives a palm box and seven keypoints; the hand's
ROI is that box turned so the wrist (keypoint 0) -> middle-finger base (keypoint 2) line
points up, shifted half its height towards the fingers, made square and enlarged 2.6x
(``palm_detection_detection_to_roi``); ``hand_landmark_full`` reads 21 points from that ROI
(224 px, [0, 1]) and a presence score. A hand's shape is the convex hull of its 21 points
widened by a finger's half-width (the points are joint centres, so the bare hull would cut
the finger edges); its box is that shape's bounds.
"""
from __future__ import annotations

import math

import numpy as np
from shapely.geometry import MultiPoint

from algorithms import model_files
from algorithms.detect.ssd import PALM, run_ssd
from algorithms.detect.types import Detected
from algorithms.face.roi import Pyramid, Roi, crop

__all__ = ["detect_hands", "hand_landmarks"]

LANDMARK_SIZE = 224
ROI_SCALE = 2.6
ROI_SHIFT_Y = -0.5
PRESENCE_THRESHOLD = 0.5
HALF_FINGER = 0.11       # of the wrist -> middle-finger base distance (~1 cm of ~9 cm)


def _roi(det, size) -> Roi:
    (wx, wy), (mx, my) = det.keypoints[0], det.keypoints[2]
    # MediaPipe's rotation: target 90 degrees minus the keypoints' angle (y up)
    angle = math.pi / 2 - math.atan2(-(my - wy), mx - wx)
    angle = angle - 2 * math.pi * math.floor((angle + math.pi) / (2 * math.pi))
    x0, y0, x1, y1 = det.box
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    cx += -h * ROI_SHIFT_Y * math.sin(angle)
    cy += h * ROI_SHIFT_Y * math.cos(angle)
    side = max(w, h) * ROI_SCALE
    return Roi(cx, cy, side, side, angle)


def hand_landmarks(pyr: Pyramid, roi: Roi) -> tuple[np.ndarray, float]:
    """(21, 2) landmarks in photo pixels and the hand-presence probability on ``roi``."""
    img, m = crop(pyr, roi, LANDMARK_SIZE, LANDMARK_SIZE)
    raw, presence, _handedness, _world = model_files.run(
        "hand_landmark", (img.astype(np.float32) / 255.0)[None])
    pts = raw.reshape(21, 3)[:, :2].astype(np.float64)
    p = float(presence.reshape(-1)[0])
    if not 0.0 <= p <= 1.0:            # a logit, in case a model variant answers one
        p = 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, p))))
    return pts @ m[:, :2].T + m[:, 2], p


def detect_hands(pyr: Pyramid, *, confidence: float, max_hands: int) -> list[Detected]:
    """Hands in the photo, most confident first: box and widened landmark hull."""
    out: list[Detected] = []
    w, h = pyr.size
    for det in run_ssd(pyr, PALM, min_score=confidence):
        if len(out) >= max_hands:
            break
        points, presence = hand_landmarks(pyr, _roi(det, pyr.size))
        if presence < PRESENCE_THRESHOLD:
            continue
        palm = float(np.hypot(*(points[9] - points[0])))
        shape = MultiPoint(points).convex_hull.buffer(max(1.0, HALF_FINGER * palm), quad_segs=8)
        if any(shape.intersection(d.contour).area > 0.5 * shape.area for d in out):
            continue                   # the same hand found twice
        x0, y0, x1, y1 = shape.bounds
        out.append(Detected("hand", det.score, shape,
                            (max(0.0, x0), max(0.0, y0), min(float(w), x1), min(float(h), y1)),
                            "contour"))
    return out
