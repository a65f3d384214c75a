"""The skin mask's stubble call on the development portraits, plain and with flushed cheeks.

    .venv/bin/python benchmarks/stubble_flush.py [--od 0 0.3 0.6] [--sigma-mm 12 ...]
        [--side both|left|right] [--stems london_006 ...]
    .venv/bin/python benchmarks/stubble_flush.py --transforms --stems london_125 london_138 \
        london_142

For every development portrait (``benchmarks/population.py``) and every flush strength and
width: the chin's stubble share (``SkinMask.chin_stubble``, ``beard.stubble_share``: dotted,
bloodless and unlit; stubbled (*) from ``beard.STUBBLE_SHARE``; "bearded" when the bearded
test took the face first) and the share of the anatomy part the mask keeps. The flush
(``groundtruth.flush``) is haemoglobin (optical density ``--od``) in a Gaussian of sigma
``--sigma-mm`` on the centre of both cheeks or of one (``--side``: the face layer's
``left_cheek`` is the subject's left, on the image's right), the function accuracy_real's
one-cheek flush is drawn with. The cheeks' seed discs are the colour model's blood
reference, so a flush there makes a clear chin look bloodless (docs/algorithms.md#skin,
"Fails on"). With ``--transforms``: no flush, the share under benchmarks/invariance.py's
transforms and LIGHTING instead (each photo through the face layer again), and its least.
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
from algorithms.skin.skin_image import prepare  # noqa: E402
from benchmarks.groundtruth import _to_linear, _to_srgb, flush  # noqa: E402
from benchmarks.invariance import LIGHTING, TRANSFORMS  # noqa: E402
from benchmarks.population import SHARED, portraits  # noqa: E402


SIDES = {"both": ("left_cheek", "right_cheek"), "left": ("left_cheek",),
         "right": ("right_cheek",)}


def flush_cheeks(image: np.ndarray, face, od: float, sigma_mm: float, *,
                 side: str = "both") -> np.ndarray:
    """``image`` with haemoglobin of optical density ``od`` added in a Gaussian of
    ``sigma_mm`` on each cheek's centre (the face layer's cheek regions; ``side`` "left" or
    "right": on that cheek alone, the subject's)."""
    if od == 0:
        return image
    regions = face.regions_in("original")
    centres = [(regions[n].centroid.x, regions[n].centroid.y) for n in SIDES[side]]
    return _to_srgb(flush(_to_linear(image), centres, sigma_mm * face.px_per_mm, od))


def measure(image: np.ndarray, face, od: float, sigma_mm: float, *, side: str = "both"
            ) -> tuple[float | None, float]:
    """(chin stubble share or None when bearded, share of the anatomy part kept), on the
    flushed photo with the plain photo's mesh (a flush moves no landmark)."""
    flushed = flush_cheeks(image, face, od, sigma_mm, side=side)
    same = face_from_landmarks(Pyramid(flushed), face.landmarks, face.landmarks_z)
    sm = prepare(same).skin_mask
    return sm.chin_stubble, float(sm.mask.sum() / max(int(sm.anatomy.sum()), 1))


def _cell(share: float | None) -> str:
    if share is None:
        return "bearded"
    return f"{share:.3f}{' *' if share >= STUBBLE_SHARE else ''}"


def transformed(people) -> None:
    """The chin share of each portrait under the invariance transforms, and its least."""
    names = ["plain", *TRANSFORMS, *LIGHTING]
    print("chin stubble share under benchmarks/invariance.py's transforms; stubbled (*) from "
          f"{STUBBLE_SHARE:g}\n")
    print("| portrait | " + " | ".join(names) + " | least |")
    print("|---|" + "---|" * (len(names) + 1))
    fns = {"plain": lambda im: im, **TRANSFORMS, **LIGHTING}
    for p in people:
        with Image.open(p["path"]) as im:
            image = np.asarray(im.convert("RGB"))
        got = []
        for name in names:
            face = analyse_face(fns[name](image))  # the SkinImage holds its face weakly
            sm = prepare(face).skin_mask
            got.append(sm.chin_stubble)
        shares = [g for g in got if g is not None]
        least = f"{min(shares):.3f}" if shares else "-"
        print(f"| {p['stem']} | " + " | ".join(_cell(g) for g in got) + f" | {least} |",
              flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--od", type=float, nargs="*", default=[0.0, 0.3, 0.6])
    ap.add_argument("--sigma-mm", type=float, nargs="+", default=[12.0])
    ap.add_argument("--side", choices=sorted(SIDES), default="both")
    ap.add_argument("--stems", nargs="*")
    ap.add_argument("--transforms", action="store_true",
                    help="the invariance transforms instead of a flush")
    args = ap.parse_args(argv)
    people = [p for p in portraits([SHARED]) if not args.stems or p["stem"] in args.stems]
    if not people:
        print("no portraits", file=sys.stderr)
        return 1
    if args.transforms:
        transformed(people)
        return 0
    where = "both cheeks" if args.side == "both" else f"the {args.side} cheek (the subject's)"
    print(f"chin stubble share / anatomy part kept, flush on {where}; stubbled (*) from "
          f"{STUBBLE_SHARE:g}\n")
    cols = [(od, sg) for sg in args.sigma_mm for od in args.od if od or sg == args.sigma_mm[0]]
    print("| portrait | sex | " + " | ".join(f"OD {od:g}" + (f", {sg:g} mm" if od else "")
                                             for od, sg in cols) + " |")
    print("|---|---|" + "---|" * len(cols))
    for p in people:
        with Image.open(p["path"]) as im:
            image = np.asarray(im.convert("RGB"))
        face = analyse_face(image)
        cells = []
        for od, sg in cols:
            share, kept = measure(image, face, od, sg, side=args.side)
            cells.append(f"{_cell(share)} / {kept:.2f}")
        print(f"| {p['stem']} | {p['sex'] or '?'} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
