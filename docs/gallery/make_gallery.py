"""Regenerate the gallery: every algorithm's default mask on three real portraits of
different skin tones and on the astronaut.

Usage: .venv/bin/python docs/gallery/make_gallery.py
Writes docs/gallery/<photo>/<tech_name>.jpg (the face region, JPEG q85, at most 360 px) and
the table between the ``<!-- gallery -->`` markers of README.md and of docs/gallery/README.md.

Photos: scikit-image's data.astronaut() (public domain, NASA), and london_107, london_024 and
london_042 from tests/data/photos (Face Research Lab London Set, DeBruine & Jones 2017,
CC BY 4.0: https://doi.org/10.6084/m9.figshare.5047666.v5; the derived pictures here carry
that licence and attribution, see docs/gallery/README.md).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data

from algorithms import registry
from algorithms.pipeline import PhotoAnalysis
from algorithms.render import default_style, render

OUT = Path(__file__).resolve().parent
ROOT = OUT.parent.parent
PHOTOS = {
    "astronaut": None,
    "london_107": "light skin, 41",
    "london_024": "intermediate skin, 47",
    "london_042": "dark skin, 27",
}
SIZE = 360
MARKERS = ("<!-- gallery -->", "<!-- /gallery -->")
# Pores need 6 px/mm and no photo we may commit has it (the portraits hold ~3.3 px/mm): the
# close-ups are made by Lanczos-upscaling the face to a 3000 x 4000 (12 MP) portrait frame.
# That shows what pores draws on a photo of that size, NOT real pore detail.
CLOSE_UPS = {"london_099": "dark skin, sharpest of the 36", "london_107": "light skin",
             "london_024": "intermediate skin"}
CLOSE_UP_MARKERS = ("<!-- closeup -->", "<!-- /closeup -->")


def load(name: str) -> np.ndarray:
    if name == "astronaut":
        return data.astronaut()
    with Image.open(ROOT / "tests" / "data" / "photos" / f"{name}.jpg") as im:
        return np.asarray(im.convert("RGB"))


def face_crop(photo: PhotoAnalysis) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = photo.face.box
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 0.8 * max(x1 - x0, y1 - y0)
    h, w = photo.image.shape[:2]
    return (int(max(0, cx - half)), int(max(0, cy - half)), int(min(w, cx + half)),
            int(min(h, cy + half)))


def value_of(result) -> str:
    metric = result.main_metric
    if metric is None or metric.value is None:
        problems = result.feedback.get("problems", []) if result.feedback else []
        return "null (low_resolution)" if "low_resolution" in problems else ""
    return metric.value if isinstance(metric.value, str) else f"{metric.value:.0f}"


def main():
    names = registry.names()
    cells: dict[str, dict[str, tuple[str, str]]] = {n: {} for n in names}
    for photo_name in PHOTOS:
        photo = PhotoAnalysis(load(photo_name))
        x0, y0, x1, y1 = face_crop(photo)
        folder = OUT / photo_name
        folder.mkdir(exist_ok=True)
        for name in names:
            result = photo.result(name, image_type="original")
            cells[name][photo_name] = (f"{photo_name}/{name}.jpg", value_of(result))
            if not registry.get(name).mask_types:
                continue
            picture = render(photo.image, result.masks, style=default_style(name))
            crop = np.ascontiguousarray(picture[y0:y1, x0:x1])
            scale = SIZE / max(crop.shape[:2])
            interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LANCZOS4
            crop = cv2.resize(crop, (round(crop.shape[1] * scale), round(crop.shape[0] * scale)),
                              interpolation=interp)
            Image.fromarray(crop).save(folder / f"{name}.jpg", quality=85)
    header = "| algorithm | " + " | ".join(
        f"{p}" + (f" ({d})" if d else "") for p, d in PHOTOS.items()) + " |"
    lines = [header, "|---|" + "---|" * len(PHOTOS)]
    for name in names:
        row = [f"`{name}`"]
        for photo_name in PHOTOS:
            path, value = cells[name][photo_name]
            if registry.get(name).mask_types:
                row.append(f"![{name} {photo_name}](PREFIX{path}) {value}")
            else:  # nothing drawn: the score alone
                row.append(value)
        lines.append("| " + " | ".join(row) + " |")
    table = "\n".join(lines)
    for target, prefix in ((ROOT / "README.md", "docs/gallery/"), (OUT / "README.md", "")):
        write_between(target, MARKERS, table.replace("PREFIX", prefix))
    print(table.replace("PREFIX", ""))


def write_between(target: Path, markers: tuple[str, str], table: str) -> None:
    """Replace what lies between the two ``markers`` of the file ``target`` with ``table``."""
    head, rest = target.read_text().split(markers[0], 1)
    _, tail = rest.split(markers[1], 1)
    target.write_text(f"{head}{markers[0]}\n{table}\n{markers[1]}{tail}")


def close_up(image: np.ndarray, face_box) -> np.ndarray:
    """The face framed as a 3000 x 4000 portrait close-up (Lanczos upscale)."""
    x0, y0, x1, y1 = face_box
    cx, cy, h = (x0 + x1) / 2, (y0 + y1) / 2, 1.25 * (y1 - y0)
    w = 0.75 * h
    crop = image[int(max(0, cy - h / 2)):int(cy + h / 2), int(max(0, cx - w / 2)):int(cx + w / 2)]
    return cv2.resize(np.ascontiguousarray(crop), (3000, 4000), interpolation=cv2.INTER_LANCZOS4)


def close_ups():
    """docs/gallery/closeup/<photo>.jpg (the whole 12 MP frame, reduced) and
    <photo>_nose.jpg (the nose and the inner cheek at full resolution) with pores drawn."""
    folder = OUT / "closeup"
    folder.mkdir(exist_ok=True)
    rows = ["| photo | 12 MP close-up | nose and cheek, full resolution | pores_score |",
            "|---|---|---|---|"]
    for stem, desc in CLOSE_UPS.items():
        photo = PhotoAnalysis(load(stem))
        big = PhotoAnalysis(close_up(photo.image, photo.face.box))
        result = big.result("pores", image_type="original")
        picture = render(big.image, result.masks, style=default_style("pores"))
        small = cv2.resize(picture, (540, 720), interpolation=cv2.INTER_AREA)
        Image.fromarray(small).save(folder / f"{stem}.jpg", quality=85)
        lm = np.asarray(big.face.landmarks)[:, :2]   # between the nose tip (mesh point 1)
        cx, cy = (lm[1] + lm[205]) / 2                # and the right cheek (205), full size
        zoom = picture[int(cy - 300):int(cy + 300), int(cx - 450):int(cx + 450)]
        Image.fromarray(np.ascontiguousarray(zoom)).save(folder / f"{stem}_nose.jpg", quality=85)
        value = value_of(result)
        px = result.feedback["measures"]
        rows.append(f"| {stem} ({desc}; {photo.face.px_per_mm:.2f} px/mm as taken, "
                    f"{px['actual_px_per_mm']:.1f} px/mm upscaled, worked at "
                    f"{px['working_px_per_mm']:g}) | ![{stem} close-up](closeup/{stem}.jpg) | "
                    f"![{stem} nose](closeup/{stem}_nose.jpg) | {value} |")
    table = "\n".join(rows)
    write_between(OUT / "README.md", CLOSE_UP_MARKERS, table)
    print(table)


if __name__ == "__main__":
    main()
    close_ups()
