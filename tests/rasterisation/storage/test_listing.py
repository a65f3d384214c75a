"""Listing for the sweeper (``list_dirs``, ``newest``), on every configured backend."""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest

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


def test_list_dirs_and_newest(storage):
    company = f"companies/{uuid.uuid4()}/"
    first, second = (f"{company}images/{uuid.uuid4()}/" for _ in range(2))
    before = datetime.now(timezone.utc) - timedelta(seconds=5)
    storage.put(first + "original.jpg", b"a", "image/jpeg")
    storage.put(first + "renders/original/x.png", b"b", "image/png")
    storage.put(second + "original.jpg", b"c", "image/jpeg")
    assert company in storage.list_dirs("companies/")
    assert storage.list_dirs(company) == [company + "images/"]
    assert storage.list_dirs(company + "images/") == sorted([first, second])
    assert storage.list_dirs(f"companies/{uuid.uuid4()}/") == []
    newest = storage.newest(first)
    assert newest is not None and newest.tzinfo is not None
    assert before <= newest <= datetime.now(timezone.utc) + timedelta(seconds=5)
    assert storage.newest(f"companies/{uuid.uuid4()}/") is None
    storage.delete_prefix(company)
