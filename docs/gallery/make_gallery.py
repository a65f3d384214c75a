"""Regenerate the README gallery: every algorithm's default mask on the astronaut.

Usage: .venv/bin/python docs/gallery/make_gallery.py
Writes docs/gallery/<tech_name>.jpg (the face region, 2x, JPEG q85) and the table between the
``<!-- gallery -->`` markers of README.md.
The astronaut is scikit-image's data.astronaut() (public domain, NASA).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data

from algorithms import registry
from rasterisation.pipeline import PhotoAnalysis
from rasterisation.render import default_style, render

OUT = Path(__file__).resolve().parent
README = OUT.parent.parent / "README.md"
COLUMNS = 5


def main():
    photo = PhotoAnalysis(data.astronaut())
    x0, y0, x1, y1 = photo.face.box
    cx, cy, half = (x0 + x1) / 2, (y0 + y1) / 2, 0.8 * max(x1 - x0, y1 - y0)
    box = [int(max(0, cx - half)), int(max(0, cy - half)), int(cx + half), int(cy + half)]
    rows = []
    for name in registry.names():
        result = photo.result(name, image_type="original")
        picture = render(photo.image, result.masks, style=default_style(name))
        crop = picture[box[1]:box[3], box[0]:box[2]]
        crop = cv2.resize(crop, (crop.shape[1] * 2, crop.shape[0] * 2),
                          interpolation=cv2.INTER_LANCZOS4)
        Image.fromarray(np.ascontiguousarray(crop)).save(OUT / f"{name}.jpg", quality=85)
        metric = result.main_metric
        value = "" if metric is None else (metric.value if isinstance(metric.value, str)
                                           else f"{metric.value:.0f}")
        rows.append((name, value))
    lines = []
    for start in range(0, len(rows), COLUMNS):
        chunk = rows[start:start + COLUMNS]
        lines.append("| " + " | ".join(f"`{n}` {v}" for n, v in chunk) + " |")
        if start == 0:
            lines.append("|" + "---|" * len(chunk))
        lines.append("| " + " | ".join(f"![{n}](docs/gallery/{n}.jpg)" for n, _ in chunk) + " |")
    table = "\n".join(lines)
    text = README.read_text()
    head, rest = text.split("<!-- gallery -->", 1)
    _, tail = rest.split("<!-- /gallery -->", 1)
    README.write_text(f"{head}<!-- gallery -->\n{table}\n<!-- /gallery -->{tail}")
    print(table)


if __name__ == "__main__":
    main()
