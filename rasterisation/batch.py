"""``rasterisation analyse``: photos in, mask pictures and a JSON of results out, no server.

Pure of Flask, database and storage: the same pipeline and renderer as the HTTP service, so a
batch run and an API call give the same pictures and numbers.

For each photo ``NAME.jpg`` it writes, in the output directory:

* ``NAME.<tech_name>.<ext>``: the picture of each algorithm that has masks;
* ``NAME.json``: ``{"photo", "width", "height", "image_type", "results": {tech_name: result
  or {"error": ...}}}`` with metrics and GeoJSON as the analyses endpoint answers them.

Example
-------
>>> # analyse_photo(Path("me.jpg"), ["pores", "lines"], out_dir=Path("out"))
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, ImageOps

from algorithms import registry
from algorithms.types import check_image_type, validate_choice
from algorithms.pipeline import MaskError, PhotoAnalysis
from algorithms.render import EXTENSIONS, OUTPUT_FORMATS, default_style, encode, render

__all__ = ["load_photo", "analyse_photo", "analyse_photos"]

def load_photo(path: Path, *, max_pixels: int = 50_000_000) -> np.ndarray:
    """RGB uint8 pixels of ``path``, upright (EXIF orientation applied)."""
    with Image.open(path) as im:
        if im.width * im.height > max_pixels:
            raise ValueError(f"{path}: {im.width}x{im.height} is over {max_pixels} pixels")
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def analyse_photo(path: Path, tech_names: Sequence[str], *, out_dir: Path,
                  image_type: str = "original", fmt: str = "jpeg") -> dict:
    """Analyse one photo, write its pictures and JSON into ``out_dir``; return the JSON."""
    check_image_type(image_type)
    validate_choice("format", fmt, OUTPUT_FORMATS)
    photo = PhotoAnalysis(load_photo(path))
    doc = {"photo": str(path), "width": photo.original_size[0],
           "height": photo.original_size[1], "image_type": image_type, "results": {}}
    for name in tech_names:
        try:
            result = photo.result(name, image_type=image_type)
            if result.masks:
                picture = render(photo.picture(image_type), result.masks,
                                 style=default_style(name))
                target = out_dir / f"{path.stem}.{name}.{EXTENSIONS[fmt]}"
                target.write_bytes(encode(picture, format=fmt))
            doc["results"][name] = result.to_dict()
        except (MaskError, registry.UnknownAlgorithm) as exc:
            doc["results"][name] = {"error": str(exc)}
    (out_dir / f"{path.stem}.json").write_text(json.dumps(doc, indent=1))
    return doc


def analyse_photos(paths: Iterable[Path], tech_names: Sequence[str], *, out_dir: Path,
                   image_type: str = "original", fmt: str = "jpeg", progress: bool = True
                   ) -> list[dict]:
    """:func:`analyse_photo` over many photos, with a progress bar on stderr."""
    from tqdm import tqdm

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = list(paths)
    docs = []
    for path in tqdm(paths, unit="photo", disable=not progress or len(paths) < 2):
        docs.append(analyse_photo(path, tech_names, out_dir=out_dir, image_type=image_type,
                                  fmt=fmt))
    return docs
