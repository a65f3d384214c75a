"""Accuracy of the skin algorithms on ground truth injected into the real portraits.

    .venv/bin/python benchmarks/accuracy_real.py [--subset N] [--photos DIR ...]
        [--stems london_042 ...] [--kinds pores lines ...] [--seed 0] [--json OUT] [-v]

For every development portrait (``benchmarks/population.py``: ../shared/photos/*.jpg and
../shared/photos/london/*.jpg, 36 faces) and every kind (pores, lines, acne, pigmentation)
the features of ``benchmarks/groundtruth.py`` are drawn at physical sizes into the clean
photo, on clear skin only (never on the hair and ambiguous polygons hand-drawn in
``tests/data/skin_hair_labels.json`` on the portraits that have them), and each algorithm
runs on the clean photo and on the injected one (``registry.get(name).analyse(image,
face)``; results mapped from restored to original pixels). The injected photo is analysed
with the clean photo's face mesh (drawn features do not move a mesh; landmark jitter belongs
to the invariance benchmark). ``--subset N`` takes N portraits round robin over the
ethnicity groups (a spread, not the first N).

Matching (original pixels; rules in groundtruth.match_*):

* pores: a detection matches a drawn dot when its centre is within max(2 px, dot radius);
* lines: a drawn line is found when half its length lies within max(2 px, width) of the
  detections; a detection is right when half of it lies within that band of a drawn line;
* acne, pigmentation: IoU >= 0.3 between a detection's polygon and a drawn spot;
  all one-to-one, best first.

recall = drawn features found / drawn. **precision** = detections matching a drawn feature /
(detections - background), where *background* is a detection that matches no drawn feature
and matches (same rule) a detection already made on the clean photo: real skin with no
label, which we can neither call right nor wrong. **raw precision** counts every detection.

Redness: a flush (haemoglobin, sigma 10 mm) on one cheek; reported: the fraction of its
half-maximum disk (clipped to the face skin) inside the heatmap (any level), the level at its
centre, the share of newly red heatmap area that lies in the disk (+5 %), and the score.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import os
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field

import numpy as np
from PIL import Image
from shapely.geometry import Point
from shapely.ops import unary_union

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from algorithms import registry  # noqa: E402
from benchmarks import groundtruth as gt  # noqa: E402
from benchmarks.skin_hair import not_skin  # noqa: E402

DETECTORS = ("pores", "lines", "acne", "pigmentation")
COUNTS = {"pores": 30, "lines": 6, "acne": 8, "pigmentation": 6}


def shared_dir() -> str:
    return os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "shared", "photos")


def load(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"))


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """Re-encode as a camera would (4:2:0), so drawn features carry JPEG loss too."""
    if not quality:
        return image
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    buf.seek(0)
    return load(buf)


def original(result, face):
    w, h = face.image_size
    return result.transformed(face.restored.to_original, width=w, height=h,
                              image_type="original")


def same_geometry(face, image):
    """``face``'s landmarks, transform and regions, with the restored image cut from
    ``image`` (the injected photo)."""
    from algorithms.face.analyse import face_from_landmarks
    from algorithms.face.roi import Pyramid

    return face_from_landmarks(Pyramid(np.ascontiguousarray(image)), face.landmarks,
                               face.landmarks_z, face_count=face.face_count)


def detections(kind: str, result):
    feats = [f for m in result.masks for f in m.features]
    if kind == "pores":
        return [(f.geometry.x, f.geometry.y, float(f.properties.get("radius", 1.0)))
                for f in feats]
    if kind == "lines":
        return [(f.geometry, float(f.properties.get("width", 1.0))) for f in feats]
    return [f.geometry for f in feats]


def match(kind, truths, dets):
    if kind == "pores":
        return gt.match_points(truths, dets)
    if kind == "lines":
        return gt.match_lines(truths, dets)
    return gt.match_polygons(truths, dets)


@dataclass
class Row:
    kind: str
    photo: str
    eth: str
    px_per_mm: float
    truths: int
    detections: int
    background: int
    tp_truth: int
    tp_det: int
    score_clean: float | None
    score_injected: float | None
    in_zone: int = 0            # drawn features centred where the algorithm looks
    tp_in_zone: int = 0         # ... and found
    per_truth: list = field(default_factory=list)   # (props, found)
    false_zones: dict = field(default_factory=dict)  # region of each false detection
    note: str = ""

    @property
    def recall(self):
        return self.tp_truth / self.truths if self.truths else float("nan")

    @property
    def precision(self):
        new = self.detections - self.background
        return self.tp_det / new if new > 0 else float("nan")

    @property
    def raw_precision(self):
        return self.tp_det / self.detections if self.detections else float("nan")


def _zone_of(face_regions, geom) -> str:
    c = geom.centroid if geom.geom_type != "Point" else geom
    for name in ("forehead", "glabella", "nose", "left_cheek", "right_cheek", "chin",
                 "left_under_eye", "right_under_eye", "left_crows_feet", "right_crows_feet",
                 "left_nasolabial", "right_nasolabial", "perioral"):
        g = face_regions.get(name)
        if g is not None and g.contains(c):
            return name.replace("left_", "").replace("right_", "")
    return "other"


def _nearness(kind, truths, dets) -> list[float]:
    """Per drawn feature, how close the detections came: pores, distance (px) to the
    nearest detection; lines, the fraction of its length within tolerance; spots, the best
    IoU. Tells a near miss (a matching-rule question) from nothing found."""
    out = []
    if kind == "pores":
        dp = np.array([[d[0], d[1]] for d in dets]) if dets else np.zeros((0, 2))
        for t in truths:
            out.append(float(np.min(np.hypot(dp[:, 0] - t.geometry.x, dp[:, 1] - t.geometry.y)))
                       if len(dp) else float("inf"))
    elif kind == "lines":
        u = unary_union([g if g.geom_type != "Polygon" else g.boundary for g, _ in dets]) \
            if dets else None
        for t in truths:
            out.append(0.0 if u is None else
                       t.geometry.intersection(u.buffer(max(2.0, t.size))).length
                       / t.geometry.length)
    else:
        for t in truths:
            best = 0.0
            for d in dets:
                if t.geometry.intersects(d):
                    best = max(best, t.geometry.intersection(d).area
                               / t.geometry.union(d).area)
            out.append(best)
    return out


def _value(res):
    mm = res.main_metric
    return None if mm is None or mm.value is None else float(mm.value)


class Photo:
    """One portrait: its face, clean results per kind (cached), clear-skin map."""

    def __init__(self, stem, path, eth, quality=90, upscale=1.0):
        import cv2

        from algorithms.face import analyse_face

        self.stem, self.eth = stem, eth
        image = load(path)
        if upscale != 1.0:   # a finer camera (Lanczos): features are drawn at the new px/mm
            image = cv2.resize(image, None, fx=upscale, fy=upscale,
                               interpolation=cv2.INTER_LANCZOS4)
        self.image = jpeg(image, quality)
        self.quality = quality
        self.face = analyse_face(self.image)
        hand = [np.asarray(q, float) * upscale for q in not_skin(stem)]
        self.skin = gt.clear_skin(self.image, self.face, not_skin=hand)
        self.regions = self.face.regions_in("original")
        self._clean = {}

    def clean(self, kind):
        if kind not in self._clean:
            self._clean[kind] = original(registry.get(kind).analyse(self.image, self.face),
                                         self.face)
        return self._clean[kind]

    def injected(self, kind, n, seed):
        scene = gt.inject(self.image, self.face, kind, n, seed=seed, skin=self.skin)
        img = jpeg(scene.image, self.quality)
        face1 = same_geometry(self.face, img)
        return scene, original(registry.get(kind).analyse(img, face1), face1)


def in_analysed_zone(kind: str, face, truths) -> np.ndarray:
    """Whether each drawn feature's centre lies where the algorithm looks: its module's
    ``analysed_zone(skin)`` if it has one, else the skin mask's core of its ``ZONE``
    (without highlights for the colour findings). The generator keeps the mask's own mesh
    margins and border band (groundtruth.ANATOMY_MARGINS_MM), but the mask also leaves out
    hair by its colour model, highlights, and pores the brows' fringe: a feature drawn there
    is counted as missed in ``recall`` and left out of ``recall in zone``, which measures the
    detector alone."""
    import importlib

    from algorithms.face.types import apply_affine
    from algorithms.skin.skin_image import prepare

    module = importlib.import_module(f"algorithms.skin.{kind}")
    skin = prepare(face)
    if hasattr(module, "analysed_zone"):
        zone = module.analysed_zone(skin)
    else:
        zone = skin.finding_zone(module.ZONE, colour=kind in ("acne", "pigmentation"))
    centres = np.array([[c.x, c.y] for c in (
        t.geometry.interpolate(0.5, normalized=True) if t.geometry.geom_type == "LineString"
        else t.geometry.centroid for t in truths)]).reshape(-1, 2)
    xy = np.round(apply_affine(face.restored.from_original, centres) - 0.5).astype(int)
    h, w = zone.shape
    ok = (xy[:, 0] >= 0) & (xy[:, 0] < w) & (xy[:, 1] >= 0) & (xy[:, 1] < h)
    out = np.zeros(len(xy), bool)
    out[ok] = zone[xy[ok, 1], xy[ok, 0]]
    return out


def evaluate(photo: Photo, kind: str, seed: int = 0, n: int | None = None) -> Row:
    clean = photo.clean(kind)
    scene, res = photo.injected(kind, n or COUNTS[kind], seed)
    dets = detections(kind, res)
    found, good = match(kind, scene.truths, dets)
    bg = gt.pre_existing(kind, detections(kind, clean), dets) - good
    row = Row(kind, photo.stem, photo.eth, photo.face.px_per_mm, len(scene.truths), len(dets),
              len(bg), len(found), len(good), _value(clean), _value(res), note=scene.note)
    near = _nearness(kind, scene.truths, dets)
    inside = in_analysed_zone(kind, photo.face, scene.truths)
    row.in_zone, row.tp_in_zone = int(inside.sum()), sum(i in found for i in np.flatnonzero(inside))
    row.per_truth = [({**t.props, "near": near[i], "in_zone": bool(inside[i])}, i in found)
                     for i, t in enumerate(scene.truths)]
    zones = defaultdict(int)
    for j, d in enumerate(dets):
        if j in good or j in bg:
            continue
        g = Point(d[0], d[1]) if kind == "pores" else (d[0] if kind == "lines" else d)
        zones[_zone_of(photo.regions, g)] += 1
    row.false_zones = dict(zones)
    return row


def evaluate_redness(photo: Photo, seed: int = 0) -> dict:
    clean = photo.clean("redness")
    scene, res = photo.injected("redness", 1, seed)
    truth = scene.truths[0].geometry

    def level(r, k):
        g = [f.geometry for m in r.masks for f in m.features if f.properties.get("level") == k]
        return unary_union(g) if g else None

    heat0, heat1 = level(clean, 0), level(res, 0)
    new = heat1.difference(heat0) if heat1 is not None and heat0 is not None else heat1
    covered = truth.intersection(heat1).area / truth.area if heat1 is not None else 0.0
    new_inside = (new.intersection(truth.buffer(truth.length * 0.05)).area / new.area
                  if new is not None and new.area > 0 else float("nan"))
    centre = truth.centroid
    lv = max([f.properties.get("level", 0) for m in res.masks for f in m.features
              if f.geometry.contains(centre)], default=-1)
    return {"photo": photo.stem, "eth": photo.eth, "flush_covered": covered,
            "new_heat_inside_flush": new_inside, "flush_centre_level": lv,
            "score_clean": _value(clean), "score_flushed": _value(res)}


# --------------------------------------------------------------------------- tables
def totals(rows):
    t = sum(r.truths for r in rows)
    tp_t = sum(r.tp_truth for r in rows)
    d = sum(r.detections for r in rows)
    bg = sum(r.background for r in rows)
    tp_d = sum(r.tp_det for r in rows)
    z = sum(r.in_zone for r in rows)
    tp_z = sum(r.tp_in_zone for r in rows)
    nan = float("nan")
    return {"truths": t, "found": tp_t, "detections": d, "background": bg, "tp_det": tp_d,
            "recall": tp_t / t if t else nan,
            "in_zone": z / t if t else nan, "recall_in_zone": tp_z / z if z else nan,
            "precision": tp_d / (d - bg) if d - bg > 0 else nan,
            "raw_precision": tp_d / d if d else nan}


def groups_of(eth: str) -> list[str]:
    return eth.split("/")


def fmt(v):
    return "  -  " if v != v else f"{v:.2f}"


def table_kind(rows) -> str:
    out = ["| kind | photos | drawn | found | detections | background | recall | precision "
           "| raw precision | drawn in zone | recall in zone |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for kind in DETECTORS:
        sel = [r for r in rows if r.kind == kind]
        if not sel:
            continue
        t = totals(sel)
        out.append(f"| {kind} | {len(sel)} | {t['truths']} | {t['found']} | {t['detections']} "
                   f"| {t['background']} | {fmt(t['recall'])} | {fmt(t['precision'])} "
                   f"| {fmt(t['raw_precision'])} | {fmt(t['in_zone'])} "
                   f"| {fmt(t['recall_in_zone'])} |")
    return "\n".join(out)


def table_eth(rows) -> str:
    groups = sorted({g for r in rows for g in groups_of(r.eth)})
    n = {g: len({r.photo for r in rows if g in groups_of(r.eth)}) for g in groups}
    out = ["| kind | " + " | ".join(f"{g} (n={n[g]})" for g in groups) + " |",
           "|---|" + "---|" * len(groups)]
    for kind in DETECTORS:
        cells = []
        for g in groups:
            sel = [r for r in rows if r.kind == kind and g in groups_of(r.eth)]
            if not sel:
                cells.append("-")
                continue
            t = totals(sel)
            cells.append(f"R {fmt(t['recall'])} / P {fmt(t['precision'])} "
                         f"(raw {fmt(t['raw_precision'])})")
        if any(c != "-" for c in cells):
            out.append(f"| {kind} | " + " | ".join(cells) + " |")
    return "\n".join(out)


BINS = {"pores": ("radius_mm", (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.46)),
        "lines": ("width_mm", (0.2, 0.3, 0.4, 0.5, 0.61)),
        "acne": ("radius_mm", (1.0, 1.5, 2.0, 2.5, 3.01)),
        "pigmentation": ("radius_mm", (0.5, 1.5, 2.5, 3.5, 6.01))}


def table_sizes(rows) -> str:
    """Recall by drawn size, and by group: where the misses are."""
    out = []
    for kind in DETECTORS:
        sel = [r for r in rows if r.kind == kind]
        if not sel:
            continue
        key, edges = BINS[kind]
        items = [(p, f, r.eth) for r in sel for p, f in r.per_truth]
        cells = []
        for lo, hi in zip(edges, edges[1:]):
            b = [f for p, f, _ in items if lo <= p.get(key, -1) < hi]
            if b:
                cells.append(f"{lo:g}-{hi:.2g}: {sum(b) / len(b):.2f} (n={len(b)})")
        dl = [p.get("da" if kind == "acne" else "dL", 0) for p, _, _ in items]
        miss = [p.get("da" if kind == "acne" else "dL", 0) for p, f, _ in items if not f]
        name = "peak a* rise" if kind == "acne" else "peak L* drop"
        med = f"median {name} drawn {statistics.median(dl):+.1f}" if dl else ""
        medm = f", missed {statistics.median(miss):+.1f}" if miss else ""
        out.append(f"- {kind} recall by {key}: " + "; ".join(cells) + f" ({med}{medm})")
        nm = [p["near"] for p, f, _ in items if not f]
        if nm:
            what = {"pores": "distance to the nearest detection (px)",
                    "lines": "share of length within tolerance",
                    "acne": "best IoU", "pigmentation": "best IoU"}[kind]
            q = np.quantile(np.asarray(nm, float), [0.25, 0.5, 0.75])
            out.append(f"  missed ({len(nm)}): {what} quartiles "
                       + " / ".join(f"{v:.2f}" for v in q))
        zs = defaultdict(lambda: [0, 0])
        for p, f, _ in items:
            zs[p.get("zone", "?").replace("left_", "").replace("right_", "")][0] += f
            zs[p.get("zone", "?").replace("left_", "").replace("right_", "")][1] += 1
        out.append("  recall by zone: " + ", ".join(f"{z} {a / b:.2f} (n={b})"
                                                   for z, (a, b) in sorted(zs.items())))
        fz = defaultdict(int)
        for r in sel:
            for z, c in r.false_zones.items():
                fz[z] += c
        if fz:
            out.append(f"  false detections by region: "
                       + ", ".join(f"{z} {c}" for z, c in sorted(fz.items(), key=lambda x: -x[1])))
    return "\n".join(out)


def main(argv=None) -> int:
    from benchmarks.population import portraits

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", nargs="*", default=[shared_dir()])
    ap.add_argument("--subset", type=int, default=0, help="spread N portraits (0: all)")
    ap.add_argument("--stems", nargs="*", help="only these portraits")
    ap.add_argument("--kinds", nargs="*", default=list(DETECTORS) + ["redness"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jpeg", type=int, default=90, help="re-encode quality (0: none)")
    ap.add_argument("--upscale", type=float, default=1.0,
                    help="resize the portraits first (e.g. 2: ~6.5 px/mm, pores 0.15 mm+)")
    ap.add_argument("--json", help="write every row here")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per photo and kind")
    args = ap.parse_args(argv)
    people = portraits(args.photos)
    if args.stems:
        people = [p for p in people if p["stem"] in args.stems]
    if args.subset and args.subset < len(people):   # round robin over the groups
        by = defaultdict(list)
        for p in people:
            by[p["eth"]].append(p)
        queues = sorted(by.values(), key=len)
        pick = []
        while len(pick) < args.subset:
            for q in queues:
                if q and len(pick) < args.subset:
                    pick.append(q.pop(0))
        people = pick
    if not people:
        print("no portraits", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    rows, red = [], []
    for i, p in enumerate(people):
        photo = Photo(p["stem"], p["path"], p["eth"], args.jpeg, args.upscale)
        for kind in args.kinds:
            if kind == "redness":
                red.append(evaluate_redness(photo, seed=args.seed + i))
                continue
            r = evaluate(photo, kind, seed=args.seed + i)
            rows.append(r)
            if args.verbose:
                print(f"{kind:12s} {r.photo:11s} {r.eth:17s} {r.px_per_mm:4.2f}px/mm "
                      f"drawn {r.truths:2d} det {r.detections:3d} bg {r.background:3d} "
                      f"R {fmt(r.recall)} P {fmt(r.precision)} raw {fmt(r.raw_precision)} "
                      f"score {r.score_clean}->{r.score_injected} {r.note}", file=sys.stderr)
    pxmm = [r.px_per_mm for r in rows if r.kind == rows[0].kind] if rows else []
    print(f"{len(people)} portraits, {min(pxmm, default=0):.2f}-{max(pxmm, default=0):.2f} "
          f"px/mm; upscale {args.upscale:g}; JPEG q{args.jpeg}; seed {args.seed}; "
          f"{time.perf_counter() - t0:.0f} s\n")
    if pxmm:
        rr = [gt.pore_radius_range(v) for v in pxmm]
        rr = [x for x in rr if x]
        if rr:
            print(f"pores drawn at radius {min(x[0] for x in rr):.2f}-"
                  f"{gt.SIZES_MM['pores'][1]:.2f} mm (>= 1 px); "
                  f"0.15 mm pores need >= {1 / 0.15:.1f} px/mm\n")
    if rows:
        print(table_kind(rows) + "\n")
        print(table_eth(rows) + "\n")
        print(table_sizes(rows) + "\n")
    if red:
        cov = [r["flush_covered"] for r in red]
        lv = [r["flush_centre_level"] for r in red]
        ni = [r["new_heat_inside_flush"] for r in red
              if not math.isnan(r["new_heat_inside_flush"])]
        drop = [r["score_clean"] - r["score_flushed"] for r in red
                if r["score_clean"] is not None and r["score_flushed"] is not None]
        print(f"redness flush: half-maximum disk inside the heatmap mean "
              f"{statistics.fmean(cov):.2f} "
              f"(min {min(cov):.2f}, >= 0.9 on {sum(c >= 0.9 for c in cov)}/{len(cov)}); "
              f"centre level median {statistics.median(lv)}; new heat inside the disk mean "
              f"{statistics.fmean(ni) if ni else float('nan'):.2f}; score drop mean "
              f"{statistics.fmean(drop) if drop else float('nan'):.1f}")
        groups = sorted({g for r in red for g in groups_of(r["eth"])})
        per = {g: [r["flush_covered"] for r in red if g in groups_of(r["eth"])] for g in groups}
        print("  per group: " + ", ".join(f"{g} {statistics.fmean(v):.2f}"
                                          for g, v in per.items()))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": [{**asdict(r), "recall": r.recall, "precision": r.precision,
                                 "raw_precision": r.raw_precision} for r in rows],
                       "redness": red}, fh, indent=1, default=str)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
