"""Write ``tests/data/algorithm_fingerprints.json``: what each algorithm answers, per version.

Stored analyses are keyed by ``(tech_name, version, image_type)``
(rasterisation/services/analyses.py), so an algorithm whose answers change must change its
``version``, or a running service keeps serving the old answers for photos it has seen.
``tests/algorithms/test_versions.py`` recomputes these fingerprints and fails when an
algorithm answers differently under the same version.

Run by hand after bumping a version (``.venv/bin/python tests/data/make_algorithm_fingerprints.py``);
the output is committed.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "tests" / "data" / "algorithm_fingerprints.json"
# committed portraits of three skin tones (3.1-3.6 px/mm on the face): a change that shows
# on one face only (a mole, a beard) still shows
PHOTOS = ("london_107", "london_024", "london_042")
# pores need 6 px/mm: they are fingerprinted on the portraits upscaled 2x (6.2-7.1 px/mm)
UPSCALED = {"pores": 2.0}


def photo_for(name: str, stem: str) -> np.ndarray:
    from tests.conftest import load_portrait

    img = load_portrait(stem)
    f = UPSCALED.get(name)
    if f:
        img = cv2.resize(img, None, fx=f, fy=f, interpolation=cv2.INTER_LANCZOS4)
    return img


def fingerprint(result) -> dict:
    """The main value (rounded), and the number of features per mask."""
    main = result.main_metric.value if result.main_metric is not None else None
    if isinstance(main, float):
        main = round(main, 2)
    return {"main": main, "features": [len(m.features) for m in result.masks]}


def fingerprints() -> dict:
    from algorithms import registry
    from algorithms.pipeline import PhotoAnalysis

    photos, out = {}, {}
    for name in registry.names():
        out[name] = {"version": registry.get(name).version, "photos": {}}
        for stem in PHOTOS:
            key = (stem, UPSCALED.get(name, 1.0))
            if key not in photos:
                photos[key] = PhotoAnalysis(photo_for(name, stem))
            result = photos[key].result(name, image_type="original")
            out[name]["photos"][stem] = fingerprint(result)
    return out


def main() -> int:
    OUT.write_text(json.dumps({"photos": PHOTOS, "upscaled": UPSCALED,
                               "algorithms": fingerprints()}, indent=1) + "\n")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
