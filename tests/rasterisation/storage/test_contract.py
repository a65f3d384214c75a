"""The storage interface, run against every configured backend (local always, minio when
RASTERISATION_TEST_S3_ENDPOINT is set)."""
from __future__ import annotations

import os
import urllib.request
import uuid

import pytest

from rasterisation.storage import ObjectNotFound
from rasterisation.storage.local import LocalStorage

S3 = os.environ.get("RASTERISATION_TEST_S3_ENDPOINT")


@pytest.fixture(params=[
    "local",
    pytest.param("minio", marks=[pytest.mark.minio,
                                 pytest.mark.skipif(not S3, reason="no S3 endpoint")]),
])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "objects", secret="s")
    from rasterisation.storage.minio import MinioStorage

    env = request.getfixturevalue("s3_env")
    return MinioStorage(endpoint=env["RASTERISATION_S3_ENDPOINT"], access_key="testing",
                        secret_key="testing", bucket=env["RASTERISATION_S3_BUCKET"])


@pytest.fixture
def prefix():
    return f"companies/{uuid.uuid4()}/images/{uuid.uuid4()}/"


def test_put_get_exists_overwrite(storage, prefix):
    key = prefix + "original.jpg"
    assert not storage.exists(key)
    storage.put(key, b"one", "image/jpeg")
    assert storage.exists(key) and storage.get(key) == b"one"
    storage.put(key, b"two!", "image/jpeg")
    assert storage.get(key) == b"two!"


def test_put_file_and_get_file_stream_whole_files(storage, prefix, tmp_path):
    """Videos (hundreds of MiB) go in and out as files, never as one bytes object."""
    data = os.urandom(3 * 1024 * 1024 + 17)
    src, dst = tmp_path / "in.bin", tmp_path / "out.bin"
    src.write_bytes(data)
    key = prefix + "input/video"
    storage.put_file(key, src, "application/octet-stream")
    assert storage.exists(key) and storage.get(key) == data
    storage.get_file(key, dst)
    assert dst.read_bytes() == data
    with pytest.raises(ObjectNotFound):
        storage.get_file(prefix + "nothing", tmp_path / "none.bin")
    assert not (tmp_path / "none.bin").exists()


def test_get_missing_raises_object_not_found(storage, prefix):
    with pytest.raises(ObjectNotFound):
        storage.get(prefix + "nothing.png")


def test_delete_prefix_removes_everything_below_and_nothing_else(storage, prefix):
    sibling = prefix.replace("/images/", "/images/x")  # shares a string prefix, not a folder
    keys = [prefix + "original.jpg", prefix + "renders/a.png", prefix + "results/b/c.json"]
    for key in keys + [sibling + "original.jpg"]:
        storage.put(key, b"x", "application/octet-stream")
    assert storage.delete_prefix(prefix) == 3
    assert not any(storage.exists(k) for k in keys)
    assert storage.exists(sibling + "original.jpg")
    assert storage.delete_prefix(prefix) == 0  # idempotent


@pytest.mark.parametrize("bad", ["../x", "/abs", "a//b", "a/../b", ".hidden", "", "a/b/",
                                 "a\\b", "a b"])
def test_unsafe_keys_are_refused(storage, bad):
    with pytest.raises(ValueError):
        storage.put(bad, b"x", "text/plain")


def test_prefix_must_be_a_folder(storage):
    with pytest.raises(ValueError):
        storage.delete_prefix("companies/abc")


def test_url_fetches_the_object(storage, prefix, request):
    key = prefix + "original.png"
    storage.put(key, b"\x89PNG-bytes", "image/png")
    url = storage.url(key, expires_in=60)
    if isinstance(storage, LocalStorage):
        assert url.startswith(f"files/{key}?expires=") and "signature=" in url
        return  # served and checked by the app: see tests/rasterisation/api/test_files.py
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - test server
        assert response.read() == b"\x89PNG-bytes"
        assert response.headers["Content-Type"] == "image/png"
