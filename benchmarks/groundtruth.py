"""Ground truth for the skin algorithms: features of known place and size drawn onto real skin.

Everything is drawn into the ORIGINAL photo, inside the face regions the face layer found
(mapped to original pixels), and each drawn feature's true geometry is recorded in original
pixels. The colour model is physical, in linear light (sRGB decoded):

* lines and pores are shadows: every channel is multiplied by ``1 - depth * coverage``
  (equal optical density in R, G and B), coverage from an anti-aliased drawing;
* acne and the flush add haemoglobin, pigmentation adds melanin: linear RGB is multiplied
  by ``exp(-k * coverage * spectrum)`` with the spectra of ``algorithms.skin.common``
  (HAEMOGLOBIN, MELANIN); acne spots also get a faint highlight (they are raised);
* dark circles are a band of shadow plus a little melanin under each eye.

Other skin tones are made by the same melanin model applied to the whole photo
(:func:`skin_tone_variant`): ``k = 0.35`` ("tan") and ``k = 0.8`` ("brown"): darker and more
yellow, as more melanin makes skin. Matching rules are in :func:`match_points`,
:func:`match_lines` and :func:`match_polygons` and written up in docs/benchmarks.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import unary_union

from algorithms.skin.common import HAEMOGLOBIN, MELANIN

__all__ = ["Truth", "Scene", "inject", "skin_tone_variant", "upscale", "match_points",
           "match_lines", "match_polygons", "KINDS", "TONES"]

KINDS = ("lines", "pores", "acne", "pigmentation", "redness", "eye_area_condition")
TONES = {"light": 0.0, "tan": 0.35, "brown": 0.8}  # melanin optical density added


@dataclass
class Truth:
    kind: str
    geometry: shapely.Geometry      # original pixels: Point (pores), LineString, Polygon
    size: float                     # radius (pores, px), width (lines, px), or area (px2)


@dataclass
class Scene:
    image: np.ndarray
    truths: list[Truth] = field(default_factory=list)


# --------------------------------------------------------------------------- colour helpers
def _to_linear(img: np.ndarray) -> np.ndarray:
    c = img.astype(np.float32) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _to_srgb(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0.0, 1.0)
    c = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.clip(np.round(c * 255.0), 0, 255).astype(np.uint8)


def skin_tone_variant(image: np.ndarray, melanin_od: float) -> np.ndarray:
    """The photo with ``melanin_od`` optical density of melanin added everywhere."""
    if melanin_od <= 0:
        return image.copy()
    lin = _to_linear(image) * np.exp(-melanin_od * np.asarray(MELANIN, np.float32))
    return _to_srgb(lin)


def upscale(image: np.ndarray, size: int) -> np.ndarray:
    """Square photo resized to ``size`` px (Lanczos), as a higher-resolution camera gives."""
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_LANCZOS4)


# --------------------------------------------------------------------------- placement
def _regions(face, names) -> shapely.Geometry:
    regs = face.regions_in("original")
    return unary_union([regs[n] for n in names if n in regs])


def skin_like(image: np.ndarray, face, max_delta_e: float = 14.0) -> np.ndarray:
    """Pixels (original) whose smoothed colour is within ``max_delta_e`` of the cheeks' median:
    features are drawn on skin, not on hair, brows or shadows that a region may hold."""
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[..., 0] *= 100 / 255.0
    lab[..., 1:] -= 128
    lab = cv2.GaussianBlur(lab, (0, 0), max(1.0, face.px_per_mm))
    cheeks = _regions(face, ("left_cheek", "right_cheek"))
    m = np.zeros(image.shape[:2], np.uint8)
    for p in getattr(cheeks, "geoms", [cheeks]):
        cv2.fillPoly(m, _cv(p.exterior.coords), 1, cv2.LINE_8, 4)
    ref = np.median(lab[m > 0], axis=0)
    return np.linalg.norm(lab - ref, axis=2) <= max_delta_e


def _sample(rng, area: shapely.Geometry, n: int, min_dist: float, margin: float,
            taken: list, ok: np.ndarray | None = None) -> list[tuple[float, float]]:
    inner = area.buffer(-margin)
    if inner.is_empty:
        return []
    if ok is not None:  # every pixel within `margin` of the point must be skin-like
        k = max(1, int(2 * margin) | 1)
        ok = cv2.erode(ok.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE,
                                                                       (k, k))) > 0
    x0, y0, x1, y1 = inner.bounds
    out = []
    tries = 0
    while len(out) < n and tries < 5000:
        tries += 1
        p = (rng.uniform(x0, x1), rng.uniform(y0, y1))
        if not inner.contains(Point(p)):
            continue
        if ok is not None and not ok[int(p[1]), int(p[0])]:  # pixel holding p
            continue
        if any(math.hypot(p[0] - q[0], p[1] - q[1]) < min_dist for q in taken + out):
            continue
        out.append(p)
    taken.extend(out)
    return out


def _coverage(shape, draw: Callable[[np.ndarray], None], feather: float = 0.0) -> np.ndarray:
    m = np.zeros(shape[:2], np.uint8)
    draw(m)
    cov = m.astype(np.float32) / 255.0
    if feather > 0:
        cov = cv2.GaussianBlur(cov, (0, 0), feather)
    return cov


S = 16  # cv2 sub-pixel shift factor (4 bits)
# Truth geometry is in continuous pixel coordinates (pixel i spans [i, i + 1)), as the face
# layer's; OpenCV draws with pixel centres at integers, hence the half-pixel shift.


def _pt(p):
    return (int(round((p[0] - 0.5) * S)), int(round((p[1] - 0.5) * S)))


def _cv(coords) -> list[np.ndarray]:
    return [np.round((np.asarray(coords, float) - 0.5) * S).astype(np.int32)]


# --------------------------------------------------------------------------- injection
def inject(image: np.ndarray, face, kind: str, n: int, seed: int = 0,
           mm: float | None = None, avoid: list[Truth] = ()) -> Scene:
    """Draw ``n`` features of ``kind`` into a copy of ``image`` (original pixels).

    ``face`` is the FaceGeometry of ``image`` (regions tell where skin is); ``mm`` is the
    photo's pixels per millimetre (default ``face.px_per_mm``); new features keep their
    spacing from the truths in ``avoid`` (features drawn before, for nested scenes).
    """
    rng = np.random.default_rng(seed)
    mm = float(mm or face.px_per_mm)
    lin = _to_linear(image)
    shape = image.shape
    truths: list[Truth] = []
    taken: list = [(c.x, c.y) for c in (t.geometry.centroid for t in avoid)]
    ok = skin_like(image, face)

    def shade(cov, depth):
        nonlocal lin
        lin = lin * (1.0 - depth * cov)[..., None]

    def absorb(cov, k, spectrum):
        nonlocal lin
        lin = lin * np.exp(-k * cov[..., None] * np.asarray(spectrum, np.float32))

    if kind == "pores":
        area = _regions(face, ("left_cheek", "right_cheek", "forehead", "chin", "nose"))
        for p in _sample(rng, area, n, max(10.0, 3 * mm), 4.0 + 0.5 * mm, taken, ok):
            r = float(rng.uniform(1.0, 4.0))   # px, as the issue asks
            cov = _coverage(shape, lambda m: cv2.circle(m, _pt(p), int(round(r * S)), 255, -1,
                                                        cv2.LINE_AA, 4))
            shade(cov, float(rng.uniform(0.35, 0.5)))
            truths.append(Truth("pores", Point(p), r))
    elif kind == "lines":
        area = _regions(face, ("forehead", "left_cheek", "right_cheek"))
        for p in _sample(rng, area, n, 9 * mm, 5 * mm, taken, ok):
            length = float(rng.uniform(9, 16)) * mm
            ang = float(rng.uniform(-0.5, 0.5)) + (0 if rng.random() < 0.5 else math.pi / 2)
            bend = float(rng.uniform(-0.25, 0.25)) * length
            d = np.array([math.cos(ang), math.sin(ang)])
            nrm = np.array([-d[1], d[0]])
            t = np.linspace(-0.5, 0.5, 24)[:, None]
            pts = np.asarray(p) + t * length * d + (1 - 4 * t ** 2) * bend * nrm
            line = LineString(pts)
            if not area.contains(line):
                continue
            w = float(rng.uniform(1.0, 4.0))    # px, as the issue asks
            thick = max(1, int(round(w)))
            poly = _cv(pts)
            cov = _coverage(shape, lambda m: cv2.polylines(m, poly, False, 255, thick,
                                                           cv2.LINE_AA, 4))
            shade(cov, float(rng.uniform(0.3, 0.45)))
            truths.append(Truth("lines", line, w))
    elif kind in ("acne", "pigmentation"):
        area = _regions(face, ("left_cheek", "right_cheek", "forehead", "chin"))
        spacing = (9 if kind == "acne" else 14) * mm
        for p in _sample(rng, area, n, spacing, spacing / 2, taken, ok):
            if kind == "acne":
                r = float(rng.uniform(1.0, 2.0)) * mm
                poly = Point(p).buffer(r, quad_segs=8)
                k = float(rng.uniform(0.25, 0.4))
            else:
                a = float(rng.uniform(2.0, 4.5)) * mm
                b = a * float(rng.uniform(0.55, 1.0))
                th = float(rng.uniform(0, math.pi))
                ang = np.linspace(0, 2 * math.pi, 40, endpoint=False)
                wob = 1 + 0.12 * np.sin(3 * ang + rng.uniform(0, 6.3))
                xy = np.stack([a * wob * np.cos(ang), b * wob * np.sin(ang)], 1)
                rot = np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])
                poly = Polygon(np.asarray(p) + xy @ rot.T)
                k = float(rng.uniform(0.3, 0.45))
            pts = _cv(poly.exterior.coords)
            cov = _coverage(shape, lambda m: cv2.fillPoly(m, pts, 255, cv2.LINE_AA, 4),
                            feather=0.25 * mm)
            if kind == "acne":
                absorb(cov, k, HAEMOGLOBIN)
                hl = (p[0] - 0.3 * r, p[1] - 0.3 * r)
                hcov = _coverage(shape, lambda m: cv2.circle(m, _pt(hl), int(0.35 * r * S), 255,
                                                             -1, cv2.LINE_AA, 4), 0.3 * r)
                lin = lin * (1 + 0.12 * hcov)[..., None]
            else:
                absorb(cov, k, MELANIN)
            truths.append(Truth(kind, poly, float(poly.area)))
    elif kind == "redness":
        regs = face.regions_in("original")
        cheek = regs["left_cheek"] if "left_cheek" in regs else _regions(face, ("nose",))
        c = cheek.centroid
        sigma = 10.0 * mm
        yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(np.float32) + 0.5
        cov = np.exp(-((xx - c.x) ** 2 + (yy - c.y) ** 2) / (2 * sigma ** 2))
        absorb(cov, 0.35, HAEMOGLOBIN)
        # the flush's half-maximum disk, clipped to the skin
        truths.append(Truth("redness", Point(c.x, c.y).buffer(1.1774 * sigma)
                            .intersection(_regions(face, ("left_cheek", "nose", "left_under_eye",
                                                          "left_nasolabial", "perioral"))),
                            float(sigma)))
    elif kind == "eye_area_condition":
        regs = face.regions_in("original")
        for name in ("left_under_eye", "right_under_eye"):
            if name not in regs:
                continue
            band = regs[name]
            pts = _cv(band.exterior.coords)
            cov = _coverage(shape, lambda m: cv2.fillPoly(m, pts, 255, cv2.LINE_AA, 4),
                            feather=1.0 * mm)
            shade(cov, 0.22)
            absorb(cov, 0.1, MELANIN)
            truths.append(Truth("eye_area_condition", band, float(band.area)))
    else:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    return Scene(_to_srgb(lin), list(avoid) + truths)


# --------------------------------------------------------------------------- matching
def _greedy(cost: np.ndarray, ok: np.ndarray) -> list[tuple[int, int]]:
    pairs = []
    used_t, used_d = set(), set()
    for flat in np.argsort(cost, axis=None):
        t, d = np.unravel_index(flat, cost.shape)
        if not ok[t, d] or t in used_t or d in used_d:
            continue
        pairs.append((int(t), int(d)))
        used_t.add(t)
        used_d.add(d)
    return pairs


def match_points(truths: list[Truth], dets: list[tuple[float, float, float]]):
    """Pores: a detection (x, y, radius) matches a truth dot when its centre lies within
    ``max(2 px, truth radius)`` of the dot's centre; one-to-one, nearest first.
    Returns (matched truth indices, matched detection indices)."""
    if not truths or not dets:
        return set(), set()
    tp = np.array([[t.geometry.x, t.geometry.y] for t in truths])
    dp = np.array([[d[0], d[1]] for d in dets])
    dist = np.linalg.norm(tp[:, None] - dp[None], axis=2)
    tol = np.maximum(2.0, np.array([t.size for t in truths]))[:, None]
    pairs = _greedy(dist, dist <= tol)
    return {p[0] for p in pairs}, {p[1] for p in pairs}


def match_lines(truths: list[Truth], dets: list[tuple[shapely.Geometry, float]]):
    """Lines: with tolerance ``tol = max(2 px, truth width)``, a truth line is found when at
    least half its length lies within ``tol`` of the detections; a detection (polyline, or a
    deep-line polygon) is correct when at least half of it (length, or area) lies within
    ``tol`` of some truth line."""
    found_t, good_d = set(), set()
    if not truths or not dets:
        return found_t, good_d
    det_union = unary_union([g if g.geom_type != "Polygon" else g.boundary for g, _ in dets])
    for i, t in enumerate(truths):
        tol = max(2.0, t.size)
        if t.geometry.intersection(det_union.buffer(tol)).length >= 0.5 * t.geometry.length:
            found_t.add(i)
    zones = unary_union([t.geometry.buffer(max(2.0, t.size)) for t in truths])
    for j, (g, w) in enumerate(dets):
        if g.geom_type == "Polygon":
            inside = g.intersection(zones.buffer(w / 2)).area / max(g.area, 1e-9)
        else:
            inside = g.intersection(zones).length / max(g.length, 1e-9)
        if inside >= 0.5:
            good_d.add(j)
    return found_t, good_d


def match_polygons(truths: list[Truth], dets: list[shapely.Geometry], iou_min: float = 0.3):
    """Acne, pigmentation: a detection matches a truth spot when their IoU >= ``iou_min``;
    one-to-one, best IoU first."""
    if not truths or not dets:
        return set(), set()
    iou = np.zeros((len(truths), len(dets)))
    for i, t in enumerate(truths):
        for j, d in enumerate(dets):
            if t.geometry.intersects(d):
                inter = t.geometry.intersection(d).area
                iou[i, j] = inter / max(t.geometry.union(d).area, 1e-9)
    pairs = _greedy(-iou, iou >= iou_min)
    return {p[0] for p in pairs}, {p[1] for p in pairs}
