"""How far main scores drift when only the photo changes (not the skin).

    .venv/bin/python benchmarks/invariance.py [PHOTO ...]

Transforms: resize to 0.75x and 2x, JPEG quality 90, brightness +10 % and -10 %, rotation by
5 degrees; and the light (``LIGHTING``): a warm and a cool colour cast, light from one side.
Each transformed photo goes through the whole pipeline (face layer, then every skin
algorithm); the drift is |score(transformed) - score(original)| of the main metric.
Prints a table per photo and the worst drift per algorithm.
"""
from __future__ import annotations

import io
import os
import sys

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from algorithms import registry  # noqa: E402

SKIN = ("acne", "eye_area_condition", "lines", "pigmentation", "pores", "redness",
        "uniformness")  # skin_tone's main metric is a category: compared by label
PHOTO_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "tests", "data", "photos")


def resize(img, f):
    h, w = img.shape[:2]
    interp = cv2.INTER_AREA if f < 1 else cv2.INTER_CUBIC
    return cv2.resize(img, (round(w * f), round(h * f)), interpolation=interp)


def jpeg(img, quality=90):
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))


def brightness(img, f):
    return np.clip(np.round(img.astype(np.float32) * f), 0, 255).astype(np.uint8)


def rotate(img, deg):
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), deg, 1.0)
    return cv2.warpAffine(img, m, (w, h), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REFLECT)


def light(img, gains=(1.0, 1.0, 1.0), side=0.0):
    """Relight in linear light: per-channel ``gains`` (a colour cast: warm lamp, cool shade)
    times a left-to-right ramp from 1 + ``side`` to 1 - ``side`` (light from one side)."""
    w = img.shape[1]
    ramp = np.linspace(1 + side, 1 - side, w, dtype=np.float32)[None, :, None]
    lin = (img.astype(np.float32) / 255) ** 2.2 * np.asarray(gains, np.float32) * ramp
    return np.round(255 * np.clip(lin, 0, 1) ** (1 / 2.2)).astype(np.uint8)


TRANSFORMS = {
    "resize_0.75": lambda im: resize(im, 0.75),
    "resize_2": lambda im: resize(im, 2.0),
    "jpeg_90": jpeg,
    "bright_+10%": lambda im: brightness(im, 1.1),
    "bright_-10%": lambda im: brightness(im, 0.9),
    "rotate_5": lambda im: rotate(im, 5.0),
}
# the light, not the camera: a tungsten-like warm cast (R x1.12, B x0.80 in linear light),
# a cool one (R x0.88, B x1.15), and light from one side (x1.5 on the left to x0.5 on the
# right of the frame)
LIGHTING = {
    "warm_cast": lambda im: light(im, (1.12, 1.0, 0.80)),
    "cool_cast": lambda im: light(im, (0.88, 1.0, 1.15)),
    "side_light": lambda im: light(im, side=0.5),
}


def scores(image, algorithms=SKIN + ("skin_tone",)):
    from algorithms.face import analyse_face

    face = analyse_face(image)
    return {a: registry.get(a).analyse(image, face).main_metric.value for a in algorithms}


def drifts(image, algorithms=SKIN, transforms=TRANSFORMS):
    """``{transform: {algorithm: drift}}`` plus the untransformed scores."""
    base = scores(image, algorithms)
    out = {}
    for name, fn in transforms.items():
        s = scores(fn(image), algorithms)
        out[name] = {a: _drift(s[a], base[a]) for a in algorithms}
    return base, out


def _drift(a, b) -> float:
    """|a - b|; 0 when either score is null: a null score (e.g. pores below the resolution
    it needs, low_resolution) is not a number that drifted, and a photo resized 2x may
    resolve what the original does not (docs/algorithms.md#pores, distance rule)."""
    if a is None or b is None:
        return 0.0
    return abs(float(a) - float(b))


def load(name):
    if name == "astronaut_1024":
        from skimage import data

        from benchmarks.groundtruth import upscale

        return upscale(data.astronaut(), 1024)
    with Image.open(os.path.join(PHOTO_DIR, f"{name}.jpg")) as im:
        return np.asarray(im.convert("RGB"))


def main(argv=None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or [
        "astronaut_1024", "london_006", "london_021", "london_024", "london_042",
        "london_099", "london_107"]
    worst = {a: (0.0, "") for a in SKIN}
    for n in names:
        base, d = drifts(load(n), transforms={**TRANSFORMS, **LIGHTING})
        print(f"\n{n}: " + ", ".join(f"{a} {base[a]}" if base[a] is None else
                                     f"{a} {base[a]:.1f}" for a in SKIN))
        print(f"{'transform':13s} " + " ".join(f"{a[:10]:>10s}" for a in SKIN))
        for t, row in d.items():
            print(f"{t:13s} " + " ".join(f"{row[a]:10.1f}" for a in SKIN))
            for a in SKIN:
                if row[a] > worst[a][0]:
                    worst[a] = (row[a], f"{n} {t}")
    print("\nworst drift per algorithm:")
    for a, (v, where) in worst.items():
        print(f"  {a:20s} {v:5.1f}  ({where})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
