"""Anonymise a photo: blur, pixelate or fill what the detectors found. Pure NumPy / OpenCV.

Each detection is treated on its own, in the crop that holds its mask, so the work follows
the faces, not the photo. Sizes scale with each detection (``size`` = the longer side of its
box), so a 40 px face and a 2000 px face are hidden alike:

* the mask is the detection's shape (``shape="mask"``: face oval, silhouette) or its box
  (``shape="box"``), grown by ``padding`` x size, feathered outward over
  ``edge_softness`` x 0.25 x size pixels (:func:`~algorithms.detect.raster.local_mask`);
* ``blur``: a Gaussian of sigma ``blur_strength`` x 0.25 x size (computed on a reduced copy
  when sigma is large, then enlarged: the same look for a fraction of the cost), taken over
  the crop grown by three sigmas so the face's own pixels do not leak back in at the edge;
* ``pixelate``: cells of ``pixel_size`` px (default size / 8: 8 cells across a face) on the
  photo's grid, each the mean of its pixels (cells cut by the photo's edge: of what is in);
* ``fill``: one colour;
* ``detect``: nothing is changed (the caller wants the detections and masks only).

The result is ``photo * (1 - a) + effect * a`` with ``a`` the mask / 255, in integers, so every
pixel where all masks are 0 is returned **unchanged** (bit for bit).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from algorithms.detect.raster import local_mask
from algorithms.detect.types import Detected

__all__ = ["METHODS", "SHAPES", "AnonymiseOptions", "anonymise", "parse_color"]

METHODS = ("blur", "pixelate", "fill", "detect")
SHAPES = ("mask", "box")


def parse_color(text: str) -> tuple[int, int, int]:
    """``"#1a2b3c"`` or ``"1a2b3c"`` (or ``"#abc"``) -> (26, 43, 60); ValueError otherwise.

    >>> parse_color("#ff8000")
    (255, 128, 0)
    """
    t = text.strip().lstrip("#")
    if len(t) == 3:
        t = "".join(c * 2 for c in t)
    if len(t) != 6 or any(c not in "0123456789abcdefABCDEF" for c in t):
        raise ValueError(f"fill_color must be a hex colour like #000000; got {text!r}")
    return tuple(int(t[i:i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


@dataclass(frozen=True)
class AnonymiseOptions:
    """How to hide each detection (see the module docstring for the units)."""

    method: str = "blur"
    shape: str = "mask"
    blur_strength: float = 0.5
    pixel_size: int | None = None
    fill_color: tuple[int, int, int] = (0, 0, 0)
    edge_softness: float = 0.3
    padding: float = 0.1

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}; got {self.method!r}")
        if self.shape not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)}; got {self.shape!r}")
        for name, low, high in (("blur_strength", 0.0, 1.0), ("edge_softness", 0.0, 1.0),
                                ("padding", -0.4, 2.0)):
            value = getattr(self, name)
            if not low <= value <= high:
                raise ValueError(f"{name} must be between {low} and {high}; got {value}")
        if self.pixel_size is not None and not 1 <= self.pixel_size <= 1024:
            raise ValueError(f"pixel_size must be between 1 and 1024 px; got {self.pixel_size}")


def _size(det: Detected) -> float:
    x0, y0, x1, y1 = det.box
    return max(1.0, x1 - x0, y1 - y0)


def _blurred(image: np.ndarray, x0: int, y0: int, x1: int, y1: int, sigma: float) -> np.ndarray:
    """The crop [x0:x1, y0:y1] of ``image`` blurred with ``sigma`` (px)."""
    h, w = image.shape[:2]
    m = int(math.ceil(3 * sigma))
    ex0, ey0, ex1, ey1 = max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)
    region = image[ey0:ey1, ex0:ex1]
    factor = max(1.0, sigma / 3.0)
    if factor > 1.5:
        small = cv2.resize(region, (max(1, round(region.shape[1] / factor)),
                                    max(1, round(region.shape[0] / factor))),
                           interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), sigma / factor, borderType=cv2.BORDER_REPLICATE)
        out = cv2.resize(small, (region.shape[1], region.shape[0]),
                         interpolation=cv2.INTER_LINEAR)
    else:
        out = cv2.GaussianBlur(region, (0, 0), max(sigma, 0.1), borderType=cv2.BORDER_REPLICATE)
    return out[y0 - ey0:y1 - ey0, x0 - ex0:x1 - ex0]


def _pixelated(image: np.ndarray, x0: int, y0: int, x1: int, y1: int, cell: int) -> np.ndarray:
    """The crop [x0:x1, y0:y1] of ``image`` pixelated with cells of ``cell`` px on the photo's
    grid (cells start at multiples of ``cell``, so neighbouring detections share cells)."""
    h, w = image.shape[:2]
    ax0, ay0 = x0 // cell * cell, y0 // cell * cell
    ax1, ay1 = min(w, -(-x1 // cell) * cell), min(h, -(-y1 // cell) * cell)
    region = image[ay0:ay1, ax0:ax1]
    rh, rw = region.shape[:2]
    small = cv2.resize(region, (max(1, math.ceil(rw / cell)), max(1, math.ceil(rh / cell))),
                       interpolation=cv2.INTER_AREA)
    big = cv2.resize(small, (small.shape[1] * cell, small.shape[0] * cell),
                     interpolation=cv2.INTER_NEAREST)
    return big[y0 - ay0:y1 - ay0, x0 - ax0:x1 - ax0]


def anonymise(image: np.ndarray, detections: list[Detected], *,
              options: AnonymiseOptions = AnonymiseOptions()
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hide ``detections`` in an RGB uint8 ``image``.

    Returns
    -------
    picture : (H, W, 3) uint8
        The anonymised photo (a new array; the input is not modified).
    mask : (H, W) uint8
        Where it was changed, 0-255 (the union of the feathered masks).
    instances : (H, W) uint8
        Which detection each pixel belongs to: 0 none, i + 1 for ``detections[i]`` (the
        later one where two overlap; at most 255 detections are numbered).
    """
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"expected an (H, W, 3) uint8 image; got {image.dtype} {image.shape}")
    h, w = image.shape[:2]
    out = image.copy()
    union = np.zeros((h, w), np.uint8)
    instances = np.zeros((h, w), np.uint8)
    opts = options
    for index, det in enumerate(detections):
        size = _size(det)
        geometry = det.geometry("box" if opts.shape == "box" else "contour")
        local = local_mask([geometry], (w, h), padding=opts.padding * size,
                           blur=opts.edge_softness * 0.25 * size,
                           shape="box" if opts.shape == "box" else "contour")
        if local is None:
            continue
        x0, y0, a = local
        x1, y1 = x0 + a.shape[1], y0 + a.shape[0]
        np.maximum(union[y0:y1, x0:x1], a, out=union[y0:y1, x0:x1])
        if index < 255:
            instances[y0:y1, x0:x1][a > 0] = index + 1
        if opts.method == "detect":
            continue
        crop = out[y0:y1, x0:x1]
        if opts.method == "blur":
            effect = _blurred(out, x0, y0, x1, y1, max(0.5, opts.blur_strength * 0.25 * size))
        elif opts.method == "pixelate":
            effect = _pixelated(out, x0, y0, x1, y1,
                                opts.pixel_size or max(2, round(size / 8)))
        else:
            effect = np.empty_like(crop)
            effect[...] = opts.fill_color
        alpha = a.astype(np.uint16)[..., None]
        mixed = (crop.astype(np.uint16) * (255 - alpha) + effect.astype(np.uint16) * alpha
                 + 127) // 255
        crop[...] = mixed.astype(np.uint8)       # a == 0 gives the pixel back exactly
    return out, union, instances
