"""Record mediapipe's own face results as a test fixture (run once, by hand).

Not part of the suite and not importable from the project: mediapipe pins numpy<2, so this runs
in a throwaway environment outside the repository::

    python3.11 -m venv /tmp/mpenv
    /tmp/mpenv/bin/pip install mediapipe==0.10.21 scikit-image pillow "numpy<2"
    /tmp/mpenv/bin/python tests/data/make_mediapipe_reference.py

It writes ``tests/data/mediapipe_reference.json``: for the astronaut and the six portraits, the
pixel landmarks of legacy ``FaceMesh(static_image_mode=True)`` with ``refine_landmarks=True``
(478 points, attention model) and ``False`` (468 points, the plain face_landmark model that
we run), and the first detection of ``FaceDetection`` with both models (short and full range).
"""
from __future__ import annotations

import json
import platform
from pathlib import Path

import mediapipe as mp
import numpy as np
from PIL import Image
from skimage import data

HERE = Path(__file__).parent


def images():
    yield "astronaut", data.astronaut()
    for p in sorted((HERE / "photos").glob("london_*.jpg")):
        with Image.open(p) as im:
            yield p.stem, np.asarray(im.convert("RGB"))


def mesh(img, refine):
    h, w = img.shape[:2]
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                         refine_landmarks=refine) as fm:
        res = fm.process(img)
    if not res.multi_face_landmarks:
        return None
    lm = res.multi_face_landmarks[0].landmark
    return [[round(p.x * w, 3), round(p.y * h, 3)] for p in lm]


def detect(img, model):
    h, w = img.shape[:2]
    with mp.solutions.face_detection.FaceDetection(model_selection=model,
                                                   min_detection_confidence=0.5) as fd:
        res = fd.process(img)
    out = []
    for d in res.detections or ():
        b = d.location_data.relative_bounding_box
        out.append({"score": round(d.score[0], 4),
                    "box": [round(b.xmin * w, 3), round(b.ymin * h, 3),
                            round((b.xmin + b.width) * w, 3),
                            round((b.ymin + b.height) * h, 3)],
                    "keypoints": [[round(k.x * w, 3), round(k.y * h, 3)]
                                  for k in d.location_data.relative_keypoints]})
    return out


def main():
    out = {"producer": f"mediapipe {mp.__version__} (legacy solutions API, static_image_mode=True)",
           "mediapipe_version": mp.__version__, "python": platform.python_version(),
           "numpy": np.__version__, "units": "pixels of the original image (x right, y down)",
           "images": {}}
    for name, img in images():
        out["images"][name] = {
            "width": img.shape[1], "height": img.shape[0],
            "face_mesh_refined_478": mesh(img, True),
            "face_mesh_468": mesh(img, False),
            "detection_short_range": detect(img, 0),
            "detection_full_range": detect(img, 1),
        }
        print(name, "done")
    (HERE / "mediapipe_reference.json").write_text(json.dumps(out, separators=(",", ":")))


if __name__ == "__main__":
    main()
