"""Pores and resolution: the close-up, the distance rule and the population spread.

    .venv/bin/python benchmarks/pores_resolution.py [--closeup london_099] [--skip-population]

1. **Close-up.** We have no 12 MP photo; the sharpest real face at hand is london_099
   (quality sharpness 0.337, the highest of the 36; 1350 px, 3.33 px/mm on the face). It is
   analysed as it is and Lanczos-upscaled 2x and 3x (6.7 and 10 px/mm: more pixels, NOT more
   real detail: the upscale shows what the algorithm does with the pixels, not what a finer
   camera would see). Per photo: score, problems, pores drawn per area, how many lie outside
   the skin mask's core and on hair, brows or nostrils (must be 0).
2. **Distance.** One face, close and far: the portrait and it downscaled 0.5x (both under
   the 6 px/mm pores need: both null), and its 4x upscale (12 px/mm after the cap) and that
   at 0.5x (6.7 px/mm: both scored). The score counts pores >= 0.25 mm found on a 6 px/mm
   view, so both must agree (within 5 points).
3. **Population.** The pores score of the 36 development portraits upscaled 2x (6-7 px/mm:
   the scored pores resolved, by interpolation only): mean, sd, Spearman rho with age,
   per-ethnicity means. At their own 3.3 px/mm every score is null (low_resolution).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from algorithms.face import analyse_face  # noqa: E402
from algorithms.face.regions import feature_polygons  # noqa: E402
from algorithms.skin.geometry import rasterise  # noqa: E402
from algorithms.skin.skin_image import features_by_area, prepare  # noqa: E402
from algorithms.skin import pores as P  # noqa: E402

PHOTOS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                      "tests", "data", "photos")


def load(stem: str) -> np.ndarray:
    from benchmarks.population import SHARED

    for d in (PHOTOS, str(SHARED / "london"), str(SHARED)):
        p = os.path.join(d, f"{stem}.jpg")
        if os.path.exists(p):
            with Image.open(p) as im:
                return np.asarray(im.convert("RGB"))
    raise FileNotFoundError(stem)


def resize(img, f):
    if f == 1:
        return img
    return cv2.resize(img, None, fx=f, fy=f,
                      interpolation=cv2.INTER_LANCZOS4 if f > 1 else cv2.INTER_AREA)


def face_crop(img, face, margin=0.35):
    """The face and some surroundings (keeps upscaled photos small)."""
    x0, y0, x1, y1 = face.box
    w, h = x1 - x0, y1 - y0
    xa, ya = max(int(x0 - margin * w), 0), max(int(y0 - margin * h), 0)
    return np.ascontiguousarray(img[ya:int(y1 + margin * h), xa:int(x1 + margin * w)])


def closeup(img, label):
    face = analyse_face(img)
    t = time.perf_counter()
    res = P.Pores().analyse(img, face)
    dt = time.perf_counter() - t
    skin = prepare(face)
    feats = res.masks[0].features
    pts = np.array([[f.geometry.x, f.geometry.y] for f in feats]).reshape(-1, 2)
    xi, yi = pts[:, 0].astype(int), pts[:, 1].astype(int)
    fp = feature_polygons(face.landmarks_restored)
    off = rasterise(fp["right_brow"].union(fp["left_brow"]).union(fp["right_nostril"])
                    .union(fp["left_nostril"]), skin.shape)
    by = features_by_area(pts, skin, P.AREAS)
    subs = {m.tech_name: m.value for m in res.sub_metrics}
    score = res.main_metric.value
    print(f"| {label} | {face.px_per_mm:.2f} | "
          f"{'null' if score is None else f'{score:.1f}'} | "
          f"{', '.join(res.feedback['problems']) or '-'} | {len(feats)} | "
          + " | ".join(str(int(by[a].sum())) for a in P.AREAS)
          + f" | {int((~skin.skin_mask.core[yi, xi]).sum())} | "
          f"{int(skin.skin_mask.hair[yi, xi].sum())} | {int(off[yi, xi].sum())} | "
          f"{subs['pores_min_radius']} | {1000 * dt:.0f} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--closeup", default="london_099")
    ap.add_argument("--skip-population", action="store_true")
    args = ap.parse_args(argv)

    base = load(args.closeup)
    crop = face_crop(base, analyse_face(base))
    print(f"## close-up: {args.closeup}\n")
    print("| photo | px/mm | score | problems | pores drawn | " + " | ".join(P.AREAS)
          + " | outside core | on hair | on brows/nostrils | smallest radius mm | ms |")
    print("|---|" + "---:|" * (10 + len(P.AREAS)))
    closeup(base, "as taken (1350 px)")
    for f in (2, 3):
        closeup(resize(crop, f), f"face crop upscaled {f}x (not real detail)")

    print("\n## distance: close vs 0.5x\n")
    print("| close | close px/mm | close score | far px/mm | far score | difference |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, img in (("portrait", base), ("face crop upscaled 4x", resize(crop, 4))):
        out = []
        for im in (img, resize(img, 0.5)):
            face = analyse_face(im)
            out.append((face.px_per_mm, P.Pores().analyse(im, face).main_metric.value))
        (pa, a), (pb, b) = out
        diff = "both null" if a is None and b is None else (
            f"{abs(a - b):.1f}" if a is not None and b is not None else "one null")
        fmt = (lambda v: "null" if v is None else f"{v:.1f}")
        print(f"| {label} | {pa:.2f} | {fmt(a)} | {pb:.2f} | {fmt(b)} | {diff} |")

    if args.skip_population:
        return 0
    from benchmarks.population import SHARED, portraits, spearman

    rows = []
    for p in portraits([str(SHARED)]):
        with Image.open(p["path"]) as im:
            img = resize(np.asarray(im.convert("RGB")), 2)
        face = analyse_face(img)
        res = P.Pores().analyse(img, face)
        rows.append({**p, "score": res.main_metric.value, "ppm": face.px_per_mm,
                     "n": next(m.value for m in res.sub_metrics
                               if m.tech_name == "pores_number")})
    sc = [r["score"] for r in rows if r["score"] is not None]
    print(f"\n## population, 2x upscale ({len(rows)} portraits, {len(sc)} scored, "
          f"{min(r['ppm'] for r in rows):.1f}-{max(r['ppm'] for r in rows):.1f} px/mm)\n")
    rho = spearman([r["score"] for r in rows], [r["age"] for r in rows])
    print(f"pores score mean {statistics.mean(sc):.1f}, sd {statistics.stdev(sc):.1f}, "
          f"min {min(sc):.1f}, max {max(sc):.1f}; Spearman rho with age {rho[0]:.2f} "
          f"(p {rho[1]:.2f})")
    groups = sorted({g for r in rows for g in r["eth"].split("/")})
    for g in groups:
        v = [r["score"] for r in rows if g in r["eth"].split("/") and r["score"] is not None]
        if v:
            print(f"  {g:12s} n={len(v):2d} mean {statistics.mean(v):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
