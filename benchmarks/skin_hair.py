"""How much hair the skin mask keeps, against hand-drawn hair labels (issue 13).

    .venv/bin/python benchmarks/skin_hair.py [--labels tests/data/skin_hair_labels.json]

The labels (``tests/data/skin_hair_labels.json``) are polygons drawn by hand on the plain
portraits, in original pixels, independent of the mask's own hair model: ``hair`` (scalp
hair, sideburns, beard, moustache, visible stubble), ``ambiguous`` (shaved-beard shadow
without visible hairs) and ``skin`` (clear skin). Each photo's skin mask (restored
coordinates) is compared with the labels mapped into the restored face:

* hair share = area(mask AND hair) / area(mask)  (goal < 1 %);
* skin kept  = area(mask AND skin) / area(anatomy AND skin): the share of clear skin that the
  mask's colour model, selfie model and clean-up keep where the mesh's anatomy part allows.

Photos are read from ../shared/photos (and london/); those missing are skipped.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from shapely.geometry import Polygon
from shapely.ops import unary_union

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from algorithms.face import analyse_face  # noqa: E402
from algorithms.face.types import apply_affine  # noqa: E402
from algorithms.skin.geometry import rasterise  # noqa: E402
from algorithms.skin.skin_image import prepare  # noqa: E402

LABELS = ROOT / "tests" / "data" / "skin_hair_labels.json"
# The development portraits: where RASTERISATION_TEST_POPULATION_DIR says (.ci/run sets it
# wherever the checkout is), else next to the checkout; the six committed ones last.
_SHARED = [Path(d) for d in (os.environ.get("RASTERISATION_TEST_POPULATION_DIR"),) if d]
_SHARED.append(ROOT.parent / "shared" / "photos")
PHOTO_DIRS = tuple(x for d in _SHARED for x in (d, d / "london")) + (
    ROOT / "tests" / "data" / "photos",)


def find_photo(stem: str, dirs=PHOTO_DIRS) -> Path | None:
    for d in dirs:
        p = Path(d) / f"{stem}.jpg"
        if p.exists():
            return p
    return None


def not_skin(stem: str, labels_path: Path = LABELS) -> list:
    """The ``hair`` and ``ambiguous`` polygons (original pixels) hand-drawn on ``stem``, or
    [] when it has no labels: where benchmarks/groundtruth.py must not draw on clear skin."""
    data = json.loads(Path(labels_path).read_text())["photos"].get(stem, {})
    return [*data.get("hair", []), *data.get("ambiguous", [])]


def label_mask(polys, face, shape) -> np.ndarray:
    """Union of ``polys`` (original pixels) rasterised in the restored face."""
    if not polys:
        return np.zeros(shape, bool)
    m = face.restored.from_original
    geoms = [Polygon(apply_affine(m, np.asarray(p, float))).buffer(0) for p in polys]
    return rasterise(unary_union(geoms), shape)


def measure(image: np.ndarray, labels: dict, face=None) -> dict:
    """Hair share, ambiguous share and skin kept of one labelled photo."""
    face = face if face is not None else analyse_face(image)
    sm = prepare(face).skin_mask
    shape = sm.mask.shape
    hair = label_mask(labels.get("hair", []), face, shape)
    amb = label_mask(labels.get("ambiguous", []), face, shape)
    skin = label_mask(labels.get("skin", []), face, shape) & ~hair & ~amb
    n = max(int(sm.mask.sum()), 1)
    allowed = sm.anatomy & skin
    return {"mask_px": int(sm.mask.sum()),
            "hair_share": float((sm.mask & hair).sum() / n),
            "ambiguous_share": float((sm.mask & amb).sum() / n),
            "hair_in_anatomy": float((sm.anatomy & hair).sum() / max(int(sm.anatomy.sum()), 1)),
            "skin_kept": float((sm.mask & skin).sum() / max(int(allowed.sum()), 1))}


def run(labels_path: Path = LABELS, dirs=PHOTO_DIRS, verbose: bool = True) -> dict:
    data = json.loads(Path(labels_path).read_text())["photos"]
    out = {}
    for stem, lab in data.items():
        path = find_photo(stem, dirs)
        if path is None:
            continue
        with Image.open(path) as im:
            image = np.asarray(im.convert("RGB"))
        out[stem] = measure(image, lab)
        if verbose:
            r = out[stem]
            print(f"{stem}: hair {100 * r['hair_share']:.2f} % of the mask "
                  f"(ambiguous {100 * r['ambiguous_share']:.2f} %; hair in the anatomy part "
                  f"{100 * r['hair_in_anatomy']:.1f} %), clear skin kept "
                  f"{100 * r['skin_kept']:.1f} %", file=sys.stderr)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--labels", default=str(LABELS))
    args = ap.parse_args(argv)
    res = run(Path(args.labels))
    if not res:
        print("no labelled photo found", file=sys.stderr)
        return 1
    print("| photo | hair in the mask | ambiguous in the mask | hair in the anatomy part "
          "| clear skin kept |\n|---|---:|---:|---:|---:|")
    for stem, r in res.items():
        print(f"| {stem} | {100 * r['hair_share']:.2f} % | {100 * r['ambiguous_share']:.2f} % "
              f"| {100 * r['hair_in_anatomy']:.1f} % | {100 * r['skin_kept']:.1f} % |")
    tot = sum(r["hair_share"] * r["mask_px"] for r in res.values()) / sum(
        r["mask_px"] for r in res.values())
    print(f"\nall {len(res)}: hair {100 * tot:.2f} % of the mask pixels; worst "
          f"{100 * max(r['hair_share'] for r in res.values()):.2f} %; clear skin kept "
          f"{100 * min(r['skin_kept'] for r in res.values()):.1f}-"
          f"{100 * max(r['skin_kept'] for r in res.values()):.1f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
