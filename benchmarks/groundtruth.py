"""Ground truth for the skin algorithms: features of known place and size drawn onto real skin.

Every feature is drawn into the ORIGINAL photo at a physical size in millimetres, using the
face's scale (``FaceGeometry.px_per_mm``), and its true geometry is recorded in original
pixels (:class:`Truth`; ``props`` holds the sizes in mm and the contrast actually drawn).

**Where** (:func:`clear_skin`): only on clear skin, i.e. inside the face layer's regions
(forehead, glabella, cheeks, chin, nose, crow's feet, under-eye, per kind), away from the
eyes, brows, nostrils and lips (mesh contours) and from the face outline by the skin mask's
own margins plus its border band (``ANATOMY_MARGINS_MM``: 3-4.5 mm; issue 13 asks the
service to exclude these by mesh margins in mm and to drop findings within a band of the
mask's border, so a feature drawn closer measures that rule, not a detector), on pixels
whose colour is within Delta E 14 of the cheeks' median (not hair, stubble, deep shadow) and
whose fine texture is not busier than the face's usual skin (not on a freckle, mole or real
spot already there), and outside hand-drawn hair where the caller has labels (``not_skin``:
a light stubble beard passes the colour and texture tests). Features keep ``GAP_MM`` from
each other (footprint to footprint) and from the truths passed as ``avoid``.

**What** (sizes from the dermatology literature, as issue 13 lists them):

* pores: dark dots, radius 0.15-0.45 mm, a little elliptical; only the part of that range a
  photo resolves is drawn (radius >= 1 px, i.e. a pore spans >= 2 px: Nyquist), so a
  3.2 px/mm portrait gets 0.31-0.45 mm pores and 0.15 mm pores need >= 6.7 px/mm
  (:func:`pore_radius_range`); shading 0.2-0.4, feathered (an L* drop of 2-10 as drawn);
* lines: thin dark curves 8-30 mm long, 0.2-0.6 mm wide (tapering to the ends) with soft
  shoulders (a faint shadow 0.35 mm wide around the core), shading 0.12-0.25, oriented by
  zone: forehead horizontal, glabella vertical, crow's feet radial from the outer eye
  corner, under-eye along the lid, cheeks along the nasolabial direction;
* acne: raised red papules, radius 1-3 mm: haemoglobin OD 0.3-0.55, redder in the middle,
  with a soft edge, lit from above (brighter upper half, darker lower half, a small
  specular highlight);
* pigmentation: brown macules, semi-axes 1-6 mm, wobbly ellipses with sharp-ish edges and a
  mottled inside: melanin OD 0.25-0.5, times up to 1.6 on dark skin
  (:attr:`SkinMap.melanin_gain`: a lesion holds more melanin where the skin holds more).
  The colour model makes the contrast follow the skin tone as in life (a melanin OD darkens
  lighter skin by more L*): about -10 to -14 L* on light skin, -6 to -8 on dark skin;
  visible, never black;
* redness: a flush, haemoglobin OD 0.3 in a Gaussian of sigma 10 mm on one cheek;
* dark circles (eye area): a band of shadow plus a little melanin under each eye.

**Colour model** (physical, in linear light, sRGB decoded): pores and lines are shadows
(every channel multiplied by ``1 - depth * coverage``); acne and the flush add haemoglobin
and pigmentation adds melanin (linear RGB multiplied by ``exp(-k * coverage * spectrum)``
with the spectra ``HAEMOGLOBIN`` / ``MELANIN`` of ``algorithms.skin.chromophores``). Shapes are
rasterised 4x supersampled and blurred by the camera's point spread (sigma 0.5 px) before
being box-averaged to pixels, so sub-pixel features have the right, low, contrast.

Other skin tones can be made by the same melanin model applied to the whole photo
(:func:`skin_tone_variant`). Matching rules are in :func:`match_points`, :func:`match_lines`
and :func:`match_polygons` and written up in docs/benchmarks.md.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np
import shapely
from shapely.affinity import affine_transform
from shapely.geometry import LineString, Point, Polygon
from shapely.ops import unary_union

from algorithms.skin import mask as _mask
from algorithms.skin.chromophores import HAEMOGLOBIN, MELANIN

__all__ = ["Truth", "Scene", "SkinMap", "inject", "clear_skin", "flush", "pore_radius_range",
           "skin_tone_variant", "upscale", "match_points", "match_lines", "match_polygons",
           "KINDS", "TONES", "MARGIN_MM", "ANATOMY_MARGINS_MM", "SIZES_MM"]

KINDS = ("lines", "pores", "acne", "pigmentation", "redness", "eye_area_condition")
TONES = {"light": 0.0, "tan": 0.35, "brown": 0.8}  # melanin optical density added

MARGIN_MM = 2.0                      # the least distance from any mesh contour
# Where the skin mask lets a finding lie, from the mesh alone: each contour's margin in the
# mask (algorithms.skin.mask) plus the band along the mask's border where findings are dropped.
ANATOMY_MARGINS_MM = {
    "eyes": _mask.EYE_MARGIN_MM + _mask.BORDER_BAND_MM,
    "brows": _mask.BROW_MARGIN_MM + _mask.BORDER_BAND_MM,
    "lips": _mask.LIPS_MARGIN_MM + _mask.BORDER_BAND_MM,
    "nostrils": _mask.NOSTRIL_MARGIN_MM + _mask.BORDER_BAND_MM,
    "outline": _mask.OVAL_INSET_MM + _mask.BORDER_BAND_MM,
}
SIZES_MM = {                         # drawn sizes (radius, width x length, semi-axes)
    "pores": (0.15, 0.45),           # radius
    "lines_length": (8.0, 30.0),
    "lines_width": (0.2, 0.6),
    "acne": (1.0, 3.0),              # radius
    "pigmentation": (1.0, 6.0),      # semi-major axis
}
# contrast: shading depth (pores, lines) or optical density (acne: haemoglobin, spots: melanin)
STRENGTH = {"pores": (0.2, 0.4), "lines": (0.12, 0.25), "acne": (0.3, 0.55),
            "pigmentation": (0.25, 0.5)}
GAP_MM = {"pores": 1.5, "lines": 3.0, "acne": 4.0, "pigmentation": 4.0}
PSF_PX = 0.5                         # camera blur (sigma, px) given to drawn shapes
SS = 4                               # supersampling of the rasteriser
PORE_MIN_PX = 1.0                    # a pore is resolved when its radius is >= 1 px


@dataclass
class Truth:
    kind: str
    geometry: shapely.Geometry      # original pixels: Point (pores), LineString, Polygon
    size: float                     # radius (pores, px), width (lines, px), or area (px2)
    props: dict = field(default_factory=dict)  # mm sizes, zone, drawn contrast (dL, da)


@dataclass
class Scene:
    image: np.ndarray
    truths: list[Truth] = field(default_factory=list)
    note: str = ""                  # e.g. why fewer features than asked were drawn


# --------------------------------------------------------------------------- colour helpers
def _to_linear(img: np.ndarray) -> np.ndarray:
    c = img.astype(np.float32) / 255.0
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _to_srgb(lin: np.ndarray) -> np.ndarray:
    lin = np.clip(lin, 0.0, 1.0)
    c = np.where(lin <= 0.0031308, lin * 12.92, 1.055 * lin ** (1 / 2.4) - 0.055)
    return np.clip(np.round(c * 255.0), 0, 255).astype(np.uint8)


def flush(lin: np.ndarray, centres, sigma: float, od: float) -> np.ndarray:
    """Linear-light ``lin`` with haemoglobin of optical density ``od`` added in a Gaussian of
    ``sigma`` pixels around each of ``centres`` ((x, y) original pixels; overlaps take the
    larger coverage): the redness flush."""
    yy, xx = np.mgrid[0:lin.shape[0], 0:lin.shape[1]].astype(np.float32) + 0.5
    cover = np.zeros(lin.shape[:2], np.float32)
    for x, y in centres:
        np.maximum(cover, np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma ** 2)),
                   out=cover)
    return lin * np.exp(-od * cover[..., None] * np.asarray(HAEMOGLOBIN, np.float32))


_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722],
                 [0.0193, 0.1192, 0.9505]], np.float32)
_WHITE = _XYZ.sum(axis=1)


def _lab(lin: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of linear sRGB."""
    xyz = (lin @ _XYZ.T) / _WHITE
    f = np.where(xyz > 0.008856, np.cbrt(np.maximum(xyz, 0)), 7.787 * xyz + 16 / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]),
                     200 * (f[..., 1] - f[..., 2])], axis=-1)


def skin_tone_variant(image: np.ndarray, melanin_od: float) -> np.ndarray:
    """The photo with ``melanin_od`` optical density of melanin added everywhere."""
    if melanin_od <= 0:
        return image.copy()
    lin = _to_linear(image) * np.exp(-melanin_od * np.asarray(MELANIN, np.float32))
    return _to_srgb(lin)


def upscale(image: np.ndarray, size: int) -> np.ndarray:
    """Square photo resized to ``size`` px (Lanczos), as a higher-resolution camera gives."""
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_LANCZOS4)


def pore_radius_range(px_per_mm: float) -> tuple[float, float] | None:
    """Pore radii (mm) drawn at this scale: the part of 0.15-0.45 mm that is >= 1 px, or
    None when less than 0.05 mm of the range is resolved (no pores are drawn then)."""
    lo = max(SIZES_MM["pores"][0], PORE_MIN_PX / px_per_mm)
    hi = SIZES_MM["pores"][1]
    return (lo, hi) if hi - lo >= 0.05 else None


# --------------------------------------------------------------------------- where: clear skin
@dataclass
class SkinMap:
    """Where features may go on one photo (original pixels)."""

    mm: float                                   # px per mm (original)
    ok: np.ndarray                              # bool: clear skin pixels
    zones: dict                                 # region name -> clear area (shapely)
    exclusion: shapely.Geometry                 # eyes, brows, nostrils, lips grown by margin
    to_original: np.ndarray                     # restored -> original (2x3)
    restored_mm: float
    landmarks: np.ndarray | None                # original pixels (None: hand-made face)
    skin_L: float = 65.0                        # cheeks' median L*
    not_skin: shapely.Geometry = field(default_factory=Polygon)   # hand-labelled hair

    @property
    def melanin_gain(self) -> float:
        """Hyperpigmentation holds more melanin where the skin holds more: x1 at L* >= 65,
        rising to x1.6 at L* <= 40 (so spots on dark skin darken it by 4-9 L*, as PIH does,
        instead of the 2-5 a light-skin dose would give)."""
        return 1.0 + 0.6 * min(max((65.0 - self.skin_L) / 25.0, 0.0), 1.0)


def _fill(mask: np.ndarray, geom, value=1, offset=(0.0, 0.0)):
    for p in getattr(geom, "geoms", [geom]):
        if p.geom_type != "Polygon" or p.is_empty:
            continue
        rings = [p.exterior] + list(p.interiors)
        pts = [np.round((np.asarray(r.coords, float)[:, :2] - 0.5 - offset) * 16)
               .astype(np.int32) for r in rings]
        cv2.fillPoly(mask, pts[:1], value, cv2.LINE_8, 4)
        for h in pts[1:]:
            cv2.fillPoly(mask, [h], 0, cv2.LINE_8, 4)
    return mask


def clear_skin(image: np.ndarray, face, margin_mm: float | None = None,
               max_delta_e: float = 14.0, not_skin=()) -> SkinMap:
    """Clear skin of ``face`` in ``image`` (see the module doc).

    ``margin_mm``: one margin for every contour instead of ``ANATOMY_MARGINS_MM``.

    ``not_skin``: polygons (original pixels) known by hand not to be clear skin, e.g. the
    hair and ambiguous labels of ``tests/data/skin_hair_labels.json``. The colour and
    texture tests alone let a light stubble beard through: at 3.3 px/mm its hairs are
    blurred into skin-coloured skin-smooth shade (london_029 and 125 got 12-13 of 30 pores
    drawn on their beards), and a feature drawn on a beard tests the skin mask's hair
    model, not the detector (that is benchmarks/skin_hair.py's job)."""
    from algorithms.face.regions import feature_polygons

    def margin(part: str) -> float:
        return margin_mm if margin_mm is not None else max(MARGIN_MM, ANATOMY_MARGINS_MM[part])

    mm = float(face.px_per_mm)
    h, w = image.shape[:2]
    regs = face.regions_in("original")
    lm = np.asarray(face.landmarks, float) if face.landmarks is not None else None
    if lm is not None and np.any(lm):
        f = feature_polygons(lm)
        excl = unary_union([f[k].buffer(margin(part) * mm) for part, keys in _CONTOURS.items()
                            for k in keys])
        inner = f["face_oval"].buffer(-margin("outline") * mm)
    else:
        lm = None
        excl = Polygon()
        inner = regs.get("face_skin", unary_union(list(regs.values()))
                         ).buffer(-margin("outline") * mm)
    zones = {}
    for name, g in regs.items():
        z = g.intersection(inner).difference(excl)
        if not z.is_empty and z.area > 0:
            zones[name] = z

    # colour: close to the cheeks' median, smoothed over 1 mm
    lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB).astype(np.float32)
    lab[..., 0] *= 100 / 255.0
    lab[..., 1:] -= 128
    smooth = cv2.GaussianBlur(lab, (0, 0), max(1.0, mm))
    cheeks = np.zeros((h, w), np.uint8)
    for n in ("left_cheek", "right_cheek"):
        if n in zones:
            _fill(cheeks, zones[n].buffer(-1.5 * mm) if zones[n].buffer(-1.5 * mm).area > 0
                  else zones[n])
    if not cheeks.any():
        _fill(cheeks, unary_union(list(zones.values())))
    ref = np.median(smooth[cheeks > 0], axis=0)
    ok = np.linalg.norm(smooth - ref, axis=2) <= max_delta_e
    # texture: local L* standard deviation (sigma 0.7 mm) no busier than usual skin
    L = lab[..., 0]
    s = max(1.0, 0.7 * mm)
    m1 = cv2.GaussianBlur(L, (0, 0), s)
    m2 = cv2.GaussianBlur(L * L, (0, 0), s)
    sd = np.sqrt(np.maximum(m2 - m1 * m1, 0))
    face_px = np.zeros((h, w), np.uint8)
    _fill(face_px, unary_union(list(zones.values())))
    typical = float(np.median(sd[face_px > 0])) if face_px.any() else float(np.median(sd))
    ok &= sd <= max(2.0, 1.8 * typical)
    # bright specular highlights are no place for a finding either
    ok &= smooth[..., 0] <= ref[0] + 12
    labelled = unary_union([Polygon(np.asarray(q, float)).buffer(0) for q in not_skin])
    if not labelled.is_empty:
        hand = np.zeros((h, w), np.uint8)
        _fill(hand, labelled)
        ok &= hand == 0
    return SkinMap(mm, ok, zones, excl, np.asarray(face.restored.to_original, float),
                   float(face.restored.px_per_mm), lm, float(ref[0]), labelled)


_CONTOURS = {"eyes": ("right_eye", "left_eye"), "brows": ("right_brow", "left_brow"),
             "lips": ("lips",), "nostrils": ("right_nostril", "left_nostril")}


def _footprint_ok(skin: SkinMap, geom: shapely.Geometry, zone: shapely.Geometry) -> bool:
    if not zone.contains(geom):
        return False
    x0, y0, x1, y1 = (int(math.floor(v)) for v in geom.bounds)
    x0, y0 = max(x0 - 1, 0), max(y0 - 1, 0)
    x1, y1 = min(x1 + 2, skin.ok.shape[1]), min(y1 + 2, skin.ok.shape[0])
    if x1 <= x0 or y1 <= y0:
        return False
    m = _fill(np.zeros((y1 - y0, x1 - x0), np.uint8), geom, 1, offset=(x0, y0))
    return bool(np.all(skin.ok[y0:y1, x0:x1][m > 0]))


def _footprint(t: Truth) -> shapely.Geometry:
    if t.kind in ("pores", "lines"):
        return t.geometry.buffer(max(t.size, 0.5) if t.kind == "pores" else t.size / 2)
    return t.geometry


class _Placer:
    def __init__(self, skin: SkinMap, gap_px: float, avoid):
        self.skin, self.gap = skin, gap_px
        self.taken = [_footprint(t) for t in avoid]

    def free(self, fp: shapely.Geometry) -> bool:
        b = fp.bounds
        for q in self.taken:
            qb = q.bounds
            if (qb[0] - self.gap > b[2] or qb[2] + self.gap < b[0] or qb[1] - self.gap > b[3]
                    or qb[3] + self.gap < b[1]):
                continue
            if q.distance(fp) < self.gap:
                return False
        return True

    def point_in(self, rng, zone) -> tuple[float, float]:
        x0, y0, x1, y1 = zone.bounds
        for _ in range(200):
            p = (rng.uniform(x0, x1), rng.uniform(y0, y1))
            if zone.contains(Point(p)):
                return p
        return (zone.representative_point().x, zone.representative_point().y)


# --------------------------------------------------------------------------- how: drawing
def _raster(geom_or_fn, bbox, feather_px: float = 0.0):
    """Coverage (0..1) of a shape over a crop: supersampled by SS, blurred by the PSF (and
    ``feather_px``), box-averaged to pixels. ``bbox`` = (x0, y0, x1, y1) integer crop.
    ``geom_or_fn``: a shapely polygon, or ``fn(mask_ss, to_ss)`` drawing on the
    supersampled mask with ``to_ss(points) -> int32 points (shift 4)``."""
    x0, y0, x1, y1 = bbox
    m = np.zeros(((y1 - y0) * SS, (x1 - x0) * SS), np.uint8)

    def to_ss(pts):
        pts = np.asarray(pts, float)
        return np.round(((pts - (x0, y0)) * SS - 0.5) * 16).astype(np.int32)

    if callable(geom_or_fn):
        geom_or_fn(m, to_ss)
    else:
        for p in getattr(geom_or_fn, "geoms", [geom_or_fn]):
            cv2.fillPoly(m, [to_ss(p.exterior.coords)], 255, cv2.LINE_AA, 4)
    cov = m.astype(np.float32) / 255.0
    sigma = math.hypot(PSF_PX, feather_px) * SS
    cov = cv2.GaussianBlur(cov, (0, 0), sigma)
    return cv2.resize(cov, (x1 - x0, y1 - y0), interpolation=cv2.INTER_AREA)


def _bbox(geom, pad: float, shape) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = geom.bounds
    return (max(int(math.floor(x0 - pad)), 0), max(int(math.floor(y0 - pad)), 0),
            min(int(math.ceil(x1 + pad)) + 1, shape[1]),
            min(int(math.ceil(y1 + pad)) + 1, shape[0]))


def _contrast(before: np.ndarray, after: np.ndarray) -> tuple[float, float]:
    """Peak L* drop (negative) and peak a* rise of a crop."""
    d = _lab(after) - _lab(before)
    return float(d[..., 0].min()), float(d[..., 1].max())


def _to_orig(skin: SkinMap, pts_restored: np.ndarray) -> np.ndarray:
    m = skin.to_original
    return pts_restored @ m[:, :2].T + m[:, 2]


def _from_orig(skin: SkinMap, pts: np.ndarray) -> np.ndarray:
    m = np.vstack([skin.to_original, [0, 0, 1]])
    inv = np.linalg.inv(m)[:2]
    return np.asarray(pts, float) @ inv[:, :2].T + inv[:, 2]


# line zones: (region names, weight, orientation rule)
_LINE_ZONES = (
    (("forehead",), 0.35, "horizontal"),
    (("left_crows_feet", "right_crows_feet"), 0.25, "radial"),
    (("left_cheek", "right_cheek"), 0.2, "nasolabial"),
    (("glabella",), 0.1, "vertical"),
    (("left_under_eye", "right_under_eye"), 0.1, "lid"),
)
_LINE_LENGTH = {"horizontal": (15.0, 30.0), "radial": (8.0, 15.0), "nasolabial": (10.0, 22.0),
                "vertical": (8.0, 14.0), "lid": (8.0, 14.0)}


def _line_direction(skin: SkinMap, rule: str, zone_name: str, p_restored, rng) -> float:
    """Angle (restored frame, radians, y down) of a line at ``p_restored``."""
    jitter = float(rng.normal(0, 0.12))
    if rule == "horizontal":
        return jitter
    if rule == "vertical":
        return math.pi / 2 + jitter
    lm = skin.landmarks
    if lm is None:
        return jitter + (math.pi / 2 if rule == "vertical" else 0.0)
    lr = _from_orig(skin, lm)
    left = zone_name.startswith("left")
    if rule == "radial":    # from the outer eye corner (263 left, 33 right)
        c = lr[263 if left else 33]
        return math.atan2(p_restored[1] - c[1], p_restored[0] - c[0]) + jitter
    if rule == "lid":       # along the lower lid: outer corner to inner corner
        a, b = (lr[263], lr[362]) if left else (lr[33], lr[133])
        return math.atan2(b[1] - a[1], b[0] - a[0]) + jitter
    # nasolabial: from the ala (129 right, 358 left) to the mouth corner (61 right, 291 left)
    a, b = (lr[358], lr[291]) if left else (lr[129], lr[61])
    return math.atan2(b[1] - a[1], b[0] - a[0]) + jitter


def inject(image: np.ndarray, face, kind: str, n: int, seed: int = 0,
           mm: float | None = None, avoid: list[Truth] = (), skin: SkinMap | None = None
           ) -> Scene:
    """Draw up to ``n`` features of ``kind`` into a copy of ``image`` (original pixels).

    ``face`` is the FaceGeometry of ``image``; ``mm`` overrides its pixels per millimetre;
    new features keep their gap from the truths in ``avoid`` (features drawn before, for
    nested scenes); ``skin`` reuses a :func:`clear_skin` map of the clean photo. Fewer than
    ``n`` are drawn when clear skin runs out (``Scene.note`` says so).
    """
    rng = np.random.default_rng(seed)
    skin = skin or clear_skin(image, face)
    mm = float(mm or skin.mm)
    rmm = skin.restored_mm
    lin = _to_linear(image)
    shape = image.shape
    truths: list[Truth] = []
    note = ""

    def apply(bbox, factor, t: Truth):
        x0, y0, x1, y1 = bbox
        before = lin[y0:y1, x0:x1].copy()
        lin[y0:y1, x0:x1] *= factor
        dl, da = _contrast(before, lin[y0:y1, x0:x1])
        t.props.update(dL=round(dl, 2), da=round(da, 2))
        truths.append(t)

    def zones(names):
        return [(nm, skin.zones[nm]) for nm in names if nm in skin.zones]

    if kind in ("pores", "acne", "pigmentation"):
        names = {"pores": ("forehead", "nose", "left_cheek", "right_cheek", "chin"),
                 "acne": ("forehead", "left_cheek", "right_cheek", "chin"),
                 "pigmentation": ("forehead", "left_cheek", "right_cheek", "chin")}[kind]
        zs = zones(names)
        rr = pore_radius_range(mm) if kind == "pores" else None
        if kind == "pores" and rr is None:
            return Scene(image.copy(), list(avoid),
                         f"pores not drawn: {mm:.2f} px/mm resolves no pore of "
                         f"{SIZES_MM['pores'][0]}-{SIZES_MM['pores'][1]} mm")
        if not zs:
            return Scene(image.copy(), list(avoid), "no clear skin")
        area = np.array([z.area for _, z in zs])
        placer = _Placer(skin, GAP_MM[kind] * mm, avoid)
        tries = 0
        while len(truths) < n and tries < 400 * n:
            tries += 1
            zi = int(rng.choice(len(zs), p=area / area.sum()))
            zname, zone = zs[zi]
            p = placer.point_in(rng, zone)
            if kind == "pores":
                r_mm = float(rng.uniform(*rr))
                a = r_mm * mm * float(rng.uniform(1.0, 1.25))
                b = (r_mm * mm) ** 2 / a
                th = float(rng.uniform(0, math.pi))
                ang = np.linspace(0, 2 * math.pi, 24, endpoint=False)
                xy = np.stack([a * np.cos(ang), b * np.sin(ang)], 1)
                poly = Polygon(np.asarray(p) + xy @ _rot(th).T)
                fp = poly.buffer(0.3 * mm)
            elif kind == "acne":
                r_mm = float(rng.uniform(*SIZES_MM["acne"]))
                poly = Point(p).buffer(r_mm * mm, quad_segs=12)
                fp = poly.buffer(max(0.5 * r_mm, 0.5) * mm)    # the papule's halo, clear
            else:
                a_mm = float(rng.uniform(*SIZES_MM["pigmentation"]))
                b_mm = a_mm * float(rng.uniform(0.55, 1.0))
                th = float(rng.uniform(0, math.pi))
                ang = np.linspace(0, 2 * math.pi, 48, endpoint=False)
                wob = (1 + 0.10 * np.sin(3 * ang + rng.uniform(0, 6.3))
                       + 0.05 * np.sin(5 * ang + rng.uniform(0, 6.3)))
                xy = np.stack([a_mm * mm * wob * np.cos(ang), b_mm * mm * wob * np.sin(ang)], 1)
                poly = Polygon(np.asarray(p) + xy @ _rot(th).T)
                fp = poly.buffer(0.5 * mm)
            if not _footprint_ok(skin, fp, zone) or not placer.free(fp):
                continue
            placer.taken.append(fp)
            if kind == "pores":
                bbox = _bbox(poly, 3, shape)
                cov = _raster(poly, bbox, feather_px=0.3)
                depth = float(rng.uniform(*STRENGTH["pores"]))
                t = Truth("pores", Point(p), r_mm * mm,
                          {"radius_mm": round(r_mm, 3), "depth": round(depth, 3), "zone": zname})
                apply(bbox, (1.0 - depth * cov)[..., None], t)
            elif kind == "acne":
                r = r_mm * mm
                bbox = _bbox(poly, 0.8 * r + 3, shape)
                cov = _raster(poly, bbox, feather_px=0.28 * r)
                x0, y0, x1, y1 = bbox
                yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32) + 0.5
                d2 = ((xx - p[0]) ** 2 + (yy - p[1]) ** 2) / r ** 2
                dome = cov * (0.6 + 0.4 * np.clip(1 - d2, 0, 1))   # redder in the middle
                k = float(rng.uniform(*STRENGTH["acne"]))
                factor = np.exp(-k * dome[..., None] * np.asarray(HAEMOGLOBIN, np.float32))
                # raised: lit from the face's "up" (restored -y), a small specular highlight
                up = skin.to_original[:, :2] @ np.array([0.0, -1.0])
                up = up / np.linalg.norm(up)
                gy, gx = np.gradient(cov)
                slope = -(gx * up[0] + gy * up[1]) * r          # + where the bump faces up
                shade = 1 - 0.10 * np.clip(slope, -1, 1)
                hx, hy = p[0] + 0.35 * r * up[0], p[1] + 0.35 * r * up[1]
                spec = np.exp(-((xx - hx) ** 2 + (yy - hy) ** 2) / (2 * (0.18 * r) ** 2))
                factor = factor * shade[..., None] * (1 + 0.10 * spec)[..., None]
                t = Truth("acne", poly, float(poly.area),
                          {"radius_mm": round(r_mm, 3), "hb_od": round(k, 3), "zone": zname})
                apply(bbox, factor, t)
            else:
                a = a_mm * mm
                bbox = _bbox(poly, 0.5 * a + 3, shape)
                cov = _raster(poly, bbox, feather_px=0.12 * a)
                noise = cv2.GaussianBlur(rng.standard_normal(cov.shape).astype(np.float32),
                                         (0, 0), max(1.0, 0.25 * a))
                noise /= max(float(noise.std()), 1e-6)
                k = float(rng.uniform(*STRENGTH["pigmentation"])) * skin.melanin_gain
                dens = cov * np.clip(1 + 0.2 * noise, 0.5, 1.5)
                factor = np.exp(-k * dens[..., None] * np.asarray(MELANIN, np.float32))
                t = Truth("pigmentation", poly, float(poly.area),
                          {"semi_axes_mm": (round(a_mm, 2), round(b_mm, 2)),
                           "radius_mm": round(math.sqrt(poly.area / math.pi) / mm, 3),
                           "melanin_od": round(k, 3), "zone": zname})
                apply(bbox, factor, t)
    elif kind == "lines":
        zs = [(names, wgt, rule) for names, wgt, rule in _LINE_ZONES
              if any(nm in skin.zones for nm in names)]
        if not zs:
            return Scene(image.copy(), list(avoid), "no clear skin")
        wts = np.array([w for _, w, _ in zs])
        placer = _Placer(skin, GAP_MM["lines"] * mm, avoid)
        tries = 0
        while len(truths) < n and tries < 400 * n:
            tries += 1
            names, _, rule = zs[int(rng.choice(len(zs), p=wts / wts.sum()))]
            names = [nm for nm in names if nm in skin.zones]
            zname = names[int(rng.integers(len(names)))]
            zone = skin.zones[zname]
            p = placer.point_in(rng, zone)
            pr = _from_orig(skin, np.array([p]))[0]
            ang = _line_direction(skin, rule, zname, pr, rng)
            lo, hi = _LINE_LENGTH[rule]
            length = float(rng.uniform(lo, hi))
            d = np.array([math.cos(ang), math.sin(ang)])
            nrm = np.array([-d[1], d[0]])
            t = np.linspace(-0.5, 0.5, 33)[:, None]
            sag = float(rng.uniform(-0.08, 0.08)) * length
            wig = 0.15 * math.sin(float(rng.uniform(0, 6.3)))
            pts_r = (pr + t * length * rmm * d + (1 - 4 * t ** 2) * sag * rmm * nrm
                     + wig * rmm * np.sin(2 * math.pi * 1.5 * t) * nrm)
            pts = _to_orig(skin, pts_r)
            line = LineString(pts)
            w_mm = float(rng.uniform(*SIZES_MM["lines_width"]))
            w = w_mm * mm
            fp = line.buffer(w / 2 + 0.5 * mm)
            if not _footprint_ok(skin, fp, zone) or not placer.free(fp):
                continue
            placer.taken.append(fp)
            taper = 0.35 + 0.65 * np.sin(np.pi * (t[:, 0] + 0.5)) ** 0.5   # thin ends

            def draw(m, to_ss, pts=pts, taper=taper, w=w):
                q = to_ss(pts)
                for i in range(len(q) - 1):
                    th = max(1, int(round(w * SS * 0.5 * (taper[i] + taper[i + 1]))))
                    cv2.line(m, tuple(q[i]), tuple(q[i + 1]), 255, th, cv2.LINE_AA, 4)

            bbox = _bbox(line, w + 4 + 1.2 * mm, shape)
            cov = _raster(draw, bbox)
            # a groove's soft shoulders: a faint, wider shadow around the dark core
            shoulder = cv2.GaussianBlur(cov, (0, 0), max(0.5, 0.35 * mm))
            shoulder *= float(cov.max()) / max(float(shoulder.max()), 1e-6)
            cov = np.clip(cov + 0.5 * shoulder, 0, 1)
            depth = float(rng.uniform(*STRENGTH["lines"]))
            tr = Truth("lines", line, w,
                       {"length_mm": round(length, 2), "width_mm": round(w_mm, 3),
                        "depth": round(depth, 3), "zone": zname, "rule": rule})
            apply(bbox, (1.0 - depth * cov)[..., None], tr)
    elif kind == "redness":
        regs = face.regions_in("original")
        sides = [nm for nm in ("left_cheek", "right_cheek") if nm in skin.zones]
        if sides:
            zname = sides[int(rng.integers(len(sides)))]
            c = skin.zones[zname].centroid
        else:
            zname, c = "nose", regs["nose"].centroid
        sigma = 10.0 * mm
        k = 0.3
        lin = flush(lin, [(c.x, c.y)], sigma, k)
        skin_area = regs.get("face_skin", unary_union(list(regs.values())))
        # the flush's half-maximum disk, clipped to the skin (not a labelled beard)
        truths.append(Truth("redness", Point(c.x, c.y).buffer(1.1774 * sigma)
                            .intersection(skin_area).difference(skin.not_skin), float(sigma),
                            {"sigma_mm": 10.0, "hb_od": k, "zone": zname}))
    elif kind == "eye_area_condition":
        regs = face.regions_in("original")
        for name in ("left_under_eye", "right_under_eye"):
            if name not in regs:
                continue
            band = regs[name]
            bbox = _bbox(band, 4 * mm, shape)
            cov = _raster(band, bbox, feather_px=1.0 * mm)
            factor = ((1.0 - 0.22 * cov)[..., None]
                      * np.exp(-0.1 * cov[..., None] * np.asarray(MELANIN, np.float32)))
            apply(bbox, factor, Truth("eye_area_condition", band, float(band.area)))
    else:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    if kind in ("pores", "lines", "acne", "pigmentation") and len(truths) < n:
        note = f"{len(truths)} of {n} {kind} fit on clear skin"
    return Scene(_to_srgb(lin), list(avoid) + truths, note)


def _rot(th: float) -> np.ndarray:
    return np.array([[math.cos(th), -math.sin(th)], [math.sin(th), math.cos(th)]])


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


def restored_geometry(face, g: shapely.Geometry) -> shapely.Geometry:
    """A truth geometry (original pixels) in restored pixels."""
    m = face.restored.from_original
    return affine_transform(g, [m[0, 0], m[0, 1], m[1, 0], m[1, 1], m[0, 2], m[1, 2]])


def pre_existing(kind: str, before, dets) -> set:
    """Indices of ``dets`` (detections on the injected photo) that match, by the kind's own
    rule, a detection ``before`` made on the clean photo: real skin nobody labelled.
    ``before``: (x, y, radius) for pores, (geometry, width) for lines, polygons otherwise."""
    if kind == "pores":
        fake = [Truth("pores", Point(x, y), max(r, 2.0)) for x, y, r in before]
        return match_points(fake, dets)[1]
    if kind == "lines":
        fake = [Truth("lines", g if g.geom_type != "Polygon" else g.boundary, w)
                for g, w in before]
        return match_lines(fake, dets)[1]
    return match_polygons([Truth(kind, g, g.area) for g in before], dets)[1]
