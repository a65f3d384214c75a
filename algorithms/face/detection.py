"""Face detection: MediaPipe's BlazeFace models (short and full range) run with LiteRT.

Pre- and post-processing follow MediaPipe's ``face_detection_*_range.pbtxt``: the whole
image letterboxed into a square model input (128 px short range, 192 px full range) scaled
to [-1, 1]; SSD anchors; boxes and six keypoints decoded from the regressors; sigmoid scores;
*weighted* non-maximum suppression (overlapping boxes are averaged, weighted by score).

The input is sampled bilinearly, as MediaPipe does, but from a reduced copy of the photo
(:class:`~algorithms.face.roi.Pyramid`, area-averaged halvings, at most 4x finer than the
input), so a 12 MP photo costs a few milliseconds and does not alias; a 512 px photo gets
exactly MediaPipe's input. Detections come back in the original photo's pixels.

Short range is trained for faces filling a good part of the frame (selfies, portraits);
full range for smaller faces further away. ``model="auto"`` (the default) runs short range
and falls back to full range when it finds nothing. An upright face is expected: when
nothing is found, the image is also tried turned by 90, 270 and 180 degrees, and a face
found tilted is detected again in a crop turned upright (:func:`_upright`). Detections are
confirmed by the landmark model (``verify``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from algorithms import model_files
from algorithms.face.landmark_model import PRESENCE_THRESHOLD, face_presence
from algorithms.face.roi import Pyramid, Roi, crop
from algorithms.face.types import KEYPOINT_NAMES, Detection

__all__ = ["Detection", "detect_faces", "KEYPOINT_NAMES"]

@dataclass(frozen=True)
class _Spec:
    model: str
    size: int
    strides: tuple[int, ...]
    interpolated: bool      # one extra anchor per location (interpolated scale)


_SPECS = {
    "short": _Spec("face_detection_short_range", 128, (8, 16, 16, 16), True),
    "full": _Spec("face_detection_full_range", 192, (4,), False),
}
MIN_SCORE = 0.5
TILT_ANGLE = 30.0   # degrees: re-detect turned faces above this eye-line tilt
NMS_IOU = 0.3


@lru_cache(maxsize=None)
def _anchors(kind: str) -> np.ndarray:
    """SSD anchor centres (N, 2), normalised, MediaPipe's SsdAnchorsCalculator order."""
    spec = _SPECS[kind]
    out = []
    i = 0
    strides = spec.strides
    while i < len(strides):
        j = i
        per_location = 0
        while j < len(strides) and strides[j] == strides[i]:
            per_location += 2 if spec.interpolated else 1
            j += 1
        n = math.ceil(spec.size / strides[i])
        ys, xs = np.meshgrid((np.arange(n) + 0.5) / n, (np.arange(n) + 0.5) / n, indexing="ij")
        centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(centres, per_location, axis=0))
        i = j
    return np.concatenate(out)


def _input(pyr: Pyramid, size: int, turn: int) -> tuple[np.ndarray, np.ndarray]:
    """The photo letterboxed into a size x size model input, turned ``turn`` x 90 degrees.

    MediaPipe's ImageToTensor with ``keep_aspect_ratio``: the whole image padded to a square
    (zeros), sampled bilinearly, here from a reduced copy when the photo is large. Returns
    the input and the 2x3 matrix from input pixels to original pixels.
    """
    w0, h0 = pyr.size
    side = max(w0, h0)
    roi = Roi(w0 / 2, h0 / 2, side, side, turn * math.pi / 2)
    return crop(pyr, roi, size, size, border=cv2.BORDER_CONSTANT)


def _decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, kind: str, min_score: float):
    spec = _SPECS[kind]
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(-1).astype(np.float64), -100, 100)))
    keep = np.flatnonzero(scores >= min_score)
    if keep.size == 0:
        return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 6, 2))
    raw = raw_boxes.reshape(-1, 16)[keep] / spec.size
    anchors = _anchors(kind)[keep]
    cx = raw[:, 0] + anchors[:, 0]
    cy = raw[:, 1] + anchors[:, 1]
    w, h = raw[:, 2], raw[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
    kps = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
    return boxes, scores[keep], kps


def _area(b: np.ndarray) -> np.ndarray:
    return np.clip(b[..., 2] - b[..., 0], 0, None) * np.clip(b[..., 3] - b[..., 1], 0, None)


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Intersection over union of one (4,) box with (N, 4) boxes (x0, y0, x1, y1)."""
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    union = _area(box) + _area(boxes) - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def _weighted_nms(boxes, scores, kps, iou_threshold=NMS_IOU):
    """MediaPipe's WEIGHTED non-max suppression: average each cluster, weighted by score."""
    order = np.argsort(-scores, kind="stable")
    boxes, scores, kps = boxes[order], scores[order], kps[order]
    remaining = np.arange(len(scores))
    out = []
    while remaining.size:
        top = remaining[0]
        sim = _iou(boxes[top], boxes[remaining])
        members = remaining[sim > iou_threshold]
        if members.size == 0:
            members = remaining[:1]
        wts = scores[members][:, None]
        box = (boxes[members] * wts).sum(0) / wts.sum()
        kp = (kps[members] * wts[:, :, None]).sum(0) / wts.sum()
        out.append((box, float(scores[top]), kp))
        remaining = remaining[sim <= iou_threshold]
        remaining = remaining[remaining != top]
    return out


def _run(pyr: Pyramid, kind: str, turn: int, min_score: float) -> list[Detection]:
    canvas, m = _input(pyr, _SPECS[kind].size, turn)
    return _detections(canvas, m, kind, min_score)


def _detections(canvas: np.ndarray, m: np.ndarray, kind: str, min_score: float):
    """Run detector ``kind`` on a model input; ``m`` maps its pixels to original pixels."""
    spec = _SPECS[kind]
    tensor = (canvas.astype(np.float32) * (2.0 / 255.0) - 1.0)[None]
    raw_boxes, raw_scores = model_files.run(spec.model, tensor)
    boxes, scores, kps = _decode(raw_boxes, raw_scores, kind, min_score)
    dets = []
    for box, score, kp in _weighted_nms(boxes, scores, kps):
        # model-normalised -> model-input pixels -> original pixels
        corners = np.array([[box[0], box[1]], [box[2], box[3]]]) * spec.size
        corners = corners @ m[:, :2].T + m[:, 2]
        kp_px = (kp * spec.size) @ m[:, :2].T + m[:, 2]
        x0, x1 = sorted(corners[:, 0])
        y0, y1 = sorted(corners[:, 1])
        dets.append(Detection((float(x0), float(y0), float(x1), float(y1)), score, kp_px, kind))
    return dets


def _eye_angle(det: Detection) -> float:
    (x0, y0), (x1, y1) = det.keypoints[0], det.keypoints[1]
    return math.degrees(math.atan2(y1 - y0, x1 - x0))


def _upright(pyr: Pyramid, det: Detection, min_score: float) -> Detection:
    """Re-detect a tilted face in a crop turned to make it upright.

    BlazeFace is trained on upright faces: on a face turned 90 degrees it still fires, but
    its eye keypoints can be 40 degrees off. When the eye line is tilted more than
    TILT_ANGLE, the face's surroundings (twice the box) are cropped turned by the quarter
    turns on either side of the tilt and detected again; the best-scoring detection that
    overlaps the original replaces it.
    """
    tilt = _eye_angle(det)
    if abs(tilt) <= TILT_ANGLE:
        return det
    spec = _SPECS["short"]
    side = 2.0 * max(det.width, det.height)
    cx, cy = (det.box[0] + det.box[2]) / 2, (det.box[1] + det.box[3]) / 2
    best = det
    for q in {math.floor(tilt / 90), math.ceil(tilt / 90)}:
        if q == 0:
            continue
        canvas, m = crop(pyr, Roi(cx, cy, side, side, math.radians(90 * q)), spec.size,
                         spec.size, border=cv2.BORDER_CONSTANT)
        for d in _detections(canvas, m, "short", min_score):
            if d.score > best.score and _iou(np.array(det.box), np.array([d.box]))[0] > 0.3:
                best = d
    return best


def _verified(pyr: Pyramid, dets: list[Detection]) -> list[Detection]:
    return [d for d in dets if face_presence(pyr, d) >= PRESENCE_THRESHOLD]


def detect_faces(image: np.ndarray | Pyramid, *, model: str = "auto",
                 min_score: float = MIN_SCORE, try_rotations: bool = True,
                 verify: bool = True) -> list[Detection]:
    """Faces in an RGB uint8 photo, largest first, in original pixel coordinates.

    Parameters
    ----------
    image : (H, W, 3) uint8 array or Pyramid
        The photo (grey and RGBA are accepted too).
    model : {"auto", "short", "full", "both"}
        BlazeFace short range, full range, both (duplicates merged) or "auto": short, then
        full range when short finds nothing.
    min_score : float
        Detector score threshold (MediaPipe's default 0.5).
    try_rotations : bool
        When nothing is found upright, try the photo turned by 90, 270 and 180 degrees;
        the first turn that finds a face wins.
    verify : bool
        Keep only detections that the landmark model also calls a face (presence >= 0.5).
        The detectors fire now and then on round things (a mug scores 0.55-0.63 when
        turned); the check costs one 192 px landmark pass (~1.5 ms) per detection.

    Examples
    --------
    >>> from skimage import data
    >>> [round(d.score, 2) for d in detect_faces(data.astronaut())]   # doctest: +SKIP
    [0.92]
    """
    pyr = image if isinstance(image, Pyramid) else Pyramid(_as_rgb(image))
    kinds = {"auto": ("short", "full"), "short": ("short",), "full": ("full",),
             "both": ("short", "full")}
    if model not in kinds:
        raise ValueError(f"model must be one of {', '.join(kinds)}; got {model!r}")
    turns = (0, 1, -1, 2) if try_rotations else (0,)
    for turn in turns:
        found: list[Detection] = []
        for kind in kinds[model]:
            found += _run(pyr, kind, turn, min_score)
            if found and model == "auto":
                break
        if model == "both":
            found = _merge(found)
        if found and verify:
            found = _verified(pyr, found)
        if found:
            found = [_upright(pyr, d, min_score) for d in found]
            return sorted(found, key=lambda d: -d.area)
    return []


def _merge(dets: list[Detection]) -> list[Detection]:
    """Drop a detection that overlaps a kept one (IoU > NMS_IOU).

    Short-range detections are kept first: they are what MediaPipe's face mesh starts from,
    so a face both models find gets MediaPipe's ROI. Then by score.
    """
    kept: list[Detection] = []
    for d in sorted(dets, key=lambda d: (d.model != "short", -d.score)):
        b = np.array(d.box)
        if not kept or _iou(b, np.array([k.box for k in kept])).max() <= NMS_IOU:
            kept.append(d)
    return kept


def _as_rgb(image: np.ndarray) -> np.ndarray:
    img = np.asarray(image)
    if img.ndim == 2:
        img = np.repeat(img[:, :, None], 3, axis=2)
    if img.ndim != 3 or img.shape[2] not in (3, 4):
        raise ValueError(f"expected an RGB image (H, W, 3); got shape {img.shape}")
    if img.shape[2] == 4:
        img = img[:, :, :3]
    if img.dtype != np.uint8:
        raise ValueError(f"expected uint8 pixels; got {img.dtype}")
    return np.ascontiguousarray(img)
