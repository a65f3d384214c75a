"""A 12 MP group scene with small faces, for face-recall tests and the anonymisation benchmark.

The six studio portraits of ``tests/data/photos`` (Face Research Lab London Set, CC BY 4.0:
DeBruine, L., & Jones, B. (2017), figshare, https://doi.org/10.6084/m9.figshare.5047666.v5)
are scaled so that their faces measure 20 to 200 px (the longer side of the face oval's box)
and pasted on a 4000 x 3000 canvas of smooth random colour and noise. The layout and the
labelled face boxes are in ``small_faces.json``; :func:`scene` rebuilds the picture from it
(the 12 MP picture itself is not committed).

Regenerate the JSON (after changing the sizes or the layout):
``.venv/bin/python tests/data/small_faces.py`` (uses the face mesh of each portrait once).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
JSON = HERE / "small_faces.json"
PORTRAITS = ["london_006", "london_021", "london_024", "london_042", "london_099",
             "london_107"]
SIZE = (4000, 3000)
# face sizes (px, longer side of the oval's box); each portrait gets each size once
FACE_SIZES = [20, 24, 30, 38, 50, 70, 110, 200]
SEED = 8


def _portrait(name: str) -> np.ndarray:
    with Image.open(HERE / "photos" / f"{name}.jpg") as im:
        return np.asarray(im.convert("RGB"))


def _background(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    w, h = SIZE
    low = rng.uniform(60, 200, (6, 8, 3)).astype(np.float32)
    bg = cv2.resize(low, (w, h), interpolation=cv2.INTER_CUBIC)
    bg += rng.normal(0, 6, (h, w, 3)).astype(np.float32)
    return bg.clip(0, 255).astype(np.uint8)


def scene(spec: dict | None = None) -> tuple[np.ndarray, list[dict]]:
    """(picture, faces): the 4000 x 3000 RGB scene and its labels [{portrait, box, size}]."""
    spec = spec or json.loads(JSON.read_text())
    canvas = _background(spec["seed"])
    cache: dict = {}
    for item in spec["faces"]:
        name, x, y, side = item["portrait"], item["x"], item["y"], item["side"]
        if name not in cache:
            cache[name] = _portrait(name)
        canvas[y:y + side, x:x + side] = cv2.resize(cache[name], (side, side),
                                                    interpolation=cv2.INTER_AREA)
    return canvas, spec["faces"]


def _layout() -> dict:
    """Shelf packing of the scaled portraits, in a shuffled order (deterministic)."""
    sys.path.insert(0, str(HERE.parent.parent))
    from algorithms.face import analyse_face, indices as ix

    ovals = {}
    for name in PORTRAITS:
        img = _portrait(name)
        pts = analyse_face(img).landmarks[list(ix.FACE_OVAL)]
        ovals[name] = (img.shape[0], pts.min(0), pts.max(0))
    rng = np.random.default_rng(SEED)
    items = [(name, size) for name in PORTRAITS for size in FACE_SIZES]
    rng.shuffle(items)
    items.sort(key=lambda t: -t[1])          # shelves of similar heights
    faces, x, y, shelf = [], 40, 40, 0
    for name, size in items:
        n, lo, hi = ovals[name]
        k = size / float(max(hi - lo))       # portrait px -> scene px
        side = round(n * k)
        if x + side > SIZE[0] - 40:
            x, y, shelf = 40 + int(rng.integers(0, 200)), y + shelf + 140, 0
        if y + side > SIZE[1] - 40:
            raise RuntimeError("the layout does not fit: fewer or smaller faces")
        gap = int(rng.integers(120, 420))
        box = [round(x + lo[0] * side / n, 1), round(y + lo[1] * side / n, 1),
               round(x + hi[0] * side / n, 1), round(y + hi[1] * side / n, 1)]
        faces.append({"portrait": name, "x": x, "y": y, "side": side, "box": box,
                      "size": round(max(box[2] - box[0], box[3] - box[1]), 1)})
        x += side + gap
        shelf = max(shelf, side)
    return {"about": "labels of tests/data/small_faces.py's scene: box = the face oval's "
                     "bounds (face mesh of the portrait, scaled); size = its longer side",
            "licence": "portraits CC BY 4.0, DeBruine & Jones (2017) Face Research Lab London "
                       "Set, https://doi.org/10.6084/m9.figshare.5047666.v5",
            "size": list(SIZE), "seed": SEED, "faces": faces}


if __name__ == "__main__":
    JSON.write_text(json.dumps(_layout(), indent=1) + "\n")
    print(f"wrote {JSON}")
