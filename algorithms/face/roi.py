"""Rotated regions of interest, model-input crops and the image pyramid.

Coordinates follow MediaPipe's: a point's pixel coordinate is its normalised coordinate times
the image size (x right, y down). A :class:`Roi` is a rotated rectangle in those pixels; its
crop maps the rectangle's corners onto the corners of a model input, as MediaPipe's
``ImageToTensorCalculator`` does, so our crops (and hence landmarks) match MediaPipe's.

Large photos are not sampled at full resolution into a small crop (bilinear sampling from
far above the output size aliases): :class:`Pyramid` halves the image with area averaging
(``cv2.INTER_AREA`` at factor 2 is a fast 2x2 box filter) and a crop samples the finest
level at most :data:`MAX_DOWNSAMPLE` times finer than itself.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Roi", "Pyramid", "roi_from_points", "crop", "MAX_DOWNSAMPLE"]

# A crop samples bilinearly (as MediaPipe does) from the finest pyramid level at most this
# many times finer than the crop: MediaPipe's own crops of a 512 px photo or of a portrait's
# face use the full image (identical results), a 12 MP photo is first reduced.
MAX_DOWNSAMPLE = 4.0


@dataclass(frozen=True)
class Roi:
    """A rectangle of ``width`` x ``height`` pixels centred on (cx, cy), turned by ``angle``.

    ``angle`` is in radians, clockwise on screen (y points down), MediaPipe's ``rotation``.
    """

    cx: float
    cy: float
    width: float
    height: float
    angle: float = 0.0

    def crop_to_image(self, out_w: int, out_h: int) -> np.ndarray:
        """2x3 affine: crop pixel (u, v) in [0, out_w] x [0, out_h] -> image pixel."""
        c, s = math.cos(self.angle), math.sin(self.angle)
        sx, sy = self.width / out_w, self.height / out_h
        return np.array([
            [c * sx, -s * sy, self.cx - c * self.width / 2 + s * self.height / 2],
            [s * sx, c * sy, self.cy - s * self.width / 2 - c * self.height / 2],
        ])

    def scaled(self, fx: float, fy: float | None = None) -> "Roi":
        """The same rectangle in an image resized by (fx, fy)."""
        fy = fx if fy is None else fy
        return Roi(self.cx * fx, self.cy * fy, self.width * fx, self.height * fy, self.angle)

    def corners(self) -> np.ndarray:
        m = self.crop_to_image(1, 1)
        uv = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], dtype=np.float64)
        return uv @ m[:, :2].T + m[:, 2]


def roi_from_points(p0, p1, box, *, scale: float, square_long: bool = True,
                    target_angle: float = 0.0) -> Roi:
    """MediaPipe's DetectionsToRects + RectTransformation.

    The rectangle is ``box`` (x0, y0, x1, y1, pixels) turned so that the line ``p0 -> p1``
    is at ``target_angle``, made square on its longer side and scaled by ``scale``.
    """
    x0, y0, x1, y1 = box
    angle = _normalize(target_angle - math.atan2(-(p1[1] - p0[1]), p1[0] - p0[0]))
    w, h = x1 - x0, y1 - y0
    if square_long:
        w = h = max(w, h)
    return Roi((x0 + x1) / 2, (y0 + y1) / 2, w * scale, h * scale, angle)


def _normalize(a: float) -> float:
    return a - 2 * math.pi * math.floor((a + math.pi) / (2 * math.pi))


class Pyramid:
    """The image and its successive halvings (area-averaged), built lazily."""

    def __init__(self, image: np.ndarray):
        self.levels = [image]
        self.memo: dict = {}        # per-photo results reused by several steps

    @property
    def image(self) -> np.ndarray:
        return self.levels[0]

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.levels[0].shape[:2]
        return w, h

    def level(self, i: int) -> np.ndarray:
        while len(self.levels) <= i:
            prev = self.levels[-1]
            h, w = prev.shape[:2]
            if min(h, w) < 2:
                return prev
            self.levels.append(cv2.resize(prev, (w // 2, h // 2), interpolation=cv2.INTER_AREA))
        return self.levels[i]

    def for_scale(self, scale: float, max_downsample: float = MAX_DOWNSAMPLE
                  ) -> tuple[np.ndarray, float, float]:
        """The finest level at most ``max_downsample`` times finer than ``scale``.

        ``scale`` is the output's resolution (output px per original px). Returns (level
        image, fx, fy): the level's size over the original's, per axis.
        """
        w0, h0 = self.size
        i = 0
        while True:
            w, h = w0 >> i, h0 >> i
            if min(w, h) < 4 or min(w / w0, h / h0) <= max_downsample * scale:
                break
            i += 1
        lvl = self.level(i)
        return lvl, lvl.shape[1] / w0, lvl.shape[0] / h0


def crop(pyramid: Pyramid, roi: Roi, out_w: int, out_h: int, *,
         border: int = cv2.BORDER_REPLICATE, flip: bool = False,
         max_downsample: float = MAX_DOWNSAMPLE) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``roi`` (original pixels) into an ``out_w`` x ``out_h`` image.

    Returns (crop, matrix) where ``matrix`` (2x3) maps crop coordinates (of model outputs)
    to original pixels. With ``flip`` the crop is mirrored left-right as MediaPipe's iris
    graph mirrors it: the pixels by index (``cv::flip``, column i <- column w-1-i) and the
    coordinates by x -> w - x. The two differ by one crop pixel; the iris model was trained
    in that pipeline, and following it brings our irises closer to MediaPipe's (0.35 instead
    of 0.62 px mean on the astronaut).
    """
    m = roi.crop_to_image(out_w, out_h)
    # Original px per output px; choose a pyramid level with at least the output resolution.
    scale = min(out_w / max(roi.width, 1e-6), out_h / max(roi.height, 1e-6))
    lvl, fx, fy = pyramid.for_scale(scale, max_downsample)
    ml = np.array([[fx, 0.0], [0.0, fy]]) @ m
    out = cv2.warpAffine(lvl, ml, (out_w, out_h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                         borderMode=border)
    if flip:
        out = np.ascontiguousarray(out[:, ::-1])
        m = m @ np.array([[-1.0, 0.0, out_w], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    return out, m
