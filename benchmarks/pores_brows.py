"""Pores by distance from the brows: why pores keep BROW_FRINGE_MM from them (issue 13).

    .venv/bin/python benchmarks/pores_brows.py [--upscale 3] [--stems london_121 ...]

Each development portrait's face crop is Lanczos-upscaled (default 3x, ~10 px/mm: pores
need 6) and pores are detected on the skin mask's core of their zone WITHOUT the brows'
fringe rule. Printed: detected pores per cm2 of that zone in bands of distance (mm) from
the mesh's brows, per portrait and over all. A band right outside the brows that is denser
than the forehead farther out holds the brows' sparse outer hairs, not pores.
"""
from __future__ import annotations

import argparse
import os
import sys

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage as ndi

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from algorithms.face import analyse_face  # noqa: E402
from algorithms.face.regions import feature_polygons  # noqa: E402
from algorithms.skin import native as N  # noqa: E402
from algorithms.skin import pores as P  # noqa: E402
from algorithms.skin.geometry import rasterise  # noqa: E402
from algorithms.skin.skin_image import prepare  # noqa: E402
from benchmarks.population import SHARED, portraits  # noqa: E402
from benchmarks.pores_resolution import face_crop  # noqa: E402

BANDS_MM = ((4.0, 4.5), (4.5, 6.0), (6.0, 9.0), (9.0, 15.0))


def densities(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(pores per band, cm2 per band) for one photo, pores found without the fringe rule."""
    face = analyse_face(img)
    skin = prepare(face)
    zone = skin.finding_zone(P.ZONE)
    view = N.native_view(img, face, zone, key="pores-brows")
    pts, _, _ = P.detect(view, P.detection_radii_mm(view.px_per_mm))
    f = feature_polygons(face.landmarks_restored)
    brows = rasterise(f["right_brow"].union(f["left_brow"]), skin.shape)
    dist = ndi.distance_transform_edt(~brows) / skin.px_per_mm
    d_pts = dist[pts[:, 1].astype(int), pts[:, 0].astype(int)] if len(pts) else np.zeros(0)
    n = np.array([((d_pts >= lo) & (d_pts < hi)).sum() for lo, hi in BANDS_MM], float)
    a = np.array([skin.px2_to_cm2((zone & (dist >= lo) & (dist < hi)).sum())
                  for lo, hi in BANDS_MM])
    return n, a


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--upscale", type=float, default=3.0)
    ap.add_argument("--stems", nargs="*")
    args = ap.parse_args(argv)
    people = [p for p in portraits([SHARED]) if not args.stems or p["stem"] in args.stems]
    head = " | ".join(f"{lo:g}-{hi:g} mm" for lo, hi in BANDS_MM)
    print(f"pores per cm2 by distance from the mesh's brows (upscale {args.upscale:g}x)\n")
    print(f"| portrait | {head} |\n|---|" + "---:|" * len(BANDS_MM))
    tn, ta = np.zeros(len(BANDS_MM)), np.zeros(len(BANDS_MM))
    for p in people:
        with Image.open(p["path"]) as im:
            img = np.asarray(im.convert("RGB"))
        crop = face_crop(img, analyse_face(img))
        up = cv2.resize(crop, None, fx=args.upscale, fy=args.upscale,
                        interpolation=cv2.INTER_LANCZOS4)
        n, a = densities(up)
        tn, ta = tn + n, ta + a
        print(f"| {p['stem']} | "
              + " | ".join(f"{x / y:.1f}" if y > 0 else "-" for x, y in zip(n, a)) + " |",
              flush=True)
    print("| **all** | " + " | ".join(f"**{x / y:.1f}**" if y > 0 else "-"
                                      for x, y in zip(tn, ta)) + " |")
    print("\nzone area per band (cm2, all portraits): "
          + ", ".join(f"{a:.1f}" for a in ta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
