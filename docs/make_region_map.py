"""Draw the named skin regions on a face (the figure of docs/algorithms.md).

    .venv/bin/python docs/make_region_map.py                 # astronaut -> docs/img/regions_astronaut.jpg
    .venv/bin/python docs/make_region_map.py PHOTO OUT.jpg   # any photo
"""
from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from algorithms.face import analyse_face

COLOURS = {  # RGB
    "forehead": (255, 190, 60), "glabella": (255, 90, 90), "nose": (80, 200, 255),
    "left_cheek": (120, 220, 120), "right_cheek": (120, 220, 120), "chin": (200, 140, 255),
    "left_under_eye": (255, 120, 200), "right_under_eye": (255, 120, 200),
    "left_crows_feet": (255, 255, 120), "right_crows_feet": (255, 255, 120),
    "left_nasolabial": (255, 150, 60), "right_nasolabial": (255, 150, 60),
    "perioral": (90, 160, 255),
}
LABELS = {"forehead": "forehead", "glabella": "glabella", "nose": "nose", "left_cheek": "L cheek",
          "right_cheek": "R cheek", "chin": "chin", "left_under_eye": "L under-eye",
          "right_under_eye": "R under-eye", "left_crows_feet": "L crow's",
          "right_crows_feet": "R crow's", "left_nasolabial": "L NL", "right_nasolabial": "R NL",
          "perioral": "perioral"}
SS = 4  # sub-pixel bits for cv2 drawing


def _rings(geom):
    for poly in getattr(geom, "geoms", [geom]):
        if poly.geom_type != "Polygon" or poly.is_empty:
            continue
        yield np.asarray(poly.exterior.coords), [np.asarray(i.coords) for i in poly.interiors]


def _pts(coords):
    # continuous coordinates -> OpenCV pixel indices, fixed point
    return np.round((coords - 0.5) * (1 << SS)).astype(np.int32)


def draw(face, out_size=720) -> np.ndarray:
    img = face.restored.image.copy()
    overlay = img.copy()
    for name, colour in COLOURS.items():
        for ext, holes in _rings(face.regions[name]):
            cv2.fillPoly(overlay, [_pts(ext)] + [_pts(h) for h in holes], colour,
                         cv2.LINE_AA, SS)
    img = cv2.addWeighted(overlay, 0.38, img, 0.62, 0)
    for ext, holes in _rings(face.regions["face_skin"]):
        cv2.polylines(img, [_pts(ext)] + [_pts(h) for h in holes], True, (255, 255, 255), 2,
                      cv2.LINE_AA, SS)
    for name, colour in COLOURS.items():
        for ext, _ in _rings(face.regions[name]):
            cv2.polylines(img, [_pts(ext)], True, colour, 2, cv2.LINE_AA, SS)
    for name in COLOURS:
        g = face.regions[name]
        if g.is_empty:
            continue
        p = g.representative_point()
        text = LABELS[name]
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.6, 2)
        org = (int(p.x - tw / 2), int(p.y + th / 2))
        cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 4, cv2.LINE_AA)
        cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2,
                    cv2.LINE_AA)
    x0, y0, x1, y1 = face.regions["face_skin"].bounds
    pad = 40
    x0, y0 = max(int(x0) - pad, 0), max(int(y0) - pad, 0)
    x1, y1 = min(int(x1) + pad, img.shape[1]), min(int(y1) + pad, img.shape[0])
    img = img[y0:y1, x0:x1]
    f = out_size / max(img.shape[:2])
    return cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_AREA)


def main(argv):
    if len(argv) >= 2:
        with Image.open(argv[0]) as im:
            photo = np.asarray(im.convert("RGB"))
        out = Path(argv[1])
    else:
        from skimage import data

        photo = data.astronaut()
        out = Path(__file__).parent / "img" / "regions_astronaut.jpg"
    face = analyse_face(photo)
    Image.fromarray(draw(face)).save(out, quality=85)
    print(out)


if __name__ == "__main__":
    main(sys.argv[1:])
