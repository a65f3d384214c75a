"""The face at the photo's own resolution, for texture algorithms (pores; fine lines, acne).

Every skin algorithm sees the restored face (:mod:`algorithms.face.restore`): 1024 px, about
4 px/mm. That is enough for colour and area findings, not for texture: a pore of radius
0.2 mm is 0.8 px there, whatever the camera. :func:`native_view` cuts the regions an
algorithm needs from the ORIGINAL photo in the restored geometry (eyes level, same origin)
but at ``k`` times the restored scale::

    native px/mm = min(photo px/mm, cap)        k = native px/mm / restored px/mm

so native pixel coordinates are restored coordinates times ``k``. Findings made there are
divided by ``k`` (:meth:`NativeSkin.to_restored`) and the rest of the pipeline (restored ->
original mapping, rendering, per-area aggregation on the restored skin masks) is unchanged.

**The cap**, NATIVE_CAP_PX_PER_MM = 12 px/mm. A pore resolved at 1.5 px radius is then
0.125 mm, which covers the pores a person sees on a face: "visible" pores are 0.1-0.6 mm2
in area (radius 0.18-0.44 mm, Lee et al. 2016) and pore counting in clinical studies starts
at 250 um (Flament et al. 2015). Going finer would only add the invisible, normal follicle
openings (radius < 0.125 mm) at a cost that grows with the square of the scale (12 px/mm
is 9x the restored pixels; 20 px/mm would be 25x), and front cameras of phones rarely
deliver real detail beyond that at selfie distance (their optics and noise reduction blur
it). A photo finer than the cap is low-passed before sampling (no aliasing).

**The zone** (where findings may lie) is the restored face's skin-mask zone sampled at the
native pixels by nearest neighbour, exactly: native pixel (i, j) reads the restored pixel
containing its centre divided by ``k``. So a finding at a native pixel centre maps back to a
restored point inside a zone pixel, and the skin mask stays the one the other algorithms use.
Clipped native pixels (a channel outside 3..250) are left out too.

Views are cached per (face, zone key, scale) while the face lives (a weak reference to the
face, as :func:`algorithms.skin.skin_image.prepare` does: a strong one would keep every face
alive), at most MAX_VIEWS_PER_FACE per face.

Example
-------
>>> view = native_view(image, face, zone, key="pores")            # doctest: +SKIP
>>> view.px_per_mm, view.k, view.lightness.shape                   # doctest: +SKIP
(9.9, 2.47, torch.Size([1380, 1290]))
"""
from __future__ import annotations

import math
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from algorithms.device import get_device
from algorithms.face.types import FaceGeometry
from algorithms.skin.colour import LINEAR_LUT, Y_FROM_LINEAR

__all__ = ["NATIVE_CAP_PX_PER_MM", "NativeSkin", "native_px_per_mm", "native_view"]

NATIVE_CAP_PX_PER_MM = 12.0
MAX_VIEWS_PER_FACE = 4
SATURATION_LOW, SATURATION_HIGH = 3, 250   # as algorithms.skin.skin_image


def native_px_per_mm(face: FaceGeometry, cap: float = NATIVE_CAP_PX_PER_MM) -> float:
    """The scale a native view of ``face`` has: the photo's own, at most ``cap``."""
    return float(min(float(face.px_per_mm), float(cap)))


@dataclass(eq=False)
class NativeSkin:
    """A crop of the face at native resolution, in restored geometry scaled by ``k``."""

    face_ref: "weakref.ReferenceType[FaceGeometry]"
    k: float                   # native px per restored px
    px_per_mm: float           # scale of the view
    offset: tuple[int, int]    # (x0, y0): native pixel index of the crop's top-left pixel
    lightness: torch.Tensor    # (h, w) CIE L* of the crop, on the device
    zone: np.ndarray           # (h, w) bool: where findings may lie

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.zone.shape)  # type: ignore[return-value]

    def px(self, mm: float) -> float:
        return float(mm) * self.px_per_mm

    def px2_to_cm2(self, px2: float) -> float:
        return float(px2) / self.px_per_mm ** 2 / 100.0

    def to_restored(self, xy: np.ndarray) -> np.ndarray:
        """``(N, 2)`` continuous x, y in the crop -> restored pixel coordinates."""
        xy = np.asarray(xy, np.float64).reshape(-1, 2)
        return (xy + np.asarray(self.offset, np.float64)) / self.k


_CACHE: "weakref.WeakKeyDictionary[FaceGeometry, OrderedDict]" = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


def native_view(image: np.ndarray | None, face: FaceGeometry, zone: np.ndarray, key,
                cap: float = NATIVE_CAP_PX_PER_MM, margin_mm: float = 3.0) -> NativeSkin:
    """The native view of ``face`` over the restored bool mask ``zone`` (cached per
    ``(face, key, scale)``; ``key`` names the zone, e.g. the algorithm).

    ``image`` is the original photo the face was found in. When it is missing or not that
    photo's size, the restored image stands in (k = 1: no finer detail than restored).
    ``margin_mm`` of context is kept around the zone's bounding box (filters need it).
    """
    r_ppm = float(face.restored.px_per_mm)
    usable = image is not None and tuple(image.shape[1::-1]) == tuple(face.image_size)
    ppm = native_px_per_mm(face, cap) if usable else r_ppm
    k = ppm / r_ppm
    device = get_device()
    ck = (key, round(k, 6), str(device))
    with _LOCK:
        views = _CACHE.get(face)
        if views is not None and ck in views:
            views.move_to_end(ck)
            return views[ck]
    view = _build(image if usable else None, face, zone, k, ppm, margin_mm, device)
    with _LOCK:
        views = _CACHE.setdefault(face, OrderedDict())
        views[ck] = view
        while len(views) > MAX_VIEWS_PER_FACE:
            views.popitem(last=False)
    return view


def _build(image, face, zone, k, ppm, margin_mm, device) -> NativeSkin:
    rows = np.flatnonzero(zone.any(axis=1))
    cols = np.flatnonzero(zone.any(axis=0))
    if rows.size == 0:
        return NativeSkin(weakref.ref(face), k, ppm, (0, 0),
                          torch.zeros((0, 0), device=device), np.zeros((0, 0), bool))
    m = margin_mm * ppm
    x0 = max(int(math.floor(cols[0] * k - m)), 0)
    y0 = max(int(math.floor(rows[0] * k - m)), 0)
    x1 = int(math.ceil((cols[-1] + 1) * k + m))
    y1 = int(math.ceil((rows[-1] + 1) * k + m))
    w, h = x1 - x0, y1 - y0

    # zone at native pixels: the restored pixel holding each native pixel centre / k
    rr = np.clip(((np.arange(h) + 0.5 + y0) / k).astype(np.int64), 0, zone.shape[0] - 1)
    cc = np.clip(((np.arange(w) + 0.5 + x0) / k).astype(np.int64), 0, zone.shape[1] - 1)
    nzone = zone[np.ix_(rr, cc)]

    rgb = _sample(image, face, k, (x0, y0), (w, h))
    measurable = cv2.inRange(rgb, (SATURATION_LOW,) * 3, (SATURATION_HIGH,) * 3) > 0
    nzone = nzone & measurable
    nzone.setflags(write=False)
    lin = cv2.LUT(rgb, LINEAR_LUT)                             # (h, w, 3) float32
    y = cv2.transform(lin, np.asarray([Y_FROM_LINEAR], np.float32)).reshape(h, w)
    eps, kappa = 216 / 24389, 24389 / 27
    lightness = np.where(y > eps, 116.0 * np.cbrt(np.maximum(y, 1e-12)) - 16.0,
                         kappa * y).astype(np.float32)
    return NativeSkin(weakref.ref(face), k, ppm, (x0, y0),
                      torch.from_numpy(lightness).to(device), nzone)


def _sample(image, face, k, origin, size) -> np.ndarray:
    """The native crop ``size`` = (w, h) at native pixel ``origin``, RGB uint8."""
    x0, y0 = origin
    w, h = size
    if image is None:   # the restored image stands in (k == 1)
        src, to_src = face.restored.image, np.hstack([np.eye(2), np.zeros((2, 1))])
    else:
        src, to_src = image, face.restored.to_original
    lin, t = to_src[:, :2], to_src[:, 2]
    # native crop pixel index (x, y) -> centre (x + .5 + x0, y + .5 + y0) / k restored
    # -> source continuous -> source index (- 0.5)
    a = lin / k
    b = lin @ ((np.array([x0, y0], float) + 0.5) / k) + t - 0.5
    # source window: the crop's corners mapped, with a few pixels to spare
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], float) @ a.T + b
    pad = 4
    sx0 = max(int(math.floor(corners[:, 0].min())) - pad, 0)
    sy0 = max(int(math.floor(corners[:, 1].min())) - pad, 0)
    sx1 = min(int(math.ceil(corners[:, 0].max())) + pad + 1, src.shape[1])
    sy1 = min(int(math.ceil(corners[:, 1].max())) + pad + 1, src.shape[0])
    if sx1 <= sx0 or sy1 <= sy0:
        return np.zeros((h, w, 3), np.uint8)
    window = np.ascontiguousarray(src[sy0:sy1, sx0:sx1, :3])
    f = math.sqrt(abs(np.linalg.det(a)))   # source px per native px (>= 1 unless k == 1)
    if f > 1.05:  # low-pass before sampling coarser than the source: no aliasing
        window = cv2.GaussianBlur(window, (0, 0), 0.5 * math.sqrt(f * f - 1.0))
    m = np.hstack([a, (b - [sx0, sy0])[:, None]])
    return cv2.warpAffine(window, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)
