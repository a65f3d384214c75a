"""Lines (wrinkles): long, thin, dark valleys of log light that are not the outline of a feature.

Method (docs/algorithms.md#lines):

1. *Tone-invariant valleys.* A wrinkle is a shadow: it takes a fraction of the light, which
   is the same depth of ln Y (log luminance, linear light) on any skin, while its depth in L*
   is about 40 % less on dark skin. So the valley filter runs on ln Y
   (:func:`line_log_light`).
2. *Long and coherent.* Oriented valley filters (:func:`algorithms.skin.ridges.
   oriented_valleys`): the second derivative across the line at widths SCALES_MM, averaged
   along it over ALONG_MM, at N_ORIENT orientations. Texture (pores, follicles, mottling) is
   coherent over a fraction of a mm and averages out; a wrinkle adds up.
3. *Relative to the face's own texture.* Each response is divided by the noise of that scale
   and orientation measured on the face, around each pixel (NOISE_WINDOW_MM): z.
4. *Ridges and lines.* Pixels at the top of their valley (non-maximum suppression across the
   line) with z > Z_LOW, linked along the line where their orientations agree
   (:func:`algorithms.skin.ridges.ridge_paths`); each path's evidence is its mean z times
   sqrt(length / EVIDENCE_LENGTH_MM) (a line is a sum of independent looks): kept at
   EVIDENCE_MIN and LENGTH_MIN_MM. Depth (L*) and width (mm) from the winning response.

Anatomy is not a wrinkle (:mod:`algorithms.skin.line_zones`): the zone leaves out bands
around the face oval, nose sides, alae, lips, lids, brows, philtrum and mentolabial sulcus,
and the surroundings of specular highlights; each line is typed by the zone its middle lies
in and kept only if its direction fits that zone's orientation prior, it is smooth, it is no
hair and, on the cheek, it is not the shading along the face's turn away from the camera.

Score: the wrinkle index, mean valley strength of L* at ENERGY_SCALE_MM over the zone (wrinkle
texture, whether or not it forms lines long enough to draw; the lower lids, whose folds are
there at any age, weigh UNDER_EYE_WEIGHT) plus LOAD_WEIGHT x the
depth-weighted length of the drawn lines per cm2, mapped by
100 * exp(-(index - INDEX_FLOOR) / INDEX_REF).
"""
from __future__ import annotations

import math

import cv2
import numpy as np
import torch
from shapely.geometry import LineString

from algorithms.base import Algorithm, MetricSpec, register
from algorithms.skin.colour import log_luminance
from algorithms.skin.filters import hessian_eigenvalues, masked_blur
from algorithms.skin.geometry import bbox_slices, disc, index_to_xy
from algorithms.skin.ridges import noise_normalised, oriented_valleys, ridge_paths, ridge_pixels
from algorithms.skin.scores import (density, exp_score, low_resolution_result, main_metric,
                                    make_result, numeric, scored_by_area)
from algorithms.skin.skin_image import SkinImage, prepare, require_face
from algorithms.skin import line_zones as LZ
from algorithms.types import Feature, Mask

ZONE = ("forehead", "glabella", "left_crows_feet", "right_crows_feet", "left_under_eye",
        "right_under_eye", "left_nasolabial", "right_nasolabial", "perioral", "left_cheek",
        "right_cheek", "chin")
AREAS = ("forehead", "left_cheek", "right_cheek", "chin", "left_eye_area", "right_eye_area")

# Detection (docs/algorithms.md#lines; measured on lines drawn into the 36 development
# portraits, benchmarks/accuracy_real.py)
SCALES_MM = (0.25, 0.40, 0.65, 1.00)  # across-line scales: widths ~0.5-2 mm
HALF_RES_FROM_MM = 0.6   # scales this wide run on a half-size copy (a quarter of the work)
ALONG_MM = 1.5           # along-line Gaussian: ~5 mm of line per look
N_ORIENT = 12            # 15 degree steps (8 lost a tenth of the faint lines)
GROW_MM = 2.0            # the filters see the real image this far outside the zone
NOISE_WINDOW_MM = 6.0    # where a pixel's texture noise is measured
NOISE_FLOOR = 0.5        # the local noise is at least half the face's
Z_LOW = 2.5              # ridge pixels: z above this
Z_WIDE = 6.0             # a fold this clear is traced at the scale of its strongest response
MAX_TURN = 2             # linked ridge pixels differ by at most 2 orientation steps
LENGTH_MIN_MM = 5.0      # shorter valleys are texture, not lines
EVIDENCE_LENGTH_MM = 6.0
EVIDENCE_MIN = 5.0       # mean z * sqrt(length / 6 mm)
LOG_GAIN = 0.225         # response = LOG_GAIN * peak ln Y drop of a drawn line
DEPTH_FLOOR = 0.02       # ln Y: a line takes at least 2 % of the light
DUPLICATE_MM = 1.0       # a line mostly this close to a stronger one is the same wrinkle
DEEP_WIDTH_MM = 1.2      # wider than this ...
DEEP_DEPTH = 12.0        # ... and deeper than this (L*): a deep line, drawn as a polygon
WIDTH_PER_SCALE = 2.0    # a line of width w answers best at scale ~ w / 2
# Score (docs/algorithms.md#lines): index = mean valley energy of the zone (the lower lids
# at UNDER_EYE_WEIGHT) + LOAD_WEIGHT x depth-weighted line length per cm2; score =
# 100 exp(-(index - INDEX_FLOOR) / INDEX_REF). The slope is as steep as exposure allows
# (+-10 % brightness scales L* contrasts by ~8 % and must move a score less than 5 points);
# the floor puts the 36 development portraits' median near 89 (benchmarks/population.py).
ENERGY_SCALE_MM = 1.0    # valleys ~2 mm wide: resolved from ~2 px/mm, so close and far
                         # photos of one face measure alike
RIDGE_GAIN = 0.45        # L* Hessian valley strength = RIDGE_GAIN * depth (L*)
BLOB_BETA = 0.5          # how round a valley may be before it is a blob, not a line
DEPTH_LOW = 3.0          # L*: a line this shallow counts nothing in the score ...
WEIGHT_FULL = 10.0       # ... and fully from this depth
LOAD_WEIGHT = 0.01
UNDER_EYE_WEIGHT = 0.5   # the lower lid's valleys are in good part the orbit's own folds
                         # (lid crease, tear trough: there from youth); half, not none: its
                         # fine wrinkles are real
INDEX_FLOOR = 0.44
INDEX_REF = 1.05


@register
class Lines(Algorithm):
    tech_name = "lines"
    version = "1.4.0"
    mask_types = ("polyline_mask", "polygon_mask")
    required_px_per_mm = 2.0  # a fold 1 mm wide (ENERGY_SCALE_MM) spans 2 px
    areas = AREAS
    description = ("Wrinkles as long dark valleys of log light (oriented multi-scale filters, "
                   "thresholds relative to the face's own texture, ridge tracing); fine lines "
                   "as polylines, deep lines as polygons.")
    metrics = (
        MetricSpec("lines_score", "bad_good_line", None,
                   f"100*exp(-(wrinkle_index - {INDEX_FLOOR:g}) / {INDEX_REF:g})"),
        MetricSpec("wrinkle_index", "numeric", "L*",
                   "mean valley strength of the zone + weighted line length per cm2 / 100"),
        MetricSpec("lines_number", "numeric", None, "lines found"),
        MetricSpec("deep_lines_number", "numeric", None, "of which deep"),
        MetricSpec("lines_length", "numeric", "mm", "total length"),
        MetricSpec("lines_density", "density", "mm/cm2", "length per cm2 of the zone"),
        MetricSpec("lines_mean_depth", "numeric", "L*", "mean depth"),
        MetricSpec("lines_mean_width", "numeric", "mm", "mean width"),
    ) + tuple(spec for t in LZ.LINE_TYPES for spec in (
        MetricSpec(f"lines_{t}_number", "numeric", None, f"{t} lines found"),
        MetricSpec(f"lines_{t}_length", "numeric", "mm", f"length of {t} lines")))

    def analyse(self, image, face):
        face = require_face(face)
        if (low := low_resolution_result(type(self), face)) is not None:
            return low
        skin = prepare(face)
        pts = face.landmarks_restored
        zone = (skin.finding_zone(ZONE) & ~LZ.anatomy_bands(pts, skin.px_per_mm, skin.shape)
                & ~near_highlights(skin))
        lines = LZ.typed(detect(skin, zone), skin, pts, skin.surface_slope)
        mm = skin.px_per_mm
        length = np.array([ln["length"] / mm for ln in lines])
        depth = np.array([ln["depth"] for ln in lines])
        width = np.array([ln["width"] / mm for ln in lines])
        deep = np.array([ln["deep"] for ln in lines], bool)
        centres = np.array([ln["centre"] for ln in lines]).reshape(-1, 2)
        load_w = length * line_weight(depth)
        energy = valley_energy(skin, zone)
        weight = np.where(skin.mask(("left_under_eye", "right_under_eye")), UNDER_EYE_WEIGHT,
                          1.0).astype(np.float32)

        def metrics(sel, region):
            cm2 = max(skin.px2_to_cm2(region.sum()), 1e-6)
            area_zone = zone & region
            w = weight[area_zone]
            e = float((energy[area_zone] * w).sum() / w.sum()) if area_zone.any() else 0.0
            index = e + LOAD_WEIGHT * float(load_w[sel].sum()) / cm2
            score = exp_score(index - INDEX_FLOOR, INDEX_REF)
            subs = [numeric("lines", "wrinkle_index", index, "L*"),
                    numeric("lines", "lines_number", int(sel.sum())),
                    numeric("lines", "deep_lines_number", int(deep[sel].sum())),
                    numeric("lines", "lines_length", float(length[sel].sum()), "mm"),
                    density("lines", "lines_density", float(length[sel].sum()) / cm2,
                            "mm/cm2")]
            return main_metric("lines", "lines_score", score), subs

        main, subs, areas = scored_by_area(skin, centres, zone, metrics, AREAS)
        kinds = np.array([ln["type"] for ln in lines], dtype=object)
        for t in LZ.LINE_TYPES:
            sel = kinds == t
            subs += [numeric("lines", f"lines_{t}_number", int(sel.sum())),
                     numeric("lines", f"lines_{t}_length", float(length[sel].sum()), "mm")]
        subs += [numeric("lines", "lines_mean_depth",
                         float(depth.mean()) if len(lines) else 0.0, "L*"),
                 numeric("lines", "lines_mean_width",
                         float(width.mean()) if len(lines) else 0.0, "mm")]

        def props(ln):
            return {"width": float(ln["width"]), "intensity": float(ln["depth"]),
                    "type": ln["type"], "length_mm": float(ln["length"] / mm),
                    "width_mm": float(ln["width"] / mm), "contrast": float(ln["depth"])}

        fine = tuple(Feature(ln["line"], props(ln)) for ln in lines if not ln["deep"])
        deep_f = tuple(Feature(ln["polygon"], props(ln)) for ln in lines if ln["deep"])
        return make_result(type(self), face, main, subs, areas,
                           (Mask("polyline_mask", "fine_lines", fine),
                            Mask("polygon_mask", "deep_lines", deep_f)))


def valley_energy(skin: SkinImage, zone: np.ndarray) -> np.ndarray:
    """Valley strength (L* units of line depth) at ENERGY_SCALE_MM inside ``zone``, 0
    elsewhere: the density of wrinkle texture, found lines or not."""
    out = np.zeros(skin.shape, np.float32)
    if not zone.any():
        return out
    s = skin.px(ENERGY_SCALE_MM)
    ys, xs = bbox_slices(zone, int(3 * s) + 2)
    L = skin.lab[0, ys, xs]
    zt = torch.from_numpy(zone[ys, xs].copy()).to(L.device)
    L = torch.where(zt, L, masked_blur(L, zt, 3 * s))
    V, _ = valley_strength(L, [s])
    out[ys, xs] = (V / RIDGE_GAIN).cpu().numpy() * zone[ys, xs]
    return out


HIGHLIGHT_BAND_MM = 2.0  # the dark gap between two specular patches reads as a valley


def near_highlights(skin: SkinImage) -> np.ndarray:
    """Specular highlights grown by HIGHLIGHT_BAND_MM."""
    return cv2.dilate(skin.skin_mask.highlights.astype(np.uint8),
                      disc(skin.px(HIGHLIGHT_BAND_MM))).astype(bool)


def line_weight(depth: np.ndarray) -> np.ndarray:
    """How much a mm of line counts, from its median depth: 0 at DEPTH_LOW (a line barely
    found, which resampling may lose), 1 at WEIGHT_FULL L*, at most 2."""
    return np.clip((depth - DEPTH_LOW) / (WEIGHT_FULL - DEPTH_LOW), 0.0, 2.0)


def valley_strength(L: torch.Tensor, scales_px) -> tuple[torch.Tensor, torch.Tensor]:
    """``(V, best scale index)`` of the multi-scale valley filter on ``L``."""
    best = torch.zeros_like(L)
    arg = torch.zeros(L.shape, dtype=torch.long, device=L.device)
    for i, s in enumerate(scales_px):
        l1, l2 = hessian_eigenvalues(L, s)
        ratio = l2.clamp_min(0) / l1.clamp_min(1e-6)
        v = l1.clamp_min(0) * torch.exp(-(ratio ** 2) / (2 * BLOB_BETA ** 2))
        better = v > best
        best = torch.where(better, v, best)
        arg = torch.where(better, torch.full_like(arg, i), arg)
    return best, arg


def line_log_light(skin: SkinImage, ys: slice, xs: slice) -> np.ndarray:
    """ln Y (relative luminance, linear light) on a crop: a shadow that takes a fraction f
    of the light is a valley -ln(1 - f) deep on any skin."""
    return log_luminance(skin.linear[:, ys, xs]).cpu().numpy().astype(np.float32)


def valley_z(skin: SkinImage, zone: np.ndarray):
    """Valley evidence of ln Y on the zone's bounding box: ``((ys, xs), z, orientation index,
    scale index, response)``, each the best over orientations and scales, z in units of the
    face's own texture noise at that scale around the pixel (see ridges.noise_normalised).
    The filters see the real image up to GROW_MM outside the zone and a smooth fill beyond
    (eyes, hair, background), so neither the zone's edge nor what lies past it is a line."""
    ys, xs = bbox_slices(zone, int(skin.px(3 * ALONG_MM + GROW_MM)) + 2)
    img = line_log_light(skin, ys, xs)
    z = zone[ys, xs]
    grown = torch.from_numpy(cv2.dilate(z.astype(np.uint8), disc(skin.px(GROW_MM))) > 0)
    it = torch.from_numpy(img)
    img = torch.where(grown, it, masked_blur(it, grown, skin.px(1.5))).numpy()
    h, w = img.shape
    per_scale = []                       # (z, orientation, response) at full size
    for f in (1, 2):
        group = [i for i, s in enumerate(SCALES_MM) if (s >= HALF_RES_FROM_MM) == (f == 2)]
        if not group:
            continue
        if f == 1:
            src, zz = img, z
        else:
            size = ((w + 1) // 2, (h + 1) // 2)
            src = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
            zz = cv2.resize(z.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        R = oriented_valleys(src, [skin.px(SCALES_MM[i]) / f for i in group],
                             skin.px(ALONG_MM) / f, N_ORIENT)
        for j in range(len(group)):
            zj, oj, rj = noise_normalised(R[:, j], zz, skin.px(NOISE_WINDOW_MM) / f,
                                          NOISE_FLOOR)
            if f == 2:
                zj, rj = (cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR) for m in (zj, rj))
                oj = cv2.resize(oj, (w, h), interpolation=cv2.INTER_NEAREST)
            per_scale.append((zj, oj, rj))
    zs = np.stack([p[0] for p in per_scale])
    rs = np.stack([p[2] for p in per_scale])
    # the scale: the most significant one (z), but where a fold is clear (z > Z_WIDE) at the
    # scale of its strongest response, that one: a wide fold's two edges are significant
    # at fine scales too, and would be traced as two lines
    by_r = rs.argmax(axis=0)
    z_at_r = np.take_along_axis(zs, by_r[None], 0)[0]
    best_s = np.where(z_at_r > Z_WIDE, by_r, zs.argmax(axis=0)).astype(np.int16)
    take = best_s[None].astype(np.int64)
    best_z = np.take_along_axis(zs, take, 0)[0]
    best_r = np.take_along_axis(rs, take, 0)[0]
    best_o = np.take_along_axis(np.stack([p[1] for p in per_scale]), take, 0)[0]
    return (ys, xs), best_z, best_o, best_s, best_r


def detect(skin: SkinImage, zone: np.ndarray) -> list[dict]:
    """Lines inside ``zone``: dicts with line (LineString), polygon (deep lines), width px,
    depth L*, z, evidence, length px, deep flag, centre (x, y)."""
    if not zone.any():
        return []
    (ys, xs), Z, orient, sidx, resp = valley_z(skin, zone)
    z = zone[ys, xs]
    ridge = ridge_pixels(Z, orient, N_ORIENT) & (Z > Z_LOW) & z
    ev_px = skin.px(EVIDENCE_LENGTH_MM)

    def promising(labels, n, areas):
        # a path's evidence is at most its piece's highest z times sqrt(the piece's length)
        zmax = np.zeros(n, np.float32)
        np.maximum.at(zmax, labels[ridge], Z[ridge])
        return zmax * np.sqrt(math.sqrt(2) * areas / ev_px) >= EVIDENCE_MIN

    L = masked_blur(skin.lab[0, ys, xs], torch.from_numpy(z.copy()), skin.px(1.0)).cpu().numpy()
    out = []
    for path in ridge_paths(ridge, orient, N_ORIENT, skin.px(LENGTH_MIN_MM), MAX_TURN,
                            keep_piece=promising):
        yy, xx = path[:, 0], path[:, 1]
        length = float(np.hypot(*np.diff(path, axis=0).T).sum())
        zm = float(Z[yy, xx].mean())
        evidence = zm * math.sqrt(length / ev_px)
        depth_ln = float(np.median(resp[yy, xx])) / LOG_GAIN
        if evidence < EVIDENCE_MIN or depth_ln < DEPTH_FLOOR:
            continue
        # L* depth of a shadow taking that share of the light: dL* = (L* + 16) / 3 dlnY
        d = depth_ln * (float(np.median(L[yy, xx])) + 16.0) / 3.0
        w = float(np.median(np.asarray(SCALES_MM)[sidx[yy, xx]])) * skin.px(WIDTH_PER_SCALE)
        line = LineString(index_to_xy(yy + ys.start, xx + xs.start)).simplify(0.75)
        deep = w >= skin.px(DEEP_WIDTH_MM) and d >= DEEP_DEPTH
        out.append({"line": line, "polygon": line.buffer(w / 2, cap_style="flat") if deep
                    else None, "width": w, "depth": d, "depth_ln": depth_ln, "z": zm,
                    "evidence": evidence, "length": float(line.length), "deep": deep,
                    "centre": tuple(line.interpolate(0.5, normalized=True).coords[0])})
    return _distinct(out, skin.px(DUPLICATE_MM))


def _distinct(lines: list[dict], near_px: float) -> list[dict]:
    """Lines strongest first, without those lying for the most part within ``near_px`` of
    a stronger one's band (two scales, or the two edges of a wide fold)."""
    kept: list[dict] = []
    for ln in sorted(lines, key=lambda d: -d["evidence"]):
        g = ln["line"]
        if any(g.intersection(k["line"].buffer(k["width"] / 2 + near_px)).length
               > 0.5 * g.length for k in kept
               if k["line"].distance(g) < k["width"] / 2 + near_px):
            continue
        kept.append(ln)
    return kept
