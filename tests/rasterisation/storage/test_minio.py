"""MinIO backend specifics (the shared contract is in test_contract.py)."""
from __future__ import annotations

import time

import pytest

from rasterisation.storage import StorageError
from rasterisation.storage.minio import MinioStorage


def test_unreachable_endpoint_is_a_storage_error_quickly():
    # nothing listens on port 9 (discard) of localhost in the test environment
    store = MinioStorage(endpoint="http://127.0.0.1:9", access_key="k", secret_key="s",
                         bucket="bucket", timeout=1)
    start = time.perf_counter()
    with pytest.raises(StorageError):
        store.put("a/b.jpg", b"x", "image/jpeg")
    assert time.perf_counter() - start < 10


def test_endpoint_must_be_a_url():
    with pytest.raises(ValueError):
        MinioStorage(endpoint="127.0.0.1:9000", access_key="k", secret_key="s", bucket="bucket")


@pytest.mark.minio
def test_missing_bucket_is_created(s3_env):
    import uuid

    bucket = f"rst-new-{uuid.uuid4().hex[:10]}"
    store = MinioStorage(endpoint=s3_env["RASTERISATION_S3_ENDPOINT"], access_key="testing",
                         secret_key="testing", bucket=bucket)
    assert not store.client.bucket_exists(bucket_name=bucket)
    store.put("a/b.txt", b"x", "text/plain")
    assert store.client.bucket_exists(bucket_name=bucket)
    store.delete_prefix("a/")
    store.client.remove_bucket(bucket_name=bucket)


@pytest.mark.minio
def test_service_on_minio_answers_503_when_s3_goes_away(make_app, tenant_factory, request,
                                                        astronaut_jpeg):
    """Same app, storage pointed at a dead endpoint: upload -> 503, no row."""
    import io

    from rasterisation.extensions import db
    from rasterisation.models import Image

    app = make_app(("sqlite", "minio"), request=request,
                   RASTERISATION_S3_ENDPOINT="http://127.0.0.1:9")
    company_id, token = tenant_factory(app, "A")
    r = app.test_client().post(f"/api/v1/companies/{company_id}/images/",
                               headers={"Authorization": f"Bearer {token}"},
                               data={"file": (io.BytesIO(astronaut_jpeg), "a.jpg")})
    assert r.status_code == 503 and r.json["code"] == 503
    with app.app_context():
        assert db.session.query(Image).count() == 0


def test_public_endpoint_is_used_for_presigned_urls_only():
    store = MinioStorage(endpoint="http://minio:9000", access_key="k", secret_key="s",
                         bucket="bucket", public_endpoint="https://s3.example.com")
    url = store.url("a/b.jpg", expires_in=60)  # computed locally, no request
    assert url.startswith("https://s3.example.com/bucket/a/b.jpg?")
    assert "X-Amz-Signature=" in url
    plain = MinioStorage(endpoint="http://minio:9000", access_key="k", secret_key="s",
                         bucket="bucket")
    assert plain.url("a/b.jpg", expires_in=60).startswith("http://minio:9000/bucket/a/b.jpg?")


@pytest.mark.minio
def test_presigned_url_through_the_public_address_works(s3_env):
    import urllib.request

    endpoint = s3_env["RASTERISATION_S3_ENDPOINT"]
    store = MinioStorage(endpoint=endpoint, access_key="testing", secret_key="testing",
                         bucket=s3_env["RASTERISATION_S3_BUCKET"],
                         public_endpoint=endpoint.replace("127.0.0.1", "localhost"))
    store.put("pub/x.txt", b"hello", "text/plain")
    url = store.url("pub/x.txt", expires_in=60)
    assert url.startswith(endpoint.replace("127.0.0.1", "localhost"))
    with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - test server
        assert response.read() == b"hello"
    store.delete_prefix("pub/")
