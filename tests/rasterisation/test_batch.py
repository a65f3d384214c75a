"""``rasterisation analyse``: pictures and JSON with no server."""
from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner
from PIL import Image

from rasterisation.cli import main


def test_analyse_writes_pictures_and_json(tmp_path, astronaut):
    photo = tmp_path / "astronaut.jpg"
    # rotated pixels + an EXIF orientation that turns them upright again
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    Image.fromarray(np.rot90(astronaut, k=1)).save(photo, "JPEG", quality=92, exif=exif)
    mug = tmp_path / "mug.png"
    from skimage import data

    Image.fromarray(data.coffee()).save(mug)
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["analyse", str(photo), str(mug), "--algorithm",
                                       "facial_landmarks", "-a", "quality", "--out", str(out)])
    assert result.exit_code == 1, result.output  # the mug has no face: reported, not hidden
    assert "mug.png: facial_landmarks: no face" in result.output
    picture = np.asarray(Image.open(out / "astronaut.facial_landmarks.jpg"))
    assert picture.shape == (512, 512, 3)
    doc = json.loads((out / "astronaut.json").read_text())
    landmarks = doc["results"]["facial_landmarks"]
    assert len(landmarks["masks"][0]["geometry"]["features"]) == 478
    # upright: the nose tip (index 1) lies in the face, around the astronaut's real nose
    x, y = landmarks["masks"][0]["geometry"]["features"][1]["geometry"]["coordinates"]
    assert 200 < x < 300 and 100 < y < 200, (x, y)
    assert doc["results"]["quality"]["main_metric"]["value"] > 0
    mug_doc = json.loads((out / "mug.json").read_text())
    assert "no face" in mug_doc["results"]["facial_landmarks"]["error"]
    assert "no_face" in mug_doc["results"]["quality"]["feedback"]["problems"]


def test_analyse_rejects_unknown_algorithms(tmp_path, astronaut):
    photo = tmp_path / "a.png"
    Image.fromarray(astronaut).save(photo)
    result = CliRunner().invoke(main, ["analyse", str(photo), "-a", "sparkle", "--out",
                                       str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "unknown algorithm 'sparkle'" in result.output
