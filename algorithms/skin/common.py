"""Shared building blocks of the skin algorithms.

* colour: sRGB -> linear RGB -> CIELAB (D65), as torch ops;
* filters: separable Gaussian blur, normalised (masked) blur, Hessian eigenvalues, all torch
  ops on :func:`algorithms.device.get_device` (``RASTERISATION_DEVICE``);
* geometry: shapely regions -> raster masks (cv2.fillPoly), binary masks -> shapely polygons
  (cv2.findContours), nested heatmap levels;
* scores: the documented monotone maps from a raw measure to 0-100;
* areas: which face regions make up each reported area, and per-area aggregation;
* :func:`prepare`: the per-face work every algorithm shares (tensor, LAB, region masks),
  computed once per :class:`~algorithms.face.types.FaceGeometry` and kept while it lives.

Everything works on the *restored* face (fixed size, eyes level, ``px_per_mm`` known), and
every size is given in millimetres and converted with the face's own scale, so the same face
photographed at 1024 px or 4096 px is measured alike.
"""
from __future__ import annotations

import functools
import math
import threading
import weakref
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import cv2
import numpy as np
import shapely
import torch
import torch.nn.functional as F
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from algorithms.device import get_device
from algorithms.face.types import FaceGeometry, NoFaceError
from algorithms.skin.mask import SkinMask, compute_skin_mask
from algorithms.types import AnalysisResult, AreaResult, Feature, Mask, Metric

__all__ = [
    "AREA_REGIONS", "SKIN_REGIONS", "SkinImage", "prepare", "to_tensor", "rgb_to_lab",
    "blur", "masked_blur", "hessian_eigenvalues", "rasterise", "polygons_from_mask",
    "polygon_features", "heatmap_features", "exp_score", "main_metric", "numeric",
    "density", "area_results", "make_result", "require_face", "CM2",
]

# --------------------------------------------------------------------------- areas
# Reported areas (anchor API names) -> face-layer regions that make them up.
AREA_REGIONS: Mapping[str, tuple[str, ...]] = {
    "forehead": ("forehead", "glabella"),
    "nose": ("nose",),
    "left_cheek": ("left_cheek",),
    "right_cheek": ("right_cheek",),
    "chin": ("chin",),
    "left_eye_area": ("left_under_eye", "left_crows_feet"),
    "right_eye_area": ("right_under_eye", "right_crows_feet"),
}
# Every named skin region (no eyes, brows, nostrils or lips inside); ``face_skin`` is the
# face layer's own outline and is used only to clip these.
SKIN_REGIONS = (
    "forehead", "glabella", "nose", "left_cheek", "right_cheek", "chin", "left_under_eye",
    "right_under_eye", "left_crows_feet", "right_crows_feet", "left_nasolabial",
    "right_nasolabial", "perioral",
)
CM2 = 100.0  # mm2 in one cm2
AREA_MIN_MM2 = 20.0  # a reported area with less visible skin is left out
SATURATION_LOW, SATURATION_HIGH = 3, 250  # 8-bit channel values outside: clipped


def require_face(face: FaceGeometry | None) -> FaceGeometry:
    if face is None:
        raise NoFaceError("no face found: this algorithm needs one")
    return face


# --------------------------------------------------------------------------- colour
def to_tensor(image: np.ndarray, device: torch.device | None = None) -> torch.Tensor:
    """``(H, W, 3)`` uint8 RGB -> ``(3, H, W)`` float32 in [0, 1] on the device."""
    t = torch.from_numpy(np.ascontiguousarray(image[..., :3]))
    t = t.to(device or get_device()).permute(2, 0, 1).float().div_(255.0)
    return t.contiguous()


_RGB2XYZ = ((0.4124564, 0.3575761, 0.1804375),
            (0.2126729, 0.7151522, 0.0721750),
            (0.0193339, 0.1191920, 0.9503041))
_WHITE = (0.95047, 1.0, 1.08883)


def linear_rgb(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB-encoded [0, 1] -> linear light (IEC 61966-2-1)."""
    return torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


_LINEAR_LUT = linear_rgb(torch.arange(256, dtype=torch.float32) / 255.0).numpy()


def linear_from_uint8(image: np.ndarray, device: torch.device | None = None) -> torch.Tensor:
    """``(H, W, 3)`` uint8 sRGB -> ``(3, H, W)`` linear light, by a 256-entry lookup table
    (a decode, not a filter: done by numpy before the tensor goes to the device)."""
    planes = np.moveaxis(np.asarray(image[..., :3]), -1, 0)
    return torch.from_numpy(_LINEAR_LUT[planes]).to(device or get_device())


def rgb_to_lab(rgb: torch.Tensor | None, lin: torch.Tensor | None = None) -> torch.Tensor:
    """``(3, H, W)`` sRGB [0, 1] -> ``(3, H, W)`` CIELAB (L* 0-100, a*, b*), D65 white.
    ``lin``: the same image in linear light, if already at hand."""
    lin = linear_rgb(rgb) if lin is None else lin
    m = torch.tensor(_RGB2XYZ, dtype=lin.dtype, device=lin.device)
    xyz = torch.einsum("ij,jhw->ihw", m, lin)
    xyz = xyz / torch.tensor(_WHITE, dtype=lin.dtype, device=lin.device).view(3, 1, 1)
    eps, kappa = 216 / 24389, 24389 / 27
    f = torch.where(xyz > eps, xyz.clamp_min(1e-12) ** (1 / 3), (kappa * xyz + 16) / 116)
    fx, fy, fz = f[0], f[1], f[2]
    return torch.stack((116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)))


# --------------------------------------------------------------------------- filters
@functools.lru_cache(maxsize=256)
def _kernel(sigma: float, device) -> torch.Tensor:
    radius = max(1, int(math.ceil(3.0 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=torch.float32, device=device)
    k = torch.exp(-0.5 * (x / sigma) ** 2)
    return k / k.sum()


def _filter1d(x: torch.Tensor, k: torch.Tensor, dim: int) -> torch.Tensor:
    """Correlate the last two dims of ``x`` with 1-D ``k`` along ``dim`` (-1 or -2).

    On the CPU a shift-and-add loop over the taps is 5-20x faster than ``conv2d`` with a
    thin kernel (measured: 25 taps on 1024x1024, 7.5 ms vs 45 ms); elsewhere conv2d.
    """
    r = (k.numel() - 1) // 2
    n = x.shape[dim]
    if r >= n:  # tiny image: reflect padding needs r < n
        r = n - 1
        k = k[(k.numel() - 1) // 2 - r:(k.numel() - 1) // 2 + r + 1]
        k = k / k.sum()
    pad = (r, r, 0, 0) if dim == -1 else (0, 0, r, r)
    shape = x.shape
    x4 = x.reshape(-1, 1, shape[-2], shape[-1])
    xp = F.pad(x4, pad, mode="reflect")
    if x.device.type != "cpu":
        w = k.view(1, 1, 1, -1) if dim == -1 else k.view(1, 1, -1, 1)
        return F.conv2d(xp, w).reshape(shape)
    taps = k.tolist()
    out = xp.narrow(dim, 0, n) * taps[0]
    for i in range(1, len(taps)):
        out.add_(xp.narrow(dim, i, n), alpha=taps[i])
    return out.reshape(shape)


def _halve(x: torch.Tensor) -> torch.Tensor:
    """Blur at 1 px and keep the even rows and columns: sample j is pixel 2j."""
    return _direct_blur(x, HALVE_SIGMA)[..., ::2, ::2]


def _double(y: torch.Tensor, shape) -> torch.Tensor:
    """Linear interpolation back to ``shape``: pixel p reads sample p / 2 (inverse of _halve)."""
    h, w = shape[-2:]
    yp = torch.cat((y, y[..., -1:, :]), -2)
    rows = torch.stack((yp[..., :-1, :], (yp[..., :-1, :] + yp[..., 1:, :]) / 2), -2)
    rows = rows.reshape(*y.shape[:-2], -1, y.shape[-1])[..., :h, :]
    rp = torch.cat((rows, rows[..., -1:]), -1)
    out = torch.stack((rp[..., :-1], (rp[..., :-1] + rp[..., 1:]) / 2), -1)
    return out.reshape(*rows.shape[:-1], -1)[..., :w]


HALVE_SIGMA = 1.0
DECIMATE_FROM = 3.0  # px; blurs at least this wide run on a half-size copy (recursively)


def _direct_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    k = _kernel(sigma, x.device)
    return _filter1d(_filter1d(x, k, -1), k, -2)


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of the last two dims with ``sigma`` pixels.

    A Gaussian pyramid: blurs of DECIMATE_FROM px and more blur at 1 px, keep every other
    pixel, blur the half-size copy by sqrt(sigma^2 - 1) / 2 (recursively) and interpolate
    back. Gaussians compose, so the result is the same blur to a small fraction of an L*
    unit (no shift), at a quarter of the cost per halving. Backgrounds (>= POOL_FROM px) start
    with a box average instead (:func:`_pooled_blur`): within 0.1 L* on average.
    """
    if sigma <= 0.1:
        return x
    if sigma >= POOL_FROM and min(x.shape[-2:]) >= 4 * POOL_FACTOR:
        return _pooled_blur(x, sigma)
    if sigma >= DECIMATE_FROM and min(x.shape[-2:]) >= 16:
        small = blur(_halve(x), math.sqrt(sigma ** 2 - HALVE_SIGMA ** 2) / 2)
        return _double(small, x.shape)
    return _direct_blur(x, sigma)


POOL_FROM = 8.0  # px; blurs this wide start with a POOL_FACTOR box average (cheaper still)
POOL_FACTOR = 4


def _pooled_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Wide blurs (backgrounds): average POOL_FACTOR x POOL_FACTOR blocks, blur the small
    image by what remains of sigma (the box has variance (f^2 - 1) / 12), interpolate back
    exactly (the image is padded to whole blocks so block centres map to pixel centres)."""
    f = POOL_FACTOR
    shape = x.shape
    h, w = shape[-2:]
    x4 = x.reshape(-1, 1, h, w)
    ph, pw = (-h) % f, (-w) % f
    if ph or pw:
        x4 = F.pad(x4, (0, pw, 0, ph), mode="replicate")
    small = F.avg_pool2d(x4, f)
    s = math.sqrt(max(sigma ** 2 - (f ** 2 - 1) / 12.0, 0.25)) / f
    small = blur(small[:, 0], s)[:, None]
    up = F.interpolate(small, scale_factor=f, mode="bilinear", align_corners=False)
    return up[..., :h, :w].reshape(shape)


def masked_blur(x: torch.Tensor, mask: torch.Tensor, sigma: float,
                eps: float = 1e-3) -> torch.Tensor:
    """Normalised convolution: the local mean of ``x`` over ``mask`` pixels only.

    Used for backgrounds, so eyes, brows, hair and the photo's background just outside a
    region do not leak into the reference a feature is compared against.
    """
    m = mask.to(x.dtype)
    return blur(x * m, sigma) / blur(m, sigma).clamp_min(eps)


def hessian_eigenvalues(x: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale-normalised Hessian eigenvalues ``(l1 >= l2)`` of ``x`` blurred at ``sigma``.

    A dark line (valley) gives ``l1 >> 0`` and ``|l2|`` small; multiplied by sigma**2 so
    responses at different scales compare (Lindeberg's gamma = 1 normalisation). Being
    dimensionless, the normalised values of wide scales (>= DECIMATE_FROM px) are computed
    on the half-size copy of the pyramid and interpolated back (differentiating an
    interpolated blur instead would give spikes at the interpolation knots).
    """
    if sigma >= DECIMATE_FROM and min(x.shape[-2:]) >= 16:
        small = _halve(x)
        l1, l2 = hessian_eigenvalues(small, math.sqrt(sigma ** 2 - HALVE_SIGMA ** 2) / 2)
        return _double(l1, x.shape), _double(l2, x.shape)
    g = blur(x, sigma)
    gp = F.pad(g.reshape(1, 1, *g.shape[-2:]), (1, 1, 1, 1), mode="replicate")[0, 0]
    c = gp[1:-1, 1:-1]
    dxx = gp[1:-1, 2:] - 2 * c + gp[1:-1, :-2]
    dyy = gp[2:, 1:-1] - 2 * c + gp[:-2, 1:-1]
    dxy = (gp[2:, 2:] - gp[2:, :-2] - gp[:-2, 2:] + gp[:-2, :-2]) / 4
    half_tr = (dxx + dyy) / 2
    disc = torch.sqrt(((dxx - dyy) / 2) ** 2 + dxy ** 2)
    s2 = sigma ** 2
    return (half_tr + disc) * s2, (half_tr - disc) * s2


# --------------------------------------------------------------------------- geometry
# Geometry uses continuous pixel coordinates, as the face layer does: pixel (row i, col j)
# covers [j, j + 1) x [i, i + 1), so its centre is (j + 0.5, i + 0.5). Array indices are
# converted with PIXEL_CENTRE on the way out (features) and in (rasterising regions).
PIXEL_CENTRE = 0.5


def index_to_xy(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Array indices -> ``(N, 2)`` x, y of the pixel centres."""
    return np.stack([np.asarray(cols, float) + PIXEL_CENTRE,
                     np.asarray(rows, float) + PIXEL_CENTRE], axis=1)


def _rings(geom: BaseGeometry) -> Iterable[Polygon]:
    if geom.is_empty:
        return ()
    if isinstance(geom, Polygon):
        return (geom,)
    return tuple(g for g in getattr(geom, "geoms", ()) if isinstance(g, Polygon))


def rasterise(geom: BaseGeometry | None, shape: tuple[int, int]) -> np.ndarray:
    """Bool mask ``(H, W)`` of the pixels whose centres lie in a (Multi)Polygon (OpenCV's
    fill also takes pixels whose centre is within about half a pixel of the boundary)."""
    mask = np.zeros(shape, np.uint8)
    if geom is None:
        return mask.astype(bool)
    shift = 4  # 1/16 px sub-pixel precision

    def ring(coords):
        return np.round((np.asarray(coords) - PIXEL_CENTRE) * (1 << shift)).astype(np.int32)

    for poly in _rings(geom):
        cv2.fillPoly(mask, [ring(poly.exterior.coords)], 1, lineType=cv2.LINE_8, shift=shift)
        holes = [ring(r.coords) for r in poly.interiors]
        if holes:
            cv2.fillPoly(mask, holes, 0, lineType=cv2.LINE_8, shift=shift)
    return mask.astype(bool)


def polygons_from_mask(mask: np.ndarray, min_area_px: float = 0.0,
                       simplify_px: float = 0.5, offset: tuple[int, int] = (0, 0)
                       ) -> list[Polygon]:
    """Outer contours (with holes) of a binary mask as shapely polygons, pixel coordinates.

    Each boundary is moved out by half a pixel (contours run through boundary pixel
    centres), tiny ones dropped, and vertices simplified to ``simplify_px``. ``offset`` is
    added to the array indices (a crop's origin).
    """
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    if not m.any():
        return []
    contours, hierarchy = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE,
                                           offset=offset)
    contours = [c[:, 0, :].astype(np.float64) + PIXEL_CENTRE for c in contours]
    hierarchy = hierarchy[0]
    out: list[Polygon] = []
    for i, (_nxt, _prv, child, parent) in enumerate(hierarchy):
        if parent != -1:
            continue
        shell = contours[i]
        holes = []
        j = child
        while j != -1:
            h = contours[j]
            if len(h) >= 3:
                holes.append(h)
            j = hierarchy[j][0]
        if len(shell) >= 3:
            poly = Polygon(shell, holes)
            poly = poly if poly.is_valid else shapely.make_valid(poly)
            poly = poly.buffer(0.5, join_style="mitre")
        else:
            poly = shapely.MultiPoint(shell).buffer(0.5 + 0.5 * (len(shell) > 1), quad_segs=2)
        if simplify_px:
            poly = poly.simplify(simplify_px)
        for p in _rings(poly):
            if p.area >= max(min_area_px, 1e-9):
                out.append(p)
    return out


def polygon_features(labels: np.ndarray, keep: np.ndarray, stats: np.ndarray,
                     simplify_px: float = 0.5) -> list[tuple[int, Polygon]]:
    """Polygons of the components ``keep`` (labels from cv2.connectedComponentsWithStats)."""
    out = []
    for i in keep:
        x, y, w, h = (int(v) for v in stats[i, :4])
        crop = labels[y:y + h, x:x + w] == i
        polys = polygons_from_mask(np.pad(crop, 1), simplify_px=simplify_px,
                                   offset=(x - 1, y - 1))
        if polys:
            poly = max(polys, key=lambda p: p.area)
            out.append((int(i), poly))
    return out


def heatmap_features(value: np.ndarray, valid: np.ndarray, thresholds: Sequence[float],
                     min_area_px: float, simplify_px: float = 1.0):
    """Nested heatmap levels: level ``k`` = where ``value >= thresholds[k]`` inside ``valid``.

    Returns ``[(level, threshold, MultiPolygon)]`` for the levels that have any area; each
    level is clipped to the one below so the nesting survives simplification.
    """
    from algorithms.types import Feature  # local: keep the import list short

    feats = []
    previous: BaseGeometry | None = None
    for level, t in enumerate(thresholds):
        m = (value >= t) & valid
        polys = polygons_from_mask(m, min_area_px=min_area_px, simplify_px=simplify_px)
        if not polys:
            break
        geom: BaseGeometry = shapely.union_all(polys)
        if previous is not None:
            geom = geom.intersection(previous)
        polys = [p for p in _rings(geom) if p.area >= min_area_px]
        if not polys:
            break
        geom = MultiPolygon(polys)
        feats.append(Feature(geom, {"level": level, "value": float(t)}))
        previous = geom
    return feats


# --------------------------------------------------------------------------- scores
def exp_score(x: float, x0: float) -> float:
    """``100 * exp(-x / x0)``: 100 for a flawless measure ``x = 0``, 36.8 at ``x = x0``.

    Monotone, never negative, and its slope shrinks as the measure grows, so one more
    feature costs more on clear skin than on skin that already has many.
    """
    return float(100.0 * math.exp(-max(float(x), 0.0) / float(x0)))


def main_metric(algorithm: str, tech_name: str, value: float) -> Metric:
    return Metric(algorithm=algorithm, tech_name=tech_name,
                  value=float(np.clip(value, 0.0, 100.0)), widget_type="bad_good_line")


def numeric(algorithm: str, tech_name: str, value: float, unit: str | None = None) -> Metric:
    return Metric(algorithm=algorithm, tech_name=tech_name, value=float(value),
                  widget_type="numeric", unit=unit)


def density(algorithm: str, tech_name: str, value: float, unit: str = "1/cm2") -> Metric:
    return Metric(algorithm=algorithm, tech_name=tech_name, value=float(value),
                  widget_type="density", unit=unit)


def area_results(names: Iterable[str], per_area) -> tuple[AreaResult, ...]:
    """``per_area(name) -> (main Metric, sub Metrics) | None`` for each area present."""
    out = []
    for name in names:
        r = per_area(name)
        if r is not None:
            out.append(AreaResult(name, r[0], tuple(r[1])))
    return tuple(out)


def make_result(cls, face: FaceGeometry, main: Metric | None, subs: Sequence[Metric] = (),
                areas: Sequence[AreaResult] = (), masks: Sequence[Mask] = (),
                feedback: Mapping | None = None) -> AnalysisResult:
    w, h = face.restored.size
    return AnalysisResult(algorithm_tech_name=cls.tech_name, version=cls.version,
                          image_type="restored", width=w, height=h, main_metric=main,
                          sub_metrics=tuple(subs), area_results=tuple(areas),
                          masks=tuple(masks), feedback=dict(feedback or {}))



def spots_result(cls, face: FaceGeometry, skin: "SkinImage", spots: Sequence[Mapping],
                 centres: np.ndarray, zone: np.ndarray, metrics,
                 areas: Sequence[str]) -> AnalysisResult:
    """The result of a spot detector (acne, pigmentation): whole-face and per-area metrics
    and the spots' polygons as one ``polygon_mask`` named after the algorithm.

    ``metrics(selected: bool array over spots, zone_px: int) -> (main Metric, sub Metrics)``
    scores the selected spots over a zone of ``zone_px`` pixels.
    """
    main, subs = metrics(np.ones(len(spots), bool), zone.sum())
    inside = features_by_area(centres, skin, areas)

    def per_area(a):
        return metrics(inside[a], skin.area_mask(a).sum()) if skin.area_visible(a) else None

    feats = tuple(Feature(s["polygon"], {"intensity": s["intensity"],
                                         "area_mm2": s["area_mm2"]}) for s in spots)
    return make_result(cls, face, main, subs, area_results(areas, per_area),
                       (Mask("polygon_mask", cls.tech_name, feats),))

# --------------------------------------------------------------------------- per face
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


def bbox_slices(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """Row and column slices of ``mask``'s bounding box grown by ``margin`` (clipped)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return slice(0, 0), slice(0, 0)
    h, w = mask.shape
    return (slice(max(rows[0] - margin, 0), min(rows[-1] + margin + 1, h)),
            slice(max(cols[0] - margin, 0), min(cols[-1] + margin + 1, w)))


def hysteresis(strong: np.ndarray, weak: np.ndarray, connectivity: int = 8):
    """Components of ``weak`` that contain a ``strong`` pixel: ``(labels, stats, keep)``."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(weak.astype(np.uint8), connectivity)
    hits = np.bincount(labels[strong & weak], minlength=n)
    keep = np.flatnonzero(hits[1:] > 0) + 1
    return labels, stats, keep


def component_means(labels: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Mean of ``values`` over each label 0..n-1 (0 where a label has no pixel)."""
    cnt = np.bincount(labels.ravel(), minlength=n).astype(np.float64)
    tot = np.bincount(labels.ravel(), weights=values.ravel().astype(np.float64), minlength=n)
    return np.divide(tot, cnt, out=np.zeros(n), where=cnt > 0)


def local_maxima_3d(stack: torch.Tensor, candidates: torch.Tensor):
    """Candidates of a ``(S, H, W)`` stack that are >= all 26 neighbours (scale-space maxima).

    Compares only the candidate voxels (a sparse gather), which on a CPU is two orders of
    magnitude cheaper than a dense 3x3x3 max-pool over the whole stack.
    Returns ``(indices (N, 3) numpy [s, y, x], values (N,) numpy)``.
    """
    idx = torch.nonzero(candidates)
    if idx.shape[0] == 0:
        return np.zeros((0, 3), int), np.zeros(0)
    padded = F.pad(stack[None], (1, 1, 1, 1, 1, 1), value=float("-inf"))[0]
    s, y, x = idx[:, 0] + 1, idx[:, 1] + 1, idx[:, 2] + 1
    vals = padded[s, y, x]
    is_max = torch.ones_like(vals, dtype=torch.bool)
    for ds in (-1, 0, 1):
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if ds or dy or dx:
                    is_max &= vals >= padded[s + ds, y + dy, x + dx]
    return idx[is_max].cpu().numpy(), vals[is_max].cpu().numpy()


def local_difference(skin: SkinImage, channel: torch.Tensor, zone: np.ndarray,
                     smooth_mm: float, background_mm: float,
                     exclude_above: float | None = None, rounds: int = 1) -> np.ndarray:
    """``smooth(channel) - background(channel)`` inside ``zone`` (numpy, full size).

    Both are normalised (masked) blurs over the zone only, so what lies outside it (eyes,
    brows, hair, background) neither darkens nor reddens the reference. With
    ``exclude_above``, the background is estimated ``rounds`` more times, each without the
    pixels that rose more than that above the previous estimate, so spots, hair and
    neighbouring features do not lift their own reference (a robust local background).
    Computed on the zone's bounding box.
    """
    out = np.zeros(skin.shape, np.float32)
    if not zone.any():
        return out
    ys, xs = bbox_slices(zone, int(3 * skin.px(background_mm)) + 2)
    ch = channel[ys, xs]
    zt = torch.from_numpy(zone[ys, xs].copy()).to(ch.device)
    fine = masked_blur(ch, zt, skin.px(smooth_mm))
    coarse = masked_blur(ch, zt, skin.px(background_mm))
    if exclude_above is not None:
        for _ in range(rounds):
            keep = zt & (fine - coarse <= exclude_above)
            coarse = masked_blur(ch, keep, skin.px(background_mm))
    out[ys, xs] = (fine - coarse).cpu().numpy()
    return out


def robust_sigma(values: np.ndarray) -> float:
    """1.4826 * median absolute deviation: the standard deviation of the noise, unmoved by
    the few pixels that are features."""
    if values.size == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def spot_components(contrast: np.ndarray, zone: np.ndarray, skin: SkinImage, high: float,
                    low: float, min_area_mm2: float, max_area_mm2: float,
                    min_thickness_mm: float, max_aspect: float = 1e9,
                    min_solidity: float = 0.0):
    """Spots: components of ``contrast > low`` holding a pixel ``> high``, inside ``zone``,
    whose area is within bounds and whose thickness (twice the largest inscribed radius)
    reaches ``min_thickness_mm`` (so lines and hair are not spots) and whose oriented
    bounding box is at most ``max_aspect`` times longer than wide (folds and creases) and
    which fill at least ``min_solidity`` of their convex hull (ragged shading patterns).

    Returns a list of dicts: polygon, area_mm2, intensity (mean contrast), centre (x, y).
    """
    weak = (contrast > low) & zone
    strong = (contrast > high) & zone
    labels, stats, keep = hysteresis(strong, weak)
    if len(keep) == 0:
        return []
    mm2 = skin.px_per_mm ** 2
    area = stats[keep, cv2.CC_STAT_AREA] / mm2
    keep = keep[(area >= min_area_mm2) & (area <= max_area_mm2)]
    if len(keep) == 0:
        return []
    mask = np.isin(labels, keep).astype(np.uint8)
    dist = cv2.distanceTransform(mask, cv2.DIST_L2, 3)
    n = labels.max() + 1
    thick = np.zeros(n)
    np.maximum.at(thick, labels[mask > 0], dist[mask > 0])
    keep = keep[2 * thick[keep] >= skin.px(min_thickness_mm)]
    means = component_means(labels, contrast, n)
    out = []
    for i, poly in polygon_features(labels, keep, stats):
        if max_aspect < 1e9:
            (_, (rw, rh), _) = cv2.minAreaRect(np.asarray(poly.exterior.coords, np.float32))
            if max(rw, rh) > max_aspect * max(min(rw, rh), 1e-6):
                continue
        if min_solidity > 0 and poly.area < min_solidity * poly.convex_hull.area:
            continue
        c = poly.centroid
        out.append({"polygon": poly, "area_mm2": float(stats[i, cv2.CC_STAT_AREA] / mm2),
                    "intensity": float(means[i]), "centre": (c.x, c.y)})
    return out


# --------------------------------------------------------------------------- chromophores
# Optical density OD_c = -ln(linear RGB_c). In OD space, shading (less light) adds the same
# amount to R, G and B (direction (1, 1, 1)); melanin adds along MELANIN (absorption ~
# lambda^-3.5 sampled at 620/540/460 nm, normalised to G), haemoglobin along HAEMOGLOBIN
# (oxy-haemoglobin extinction averaged over broad camera bands, normalised to G). An index
# orthogonal to shading and to the other chromophore is the cross product of the two
# (Tsumura et al. 1999 find these directions by ICA; we fix them from the spectra).
MELANIN = (0.62, 1.0, 1.75)
HAEMOGLOBIN = (0.05, 1.0, 0.80)
OD_TO_INDEX = 100.0 / math.log(10.0)  # same units as EI = 100 log10(R/G)


def _index_weights(cancel: Sequence[float], measure: Sequence[float]) -> torch.Tensor:
    w = np.cross(np.ones(3), np.asarray(cancel, float))
    w = w / float(np.dot(w, measure))  # unit response to one OD unit of the chromophore
    return torch.tensor(w * OD_TO_INDEX, dtype=torch.float32)


def chromophore_indices(rgb: torch.Tensor | None, lin: torch.Tensor | None = None
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(haemoglobin index, melanin index)`` maps of a ``(3, H, W)`` sRGB image (``lin``:
    the same in linear light, if at hand).

    Each is insensitive to shading / exposure (adding OD equally to R, G, B) and to the
    other chromophore, and reads 100/ln(10) ~ 43 per unit of its own optical density.
    """
    od = -torch.log((linear_rgb(rgb) if lin is None else lin).clamp_min(1e-4))
    wh = _index_weights(MELANIN, HAEMOGLOBIN).to(od.device)
    wm = _index_weights(HAEMOGLOBIN, MELANIN).to(od.device)
    return (torch.einsum("c,chw->hw", wh, od), torch.einsum("c,chw->hw", wm, od))
