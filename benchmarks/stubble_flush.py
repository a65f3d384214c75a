"""The skin mask's stubble call on the development portraits, plain and with flushed cheeks.

    .venv/bin/python benchmarks/stubble_flush.py [--od 0 0.3 0.6] [--sigma-mm 12]
        [--stems london_006 ...]

For every development portrait (``benchmarks/population.py``) and every flush strength: the
chin's stubble share (``SkinMask.chin_stubble``, ``beard.stubble_share``: dotted, bloodless
and unlit; stubbled from ``beard.STUBBLE_SHARE``; "bearded" when the bearded test took the
face first) and the share of the anatomy part the mask keeps. The flush is haemoglobin
(optical density ``--od``, spectrum ``chromophores.HAEMOGLOBIN``) in a Gaussian of sigma
``--sigma-mm`` on each cheek's centre, drawn in linear light as benchmarks/groundtruth.py
draws its one-cheek flush. The cheeks' seed discs are the colour model's blood reference,
so a flush there makes a clear chin look bloodless (docs/algorithms.md#skin, "Fails on").
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from algorithms.face import analyse_face  # noqa: E402
from algorithms.face.analyse import face_from_landmarks  # noqa: E402
from algorithms.face.roi import Pyramid  # noqa: E402
from algorithms.skin.beard import STUBBLE_SHARE  # noqa: E402
from algorithms.skin.chromophores import HAEMOGLOBIN  # noqa: E402
from algorithms.skin.skin_image import prepare  # noqa: E402
from benchmarks.groundtruth import _to_linear, _to_srgb  # noqa: E402
from benchmarks.population import SHARED, portraits  # noqa: E402


def flush_cheeks(image: np.ndarray, face, od: float, sigma_mm: float) -> np.ndarray:
    """``image`` with haemoglobin of optical density ``od`` added in a Gaussian of
    ``sigma_mm`` on each cheek's centre (the face layer's cheek regions)."""
    if od == 0:
        return image
    regions = face.regions_in("original")
    sigma = sigma_mm * face.px_per_mm
    yy, xx = np.mgrid[0:image.shape[0], 0:image.shape[1]].astype(np.float32) + 0.5
    cover = np.zeros(image.shape[:2], np.float32)
    for name in ("left_cheek", "right_cheek"):
        c = regions[name].centroid
        np.maximum(cover, np.exp(-((xx - c.x) ** 2 + (yy - c.y) ** 2) / (2 * sigma ** 2)),
                   out=cover)
    lin = _to_linear(image) * np.exp(-od * cover[..., None] * np.asarray(HAEMOGLOBIN,
                                                                          np.float32))
    return _to_srgb(lin)


def measure(image: np.ndarray, face, od: float, sigma_mm: float) -> tuple[float | None, float]:
    """(chin stubble share or None when bearded, share of the anatomy part kept), on the
    flushed photo with the plain photo's mesh (a flush moves no landmark)."""
    flushed = flush_cheeks(image, face, od, sigma_mm)
    same = face_from_landmarks(Pyramid(flushed), face.landmarks, face.landmarks_z)
    sm = prepare(same).skin_mask
    return sm.chin_stubble, float(sm.mask.sum() / max(int(sm.anatomy.sum()), 1))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--od", type=float, nargs="*", default=[0.0, 0.3, 0.6])
    ap.add_argument("--sigma-mm", type=float, default=12.0)
    ap.add_argument("--stems", nargs="*")
    args = ap.parse_args(argv)
    people = [p for p in portraits([SHARED]) if not args.stems or p["stem"] in args.stems]
    if not people:
        print("no portraits", file=sys.stderr)
        return 1
    print(f"chin stubble share / anatomy part kept, flush sigma {args.sigma_mm:g} mm on both "
          f"cheeks; stubbled from {STUBBLE_SHARE:g} (*)\n")
    print("| portrait | sex | " + " | ".join(f"OD {od:g}" for od in args.od) + " |")
    print("|---|---|" + "---|" * len(args.od))
    for p in people:
        with Image.open(p["path"]) as im:
            image = np.asarray(im.convert("RGB"))
        face = analyse_face(image)
        cells = []
        for od in args.od:
            share, kept = measure(image, face, od, args.sigma_mm)
            called = share is not None and share >= STUBBLE_SHARE
            cells.append(("bearded" if share is None else f"{share:.3f}{' *' if called else ''}")
                         + f" / {kept:.2f}")
        print(f"| {p['stem']} | {p['sex'] or '?'} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
