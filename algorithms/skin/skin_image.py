"""The restored face ready for analysis: :class:`SkinImage` and :func:`prepare`.

:func:`prepare` does the per-face work every algorithm shares (linear light, CIELAB around
the face, region masks, chromophore maps, the skin mask) once per
:class:`~algorithms.face.types.FaceGeometry` and keeps it while that face lives (a weak
per-face cache).

Everything works on the *restored* face (fixed size, eyes level, ``px_per_mm`` known), and
every size is given in millimetres and converted with the face's own scale, so the same face
photographed at 1024 px or 4096 px is measured alike.
"""
from __future__ import annotations

import math
import threading
import weakref
from dataclasses import dataclass, field
from typing import Sequence

import cv2
import numpy as np
import torch

from algorithms.device import get_device
from algorithms.face.types import FaceGeometry, NoFaceError
from algorithms.skin.areas import AREA_MIN_MM2, AREA_REGIONS, CM2
from algorithms.skin.chromophores import chromophore_indices
from algorithms.skin.colour import linear_from_uint8, rgb_to_lab, to_tensor
from algorithms.skin.geometry import disc, rasterise
from algorithms.skin.mask import BORDER_BAND_MM, SkinMask, compute_skin_mask
from algorithms.skin.surface import surface_slope

__all__ = ["SkinImage", "prepare", "require_face", "SATURATION_LOW", "SATURATION_HIGH",
           "PREPARE_MARGIN_MM", "features_by_area"]

SATURATION_LOW, SATURATION_HIGH = 3, 250  # 8-bit channel values outside: clipped


def require_face(face: FaceGeometry | None) -> FaceGeometry:
    if face is None:
        raise NoFaceError("no face found: this algorithm needs one")
    return face


@dataclass(eq=False)
class SkinImage:
    """The restored face ready for analysis; built once per face by :func:`prepare`.

    It refers to its face weakly: the per-face cache maps a face to its SkinImage, and a
    strong reference back would keep every face (and its 40-85 MB of maps) alive for ever.
    """

    face_ref: "weakref.ReferenceType[FaceGeometry]"
    linear: torch.Tensor         # (3, H, W) linear light, on the device
    lab: torch.Tensor            # (3, H, W) CIELAB
    px_per_mm: float
    _masks: dict = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    @property
    def face(self) -> FaceGeometry:
        face = self.face_ref()
        if face is None:  # only reachable by keeping a SkinImage past its face's request
            raise RuntimeError("this SkinImage outlived its face")
        return face

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.linear.shape[-2:])  # type: ignore[return-value]

    @property
    def rgb(self) -> torch.Tensor:
        """(3, H, W) sRGB [0, 1] (made on first use: the measures work on linear light)."""
        if "_rgb" not in self._masks:
            self._masks["_rgb"] = to_tensor(self.face.restored.image, self.linear.device)
        return self._masks["_rgb"]

    def px(self, mm: float) -> float:
        """Millimetres -> restored pixels."""
        return float(mm) * self.px_per_mm

    def px2_to_cm2(self, px2: float) -> float:
        return float(px2) / (self.px_per_mm ** 2) / CM2

    def mask(self, names: Sequence[str]) -> np.ndarray:
        """Union of the named regions as a bool mask, clipped to the skin mask (see
        :mod:`algorithms.skin.mask`), without saturated pixels (see :attr:`measurable`)."""
        key = tuple(sorted(set(names)))
        with self._lock:
            if key not in self._masks:
                regions = self.face.regions
                m = np.zeros(self.shape, bool)
                for n in key:
                    if n in regions:
                        if ("region", n) not in self._masks:  # each region drawn once
                            self._masks[("region", n)] = rasterise(regions[n], self.shape)
                        m |= self._masks[("region", n)]
                if "face_skin" not in key:
                    m &= self.skin_mask.mask  # no hair, brows, eyes, lips, nostrils, background
                m &= self.measurable
                m.setflags(write=False)
                self._masks[key] = m
            return self._masks[key]

    @property
    def measurable(self) -> np.ndarray:
        """Pixels with no channel clipped (all within SATURATION_LOW..SATURATION_HIGH): a
        clipped channel has lost its colour and its texture (specular highlights, over-
        exposure), so such pixels are left out of every measurement."""
        if "_measurable" not in self._masks:
            img = self.face.restored.image
            m = ((img.max(axis=2) <= SATURATION_HIGH) & (img.min(axis=2) >= SATURATION_LOW))
            m.setflags(write=False)
            self._masks["_measurable"] = m
        return self._masks["_measurable"]

    @property
    def face_skin(self) -> np.ndarray:
        if "face_skin" not in self._masks:
            g = self.face.regions.get("face_skin")
            m = rasterise(g, self.shape) if g is not None else np.ones(self.shape, bool)
            m.setflags(write=False)
            self._masks["face_skin"] = m
        return self._masks["face_skin"]

    @property
    def skin_mask(self) -> SkinMask:
        """The face's :class:`~algorithms.skin.mask.SkinMask` (computed once)."""
        with self._lock:
            if "_skin" not in self._masks:
                self._masks["_skin"] = compute_skin_mask(
                    self.face, self.lab[0].cpu().numpy(), self.haemoglobin.cpu().numpy(),
                    self.melanin.cpu().numpy(), self.measurable)
            return self._masks["_skin"]

    def finding_zone(self, names: Sequence[str], *, colour: bool = False) -> np.ndarray:
        """Where findings of the named regions may lie: :meth:`mask` without the skin
        mask's border band, and without specular highlights for colour findings."""
        m = self.mask(names) & self.skin_mask.core
        return m & self.skin_mask.colour if colour else m

    @property
    def surface_slope(self) -> np.ndarray:
        """The face surface's depth gradient per pixel, ``(H, W, 2)`` (computed once; see
        :func:`algorithms.skin.surface.surface_slope`)."""
        with self._lock:
            if "_slope" not in self._masks:
                slope = surface_slope(self.face, self.shape)
                slope.setflags(write=False)
                self._masks["_slope"] = slope
            return self._masks["_slope"]

    @property
    def colour_core(self) -> np.ndarray:
        """The skin mask's colour part without BORDER_BAND_MM of its edge (computed once):
        where a colour finding's centre may lie. Beside a patch the colour part leaves out
        (highlights, alae, columella, lash corners) a colour filter sees that patch's edge:
        the nostril sill's red rim, a highlight's half-clipped halo."""
        sm = self.skin_mask
        with self._lock:
            if "_colour_core" not in self._masks:
                band = disc(BORDER_BAND_MM * self.px_per_mm)
                core = cv2.erode(sm.colour.astype(np.uint8), band).astype(bool)
                core.setflags(write=False)
                self._masks["_colour_core"] = core
            return self._masks["_colour_core"]

    def area_mask(self, area: str) -> np.ndarray:
        return self.mask(AREA_REGIONS[area])

    def area_visible(self, area: str) -> bool:
        """Whether at least AREA_MIN_MM2 of the reported ``area`` is there to measure."""
        return self.area_mask(area).sum() / self.px_per_mm ** 2 >= AREA_MIN_MM2

    @property
    def haemoglobin(self) -> torch.Tensor:
        """Haemoglobin index map (see :func:`chromophore_indices`), computed once."""
        if "_hb" not in self._masks:
            self._masks["_hb"], self._masks["_mel"] = chromophore_indices(None, self.linear)
        return self._masks["_hb"]

    @property
    def melanin(self) -> torch.Tensor:
        """Melanin index map (see :func:`chromophore_indices`), computed once."""
        self.haemoglobin  # noqa: B018 - computes both
        return self._masks["_mel"]


PREPARE_MARGIN_MM = 25.0  # > 3 x the widest background blur (6 mm) + its halving
_CACHE: "weakref.WeakKeyDictionary[FaceGeometry, SkinImage]" = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def prepare(face: FaceGeometry) -> SkinImage:
    """The :class:`SkinImage` of ``face`` (computed once, shared by every algorithm)."""
    with _CACHE_LOCK:
        skin = _CACHE.get(face)
        device = get_device()
        if skin is None or skin.linear.device != device:
            lin = linear_from_uint8(face.restored.image, device)
            # CIELAB only around the face: every zone, with its widest background, lies in
            # the face outline grown by PREPARE_MARGIN_MM; the rest stays 0
            img_h, img_w = lin.shape[-2:]
            outline = face.regions.get("face_skin")
            lab = torch.zeros_like(lin)
            if outline is not None and not outline.is_empty:
                margin = PREPARE_MARGIN_MM * float(face.restored.px_per_mm)
                x0, y0, x1, y1 = outline.buffer(margin).bounds
                ys = slice(max(int(y0), 0), min(int(math.ceil(y1)), img_h))
                xs = slice(max(int(x0), 0), min(int(math.ceil(x1)), img_w))
                lab[:, ys, xs] = rgb_to_lab(None, lin[:, ys, xs])
            else:
                lab = rgb_to_lab(None, lin)
            skin = SkinImage(face_ref=weakref.ref(face), linear=lin, lab=lab,
                             px_per_mm=float(face.restored.px_per_mm))
            _CACHE[face] = skin
        return skin


def features_by_area(points: np.ndarray, skin: SkinImage, areas: Sequence[str]
                     ) -> dict[str, np.ndarray]:
    """For ``(N, 2)`` x, y points: area name -> bool array of the points inside it."""
    h, w = skin.shape
    if len(points) == 0:
        return {a: np.zeros(0, bool) for a in areas}
    xi = np.clip(np.floor(points[:, 0]).astype(int), 0, w - 1)
    yi = np.clip(np.floor(points[:, 1]).astype(int), 0, h - 1)
    return {a: skin.area_mask(a)[yi, xi] for a in areas}
