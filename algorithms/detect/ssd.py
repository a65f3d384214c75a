"""MediaPipe's single-shot detectors (palm, pose): letterboxed input, anchors, decoding.

Pre- and post-processing follow MediaPipe's ``*_detection_cpu.pbtxt`` graphs: the whole
photo letterboxed into the square model input, SSD anchors from ``SsdAnchorsCalculator``
(fixed size, one extra interpolated anchor per location), boxes and keypoints decoded
relative to the anchors, sigmoid scores, weighted non-maximum suppression (the face layer's
implementation). Results come back in photo pixels.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from algorithms import model_files
from algorithms.face.detection import _weighted_nms
from algorithms.face.roi import Pyramid, Roi, crop

__all__ = ["SsdSpec", "SsdDetection", "run_ssd", "PALM", "POSE"]


@dataclass(frozen=True)
class SsdSpec:
    model: str
    size: int
    strides: tuple[int, ...]
    keypoints: int
    value_range: tuple[float, float]     # input pixel range the model was trained on


PALM = SsdSpec("palm_detection", 192, (8, 16, 16, 16), 7, (0.0, 1.0))
POSE = SsdSpec("pose_detection", 224, (8, 16, 32, 32, 32), 4, (-1.0, 1.0))


@dataclass(frozen=True, eq=False)
class SsdDetection:
    box: tuple[float, float, float, float]     # x0, y0, x1, y1, photo pixels
    score: float
    keypoints: np.ndarray                       # (K, 2) photo pixels


@lru_cache(maxsize=None)
def anchors(size: int, strides: tuple[int, ...]) -> np.ndarray:
    """Anchor centres (N, 2), normalised, in SsdAnchorsCalculator's order."""
    out = []
    i = 0
    while i < len(strides):
        j = i
        per_location = 0
        while j < len(strides) and strides[j] == strides[i]:
            per_location += 2
            j += 1
        n = math.ceil(size / strides[i])
        ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        out.append(np.repeat(np.stack([xs.ravel(), ys.ravel()], axis=1), per_location, axis=0))
        i = j
    return np.concatenate(out)


def run_ssd(pyr: Pyramid, spec: SsdSpec, *, min_score: float) -> list[SsdDetection]:
    """Detections of ``spec``'s model on the whole photo, best first."""
    w0, h0 = pyr.size
    side = max(w0, h0)
    canvas, m = crop(pyr, Roi(w0 / 2, h0 / 2, side, side), spec.size, spec.size,
                     border=cv2.BORDER_CONSTANT)
    lo, hi = spec.value_range
    tensor = (canvas.astype(np.float32) * ((hi - lo) / 255.0) + lo)[None]
    raw_boxes, raw_scores = model_files.run(spec.model, tensor)
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(-1).astype(np.float64), -100, 100)))
    keep = np.flatnonzero(scores >= min_score)
    if keep.size == 0:
        return []
    width = 4 + 2 * spec.keypoints
    raw = raw_boxes.reshape(-1, width)[keep].astype(np.float64) / spec.size
    anc = anchors(spec.size, spec.strides)[keep]
    cx, cy = raw[:, 0] + anc[:, 0], raw[:, 1] + anc[:, 1]
    bw, bh = raw[:, 2], raw[:, 3]
    boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
    kps = raw[:, 4:].reshape(-1, spec.keypoints, 2) + anc[:, None, :]
    out = []
    for box, score, kp in _weighted_nms(boxes, scores[keep], kps):
        corners = np.array([[box[0], box[1]], [box[2], box[3]]]) * spec.size
        corners = corners @ m[:, :2].T + m[:, 2]
        kp_px = (kp * spec.size) @ m[:, :2].T + m[:, 2]
        x0, x1 = sorted(corners[:, 0])
        y0, y1 = sorted(corners[:, 1])
        out.append(SsdDetection((float(x0), float(y0), float(x1), float(y1)), score, kp_px))
    return sorted(out, key=lambda d: -d.score)
