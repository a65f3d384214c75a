"""Speed of the skin algorithms: per algorithm median ms on a 2048 px portrait and at 12 MP.

    .venv/bin/python benchmarks/skin_speed.py [--runs N]

The face layer runs once per photo (its time is printed apart); the skin algorithms then
work on the 1024 px restored face, so their cost hardly depends on the photo's size. Each
run builds a fresh FaceGeometry from the same landmarks (nothing cached between runs) and
times, in order: the shared preparation (tensor, CIELAB, chromophore maps: paid once per
face, by the first algorithm), then each algorithm. "all eight" is the sum of one run.
Torch runs on RASTERISATION_DEVICE with RASTERISATION_TORCH_THREADS threads (default 1).
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

from algorithms import registry  # noqa: E402
from algorithms.device import get_device  # noqa: E402

SKIN = ("acne", "eye_area_condition", "lines", "pigmentation", "pores", "redness",
        "skin_tone", "uniformness")
PHOTO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                     "tests", "data", "photos", "london_021.jpg")


def photos() -> dict[str, np.ndarray]:
    with Image.open(PHOTO) as im:
        img = np.asarray(im.convert("RGB"))
    p2048 = cv2.resize(img, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    # 12 MP, 4000 x 3000: the portrait scaled to 3000 px tall, widened with its own edges
    p3000 = cv2.resize(img, (3000, 3000), interpolation=cv2.INTER_CUBIC)
    p12 = cv2.copyMakeBorder(p3000, 0, 0, 500, 500, cv2.BORDER_REPLICATE)
    return {"2048x2048": p2048, "4000x3000 (12 MP)": p12}


def bench(image: np.ndarray, runs: int) -> dict[str, list[float]]:
    from algorithms.face import analyse_face
    from algorithms.face.analyse import face_from_landmarks
    from algorithms.face.roi import Pyramid
    from algorithms.skin.skin_image import prepare

    times: dict[str, list[float]] = {k: [] for k in ("face", "prepare", *SKIN, "all eight")}
    base = analyse_face(image)
    for name in SKIN:  # warm up: first calls allocate
        registry.get(name).analyse(image, base)
    for _ in range(runs):
        t = time.perf_counter()
        face = analyse_face(image)
        times["face"].append(time.perf_counter() - t)
        face = face_from_landmarks(Pyramid(image), base.landmarks, base.landmarks_z)
        t = time.perf_counter()
        skin = prepare(face)
        skin.haemoglobin  # noqa: B018 - chromophore maps are part of the shared work
        times["prepare"].append(time.perf_counter() - t)
        total = times["prepare"][-1]
        for name in SKIN:
            t = time.perf_counter()
            registry.get(name).analyse(image, face)
            dt = time.perf_counter() - t
            times[name].append(dt)
            total += dt
        times["all eight"].append(total)
    return times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args(argv)
    import torch

    print(f"device {get_device()}, torch threads {torch.get_num_threads()}, "
          f"{os.cpu_count()} cores, median of {args.runs} runs (ms)")
    for label, img in photos().items():
        t = bench(img, args.runs)
        print(f"\n{label}")
        for k, v in t.items():
            print(f"  {k:20s} {1000 * statistics.median(v):7.1f}   (min {1000 * min(v):6.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
