from __future__ import annotations

import pytest

from rasterisation.storage import StorageError
from rasterisation.storage.local import LocalStorage, content_type_for


def test_files_land_under_root_and_no_temp_files_remain(tmp_path):
    store = LocalStorage(tmp_path, secret="s")
    store.put("a/b/c.jpg", b"x" * 1000, "image/jpeg")
    assert (tmp_path / "a/b/c.jpg").read_bytes() == b"x" * 1000
    assert [p.name for p in (tmp_path / "a/b").iterdir()] == ["c.jpg"]


def test_unwritable_root_is_a_storage_error(tmp_path):
    (tmp_path / "file").write_text("not a directory")
    store = LocalStorage(tmp_path / "file", secret="s")
    with pytest.raises(StorageError):
        store.put("a/b.jpg", b"x", "image/jpeg")


def test_content_type_from_extension():
    assert content_type_for("x/original.jpg") == "image/jpeg"
    assert content_type_for("x/mask.svg") == "image/svg+xml"
    assert content_type_for("x/noext") == "application/octet-stream"
