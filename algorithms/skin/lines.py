"""Lines (wrinkles): dark valleys found by a multi-scale Hessian ridge filter on L*.

Method (docs/algorithms.md#lines): at each scale s the Hessian of the blurred L* has
eigenvalues l1 >= l2; across a dark line l1 is large and positive, along it l2 is near zero.
The valley strength V_s = s^2 * l1 * exp(-(max(l2, 0) / l1)^2 / (2 * BLOB_BETA^2)) keeps lines
and suppresses round dark blobs (pores, where l2 ~ l1). V = max over scales, calibrated to
L* units of line depth. Hysteresis (strong / weak thresholds) keeps the connected line pixels,
a skeleton gives each line's centre, the longest path through each skeleton piece is a
polyline (pieces left over are searched again: lines that meet are separate lines). Lines
wider than DEEP_WIDTH_MM and deeper than DEEP_DEPTH are "deep lines" and are returned as
polygons (their outline), the others as polylines with their width.

Anatomy is not a wrinkle (:mod:`algorithms.skin.line_zones`): the zone leaves out bands
around the face oval, nose sides, alae, lips, lids, brows and philtrum, and the surroundings
of specular highlights; each line is typed by the zone its middle lies in and kept only if
its direction fits that zone's orientation prior and it is smooth (not curled hair).

Score: the wrinkle index, mean valley strength at ENERGY_SCALE_MM over the zone (wrinkle
texture, whether or not it forms lines long enough to draw) plus LOAD_WEIGHT x the
depth-weighted length of the drawn lines per cm2, mapped by
100 * exp(-(index - INDEX_FLOOR) / INDEX_REF).
"""
from __future__ import annotations

import math

import numpy as np
import torch
from scipy import sparse
from scipy.sparse import csgraph
from shapely.affinity import translate
from shapely.geometry import LineString
from skimage.morphology import skeletonize

from algorithms.base import Algorithm, MetricSpec, register
from algorithms.skin.filters import hessian_eigenvalues, masked_blur
from algorithms.skin.geometry import bbox_slices, index_to_xy, polygon_features
from algorithms.skin.scores import (density, exp_score, main_metric, make_result, numeric,
                                    scored_by_area)
from algorithms.skin.skin_image import SkinImage, prepare, require_face
from algorithms.skin.spots import hysteresis, robust_sigma
from algorithms.skin import line_zones as LZ
from algorithms.types import Feature, Mask

ZONE = ("forehead", "glabella", "left_crows_feet", "right_crows_feet", "left_under_eye",
        "right_under_eye", "left_nasolabial", "right_nasolabial", "perioral", "left_cheek",
        "right_cheek", "chin")
AREAS = ("forehead", "left_cheek", "right_cheek", "chin", "left_eye_area", "right_eye_area")

SCALES_MM = (0.25, 0.40, 0.65, 1.00, 1.60)  # Hessian scales; line widths ~0.4-6 mm
BLOB_BETA = 0.5       # how round a valley may be before it is a blob, not a line
RIDGE_GAIN = 0.45     # V = RIDGE_GAIN * depth (L*) for a drawn line at its best scale
DEPTH_HIGH = 4.5      # L*: a line must reach this depth somewhere (strong seed)
DEPTH_LOW = 3.0       # and is followed while deeper than this
NOISE_HIGH = 4.0      # ... and at least this many robust sigmas of the valley map (seed)
NOISE_LOW = 2.5       # (extent)
LENGTH_MIN_MM = 3.0   # shorter valleys are texture, not lines
BRANCH_MIN = 3.0      # a line branching off another must be this many times as long
DEEP_WIDTH_MM = 1.2   # wider than this ...
DEEP_DEPTH = 12.0     # ... and deeper than this (L*): a deep line, drawn as a polygon
WIDTH_PER_SCALE = 2.0  # a line of width w answers best at scale ~ w / 2
WEIGHT_FULL = 10.0    # L*: median depth at which a line's length counts fully
# Score (docs/algorithms.md#lines): index = mean valley energy of the zone + LOAD_WEIGHT x
# depth-weighted line length per cm2; score = 100 exp(-(index - INDEX_FLOOR) / INDEX_REF),
# fitted on the 36 development portraits (benchmarks/population.py): their 5th percentile
# scores 90; the slope is as steep as exposure allows (+-10 % brightness scales L* contrasts
# by ~8 % and must move a score less than 5 points), which puts their 95th near 72.
LOAD_WEIGHT = 0.01
INDEX_FLOOR = 0.46
INDEX_REF = 0.95


@register
class Lines(Algorithm):
    tech_name = "lines"
    version = "1.0.0"
    mask_types = ("polyline_mask", "polygon_mask")
    areas = AREAS
    description = ("Wrinkles as dark valleys of L* (multi-scale Hessian ridge filter, "
                   "hysteresis, skeleton); fine lines as polylines, deep lines as polygons.")
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
        skin = prepare(face)
        pts = face.landmarks_restored
        zone = (skin.finding_zone(ZONE) & ~LZ.anatomy_bands(pts, skin.px_per_mm, skin.shape)
                & ~near_highlights(skin))
        lines = typed(detect(skin, zone), skin, pts)
        mm = skin.px_per_mm
        length = np.array([ln["length"] / mm for ln in lines])
        depth = np.array([ln["depth"] for ln in lines])
        width = np.array([ln["width"] / mm for ln in lines])
        deep = np.array([ln["deep"] for ln in lines], bool)
        centres = np.array([ln["centre"] for ln in lines]).reshape(-1, 2)
        load_w = length * line_weight(depth)
        energy = valley_energy(skin, zone)

        def metrics(sel, region):
            cm2 = max(skin.px2_to_cm2(region.sum()), 1e-6)
            area_zone = zone & region
            e = float(energy[area_zone].mean()) if area_zone.any() else 0.0
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


HAIR_LINE_Z = 2.0  # colour z-scores of hair (less blood, more melanin); a wrinkle is a
                   # shadow, which changes neither
HAIR_HUG_MM = 3.0  # a line whose middle half runs this close to hair is the hair's edge


def _distance_to_hair(skin: SkinImage) -> np.ndarray:
    """Distance (px) of each pixel to the nearest hair, beard or background pixel."""
    import cv2

    sm = skin.skin_mask
    other = (sm.hair | ~sm.person).astype(np.uint8)
    if not other.any():
        return np.full(skin.shape, np.inf, np.float32)
    return cv2.distanceTransform(1 - other, cv2.DIST_L2, 3)


STRAIGHTNESS_MIN = 0.6  # end-to-end distance / length: wrinkles are smooth, hair curls


def typed(lines: list[dict], skin: SkinImage, points: np.ndarray) -> list[dict]:
    """Lines with their ``type`` (zone), keeping those whose direction fits the zone's
    orientation prior and which are smooth enough to be wrinkles (see line_zones)."""
    regions = {r: skin.mask((r,)) for r in LZ.REGION_TYPE}
    hair_dist = _distance_to_hair(skin)
    hair_chroma = skin.skin_mask.hair_chroma
    out = []
    for ln in lines:
        line = ln["line"]
        xy = np.asarray([line.interpolate(t, normalized=True).coords[0]
                         for t in np.linspace(0, 1, 9)])
        yi = np.clip(xy[:, 1].astype(int), 0, skin.shape[0] - 1)
        xi = np.clip(xy[:, 0].astype(int), 0, skin.shape[1] - 1)
        if np.median(hair_dist[yi, xi]) < skin.px(HAIR_HUG_MM):
            continue  # runs along the edge of hair or background: a strand's outline
        ends = np.asarray(line.coords)[[0, -1]]
        if np.linalg.norm(ends[1] - ends[0]) < STRAIGHTNESS_MIN * max(line.length, 1e-9):
            continue
        kind = LZ.classify(ln["centre"], regions, points)
        if kind is None or not LZ.orientation_fits(kind, LZ.line_angle(line)):
            continue
        if line.length > skin.px(LZ.MAX_LENGTH_MM[kind]):
            continue
        if (kind != "under_eye" and hair_chroma is not None
                and np.median(hair_chroma[yi, xi]) > HAIR_LINE_Z):
            # less blood and more melanin than skin, not only darker: a hair (under the
            # eyes skin itself is browner: dark circles are not hair)
            continue
        out.append({**ln, "type": kind})
    return out


ENERGY_SCALE_MM = 1.0   # valleys ~2 mm wide: resolved from ~2 px/mm, so close and far
                        # photos of one face measure alike


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
    import cv2

    r = max(int(round(skin.px(HIGHLIGHT_BAND_MM))), 1)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    return cv2.dilate(skin.skin_mask.highlights.astype(np.uint8), disc).astype(bool)


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


def detect(skin: SkinImage, zone: np.ndarray) -> list[dict]:
    """Lines inside ``zone``: dicts with line (LineString), polygon, width px, depth L*,
    length px, deep flag, centre (x, y)."""
    if not zone.any():
        return []
    scales = [skin.px(s) for s in SCALES_MM]
    ys, xs = bbox_slices(zone, int(3 * scales[-1]) + 2)
    L = skin.lab[0, ys, xs]
    zt = torch.from_numpy(zone[ys, xs].copy()).to(L.device)
    L = torch.where(zt, L, masked_blur(L, zt, scales[-1] * 3))
    V, arg = valley_strength(L, scales)
    depth = (V / RIDGE_GAIN).cpu().numpy()
    arg = arg.cpu().numpy()
    z = zone[ys, xs]
    # Thresholds in L*, not scaled to the skin's lightness: a shadow of the same fraction of
    # the light reads shallower on dark skin, but dark skin's own texture (follicles, shine)
    # reads as deep in L* as light skin's, and scaled thresholds drew it as lines.
    # The valley map of noisy skin (dark skin's L*, stubble, JPEG) has a wide floor: seeds
    # and extents also clear NOISE_HIGH / NOISE_LOW robust sigmas of the map over the zone
    noise = robust_sigma(depth[z]) if z.any() else 0.0
    weak = (depth > max(DEPTH_LOW, NOISE_LOW * noise)) & z
    strong = (depth > max(DEPTH_HIGH, NOISE_HIGH * noise)) & z
    labels, stats, keep = hysteresis(strong, weak)
    if len(keep) == 0:
        return []
    sel = np.isin(labels, keep)
    skel = skeletonize(sel)
    out = []
    scale_arr = np.asarray(scales)
    min_len = skin.px(LENGTH_MIN_MM)
    for path in _longest_paths(skel, min_len):
        yy, xx = path[:, 0], path[:, 1]
        d = float(np.median(depth[yy, xx]))
        w = float(np.median(scale_arr[arg[yy, xx]])) * WIDTH_PER_SCALE
        pts = index_to_xy(yy + ys.start, xx + xs.start)
        line = LineString(pts).simplify(0.75)
        deep = w >= skin.px(DEEP_WIDTH_MM) and d >= DEEP_DEPTH
        poly = None
        if deep:
            # the outline of its hysteresis component near this line (the component may
            # hold other lines that touch it)
            comp = labels[yy[len(yy) // 2], xx[len(xx) // 2]]
            found = polygon_features(labels, [comp], stats, simplify_px=0.75)
            near = line.buffer(w, cap_style="flat")
            poly = (translate(found[0][1], xs.start, ys.start).intersection(near) if found
                    else line.buffer(w / 2))
            if poly.geom_type != "Polygon":
                parts = [p for p in getattr(poly, "geoms", []) if p.geom_type == "Polygon"]
                poly = max(parts, key=lambda p: p.area) if parts else line.buffer(w / 2)
        out.append({"line": line, "polygon": poly, "width": w, "depth": d,
                    "length": float(line.length), "deep": deep,
                    "centre": tuple(np.asarray(line.interpolate(0.5, normalized=True).coords)[0])})
    return out


def _longest_paths(skel: np.ndarray, min_len: float):
    """Lines through a skeleton, as pixel paths ``(n, 2)`` (y, x) at least ``min_len`` px long.

    In each component the longest path (two Dijkstra sweeps) is a line; what remains of the
    component once it is taken out (lines that touch or cross it, long branches) is searched
    again the same way, for pieces at least BRANCH_MIN times as long, so two wrinkles that
    meet are two lines, not one, and skeleton spurs are no lines at all."""
    yy, xx = np.nonzero(skel)
    n = len(yy)
    if n == 0:
        return []
    index = -np.ones(skel.shape, np.int64)
    index[yy, xx] = np.arange(n)
    rows, cols, wts = [], [], []
    h, w = skel.shape
    for dy, dx, wt in ((0, 1, 1.0), (1, 0, 1.0), (1, 1, math.sqrt(2)), (1, -1, math.sqrt(2))):
        y2, x2 = yy + dy, xx + dx
        ok = (y2 >= 0) & (y2 < h) & (x2 >= 0) & (x2 < w)
        j = np.full(n, -1)
        j[ok] = index[y2[ok], x2[ok]]
        m = j >= 0
        rows.append(np.arange(n)[m])
        cols.append(j[m])
        wts.append(np.full(m.sum(), wt))
    g = sparse.coo_matrix((np.concatenate(wts), (np.concatenate(rows), np.concatenate(cols))),
                          shape=(n, n)).tocsr()
    ncomp, comp = csgraph.connected_components(g, directed=False)
    queue = [(np.flatnonzero(comp == c), min_len) for c in range(ncomp)]
    paths = []
    while queue:
        nodes, need = queue.pop()
        if len(nodes) < 0.7 * need:  # cannot hold a line long enough
            continue
        sub = g[nodes][:, nodes]
        d0 = csgraph.dijkstra(sub, directed=False, indices=0)
        a = int(np.argmax(np.where(np.isfinite(d0), d0, -1)))
        da, pred = csgraph.dijkstra(sub, directed=False, indices=a, return_predecessors=True)
        b = int(np.argmax(np.where(np.isfinite(da), da, -1)))
        if da[b] < need:
            continue
        seq = [b]
        while seq[-1] != a:
            seq.append(pred[seq[-1]])
        seq = np.array(seq)
        paths.append(np.stack([yy[nodes[seq]], xx[nodes[seq]]], 1))
        # lines that cross or touch this one: what is left of the component, in pieces
        rest = np.ones(len(nodes), bool)
        rest[seq] = False
        if rest.sum() >= 0.7 * BRANCH_MIN * min_len:
            keep = np.flatnonzero(rest)
            n2, comp2 = csgraph.connected_components(sub[keep][:, keep], directed=False)
            queue.extend((nodes[keep[comp2 == c]], BRANCH_MIN * min_len) for c in range(n2))
    return paths
