"""Accuracy of the skin algorithms on injected ground truth (benchmarks/groundtruth.py).

    .venv/bin/python benchmarks/accuracy.py [--quick] [--hand]

For each base photo (the astronaut upscaled to 1024 and 2048 px; the 1024 px one in two more
skin tones) and each algorithm, draws features of known place and size, runs the algorithm on
the clean and on the injected photo, and matches detections (mapped to original pixels)
against the truth. Prints precision and recall per algorithm and photo, and the overlap of the
redness heatmap with the flush and of the dark-circle polygons with the under-eye bands.

Precision counts only *new* detections: a detection that matches (same rule) one already made
on the clean photo is real skin without a label, reported as ``background`` and left out;
``raw_precision`` counts those as false too. ``--hand`` uses the hand-made face geometry of
benchmarks/handface.py instead of the face models.
"""
from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass

import numpy as np
from shapely.ops import unary_union

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from algorithms import registry  # noqa: E402
from benchmarks import groundtruth as gt  # noqa: E402

COUNTS = {"pores": 30, "lines": 8, "acne": 10, "pigmentation": 8}
SIZES = (1024, 2048)


def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def face_function(hand: bool = False, eyes=None, scale: float = 1.0):
    """``image -> FaceGeometry``: the face layer's models, or the hand-made geometry."""
    if not hand:
        try:
            from algorithms.face import analyse_face  # noqa: F401
        except ImportError:
            hand = True
    if hand:
        from benchmarks.handface import EYES, face_from_eyes

        r, lft = eyes or EYES["astronaut"]
        r = (r[0] * scale, r[1] * scale)
        lft = (lft[0] * scale, lft[1] * scale)
        return lambda img: face_from_eyes(img, r, lft)
    from algorithms.face import analyse_face

    return analyse_face


def same_geometry(face_fn, face, image):
    """``face``'s landmarks, transform and regions, with the restored image cut from ``image``
    (the injected photo): features of a few pixels do not move a face mesh, and reusing it
    keeps landmark jitter (which the invariance tests measure) out of the accuracy figures.
    The hand-made geometry depends on fixed eye positions only: ``face_fn`` gives the same."""
    if not np.any(face.landmarks):
        return face_fn(image)
    from algorithms.face.analyse import face_from_landmarks
    from algorithms.face.roi import Pyramid

    return face_from_landmarks(Pyramid(np.ascontiguousarray(image)), face.landmarks,
                               face.landmarks_z, face_count=face.face_count)


def bases(quick: bool = False) -> list[tuple[str, np.ndarray, float]]:
    """``(name, image, scale vs the 512 px astronaut)`` of the photos to inject into."""
    a = astronaut()
    out = [(f"astronaut_{s}", gt.upscale(a, s), s / 512) for s in SIZES]
    a1024 = gt.upscale(a, 1024)
    for tone in ("tan", "brown"):
        out.append((f"astronaut_1024_{tone}", gt.skin_tone_variant(a1024, gt.TONES[tone]), 2.0))
    return out[:1] + out[2:3] if quick else out


def original(result, face):
    w, h = face.image_size
    return result.transformed(face.restored.to_original, width=w, height=h,
                              image_type="original")


def detections(kind: str, result):
    feats = [(m.mask_type, f) for m in result.masks for f in m.features]
    if kind == "pores":
        return [(f.geometry.x, f.geometry.y, f.properties.get("radius", 1.0)) for _, f in feats]
    if kind == "lines":
        return [(f.geometry, float(f.properties.get("width", 1.0))) for _, f in feats]
    return [f.geometry for _, f in feats]


def match(kind, truths, dets):
    if kind == "pores":
        return gt.match_points(truths, dets)
    if kind == "lines":
        return gt.match_lines(truths, dets)
    return gt.match_polygons(truths, dets)


@dataclass
class Score:
    kind: str
    photo: str
    truths: int
    detections: int
    background: int
    tp_truth: int
    tp_det: int
    score_clean: float
    score_injected: float

    @property
    def recall(self) -> float:
        return self.tp_truth / self.truths if self.truths else 1.0

    @property
    def precision(self) -> float:
        new = self.detections - self.background
        return self.tp_det / new if new > 0 else 1.0

    @property
    def raw_precision(self) -> float:
        return self.tp_det / self.detections if self.detections else 1.0


def evaluate_detector(kind: str, image: np.ndarray, face_fn, seed: int = 0, n: int | None = None,
                      photo: str = "") -> Score:
    alg = registry.get(kind)
    face0 = face_fn(image)
    clean = original(alg.analyse(image, face0), face0)
    scene = gt.inject(image, face0, kind, n or COUNTS[kind], seed=seed)
    face1 = same_geometry(face_fn, face0, scene.image)
    res = original(alg.analyse(scene.image, face1), face1)
    dets = detections(kind, res)
    before = detections(kind, clean)
    # detections already made on the clean photo are unlabelled real skin
    old = gt.pre_existing(kind, before, dets)
    found_t, good_d = match(kind, scene.truths, dets)
    background = len(old - good_d)  # pre-existing and not on a truth: unlabelled skin
    return Score(kind, photo, len(scene.truths), len(dets), background, len(found_t),
                 len(good_d), clean.main_metric.value, res.main_metric.value)


def evaluate_redness(image, face_fn, seed=0):
    alg = registry.get("redness")
    face0 = face_fn(image)
    clean = original(alg.analyse(image, face0), face0)
    scene = gt.inject(image, face0, "redness", 1, seed=seed)
    face1 = same_geometry(face_fn, face0, scene.image)
    res = original(alg.analyse(scene.image, face1), face1)
    truth = scene.truths[0].geometry

    def level(r, k):
        g = [f.geometry for m in r.masks for f in m.features if f.properties["level"] == k]
        return unary_union(g) if g else None

    heat0, heat1 = level(clean, 0), level(res, 0)
    new = heat1.difference(heat0) if heat1 is not None and heat0 is not None else heat1
    covered = truth.intersection(heat1).area / truth.area if heat1 is not None else 0.0
    new_inside = (new.intersection(truth.buffer(truth.length * 0.05)).area / new.area
                  if new is not None and new.area > 0 else 0.0)
    centre = truth.centroid
    lv = max([f.properties["level"] for m in res.masks for f in m.features
              if f.geometry.contains(centre)], default=-1)
    return {"flush_covered": covered, "new_heat_inside_flush": new_inside,
            "flush_centre_level": lv, "score_clean": clean.main_metric.value,
            "score_flushed": res.main_metric.value}


def evaluate_eyes(image, face_fn, seed=0):
    alg = registry.get("eye_area_condition")
    face0 = face_fn(image)
    clean = original(alg.analyse(image, face0), face0)
    scene = gt.inject(image, face0, "eye_area_condition", 2, seed=seed)
    face1 = same_geometry(face_fn, face0, scene.image)
    res = original(alg.analyse(scene.image, face1), face1)
    bands = unary_union([t.geometry for t in scene.truths])
    polys = unary_union([f.geometry for m in res.masks for f in m.features]) \
        if any(m.features for m in res.masks) else None
    covered = bands.intersection(polys).area / bands.area if polys is not None else 0.0
    inside = polys.intersection(bands.buffer(2)).area / polys.area if polys is not None else 0.0

    def sub(r, name):
        return next(m.value for m in r.sub_metrics if m.tech_name == name)

    return {"band_covered": covered, "polygons_inside_bands": inside,
            "dark_circles_clean": sub(clean, "dark_circles_score"),
            "dark_circles_banded": sub(res, "dark_circles_score"),
            "score_clean": clean.main_metric.value, "score_banded": res.main_metric.value}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="two photos only")
    ap.add_argument("--hand", action="store_true", help="hand-made face geometry, no models")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rows = []
    print(f"{'algorithm':13s} {'photo':22s} {'truth':>5s} {'det':>4s} {'bg':>3s} "
          f"{'recall':>6s} {'prec':>6s} {'raw_p':>6s} {'score clean->inj':>17s}")
    for name, image, scale in bases(args.quick):
        face_fn = face_function(args.hand, scale=scale)
        for kind in ("pores", "lines", "acne", "pigmentation"):
            s = evaluate_detector(kind, image, face_fn, seed=args.seed, photo=name)
            rows.append(s)
            print(f"{kind:13s} {name:22s} {s.truths:5d} {s.detections:4d} {s.background:3d} "
                  f"{s.recall:6.2f} {s.precision:6.2f} {s.raw_precision:6.2f} "
                  f"{s.score_clean:8.1f}->{s.score_injected:5.1f}")
        r = evaluate_redness(image, face_fn, seed=args.seed)
        print(f"{'redness':13s} {name:22s} flush covered {r['flush_covered']:.2f}, new heat "
              f"inside flush {r['new_heat_inside_flush']:.2f}, centre level "
              f"{r['flush_centre_level']}, score {r['score_clean']:.1f}->{r['score_flushed']:.1f}")
        e = evaluate_eyes(image, face_fn, seed=args.seed)
        print(f"{'eye_area':13s} {name:22s} bands covered {e['band_covered']:.2f}, polygons "
              f"inside bands {e['polygons_inside_bands']:.2f}, dark circles "
              f"{e['dark_circles_clean']:.1f}->{e['dark_circles_banded']:.1f}, score "
              f"{e['score_clean']:.1f}->{e['score_banded']:.1f}")
    print()
    for kind in ("pores", "lines", "acne", "pigmentation"):
        sel = [s for s in rows if s.kind == kind]
        t = sum(s.truths for s in sel)
        rec = sum(s.tp_truth for s in sel) / t if t else 1
        new = sum(s.detections - s.background for s in sel)
        prec = sum(s.tp_det for s in sel) / new if new else 1
        print(f"{kind:13s} overall recall {rec:.2f} precision {prec:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
