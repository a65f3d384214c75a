"""Objects in an S3-protocol bucket through the ``minio`` client; presigned GET URLs.

Works with MinIO, AWS S3 and moto's server (used by the tests). The bucket is created on first
use when missing. Connection problems and S3 errors become ``StorageError`` (503).
"""
from __future__ import annotations

import io
import threading
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

import urllib3
from minio import Minio
from minio.deleteobjects import DeleteObject
from minio.error import MinioException, S3Error

from rasterisation.storage.base import (
    ObjectNotFound, Storage, StorageError, validate_key, validate_prefix,
)

__all__ = ["MinioStorage"]

_MISSING = ("NoSuchKey", "NoSuchObject", "ResourceNotFound")
# urllib3 / socket failures raised by the client when the server is down or slow
_NETWORK_ERRORS = (urllib3.exceptions.HTTPError, OSError, MinioException)


@contextmanager
def _s3_errors(action: str, *, missing: str | None = None):
    """Turn client errors into ours: ``StorageError("S3 <action>: <code>")``, or
    ``ObjectNotFound(missing)`` when given and the object is not there."""
    try:
        yield
    except S3Error as exc:
        if missing is not None and exc.code in _MISSING:
            raise ObjectNotFound(missing) from None
        raise StorageError(f"S3 {action}: {exc.code}") from exc
    except _NETWORK_ERRORS as exc:
        raise StorageError(f"S3 endpoint unreachable: {exc}") from exc


def _parse_endpoint(endpoint: str):
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"S3 endpoint must look like http(s)://host:port, got {endpoint!r}")
    return parts


class MinioStorage(Storage):
    """An S3 bucket. ``endpoint`` is a URL such as ``http://127.0.0.1:9000``;
    ``public_endpoint`` (optional) is the address clients use for presigned URLs."""

    name = "minio"

    def __init__(self, *, endpoint: str, access_key: str | None, secret_key: str | None,
                 bucket: str, region: str = "us-east-1", timeout: float = 10.0,
                 public_endpoint: str | None = None):
        parts = _parse_endpoint(endpoint)
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(timeout, 5.0), read=timeout),
            retries=urllib3.Retry(total=2, backoff_factor=0.2,
                                  status_forcelist=(500, 502, 503, 504)),
        )
        self.client = Minio(parts.netloc, access_key=access_key, secret_key=secret_key,
                            secure=parts.scheme == "https", region=region, http_client=http)
        # Presigned URLs embed the host they were signed for: behind docker or a proxy the
        # browser-facing address differs from ours. Presigning is local (region given).
        self.presign_client = self.client
        if public_endpoint:
            public = _parse_endpoint(public_endpoint)
            self.presign_client = Minio(public.netloc, access_key=access_key,
                                        secret_key=secret_key, secure=public.scheme == "https",
                                        region=region)
        self.bucket = bucket
        self._bucket_ready = False
        self._lock = threading.Lock()

    def _ensure_bucket(self) -> None:
        if self._bucket_ready:
            return
        with self._lock:
            if self._bucket_ready:
                return
            try:
                if not self.client.bucket_exists(bucket_name=self.bucket):
                    self.client.make_bucket(bucket_name=self.bucket)
            except S3Error as exc:
                if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                    raise StorageError(f"S3 bucket {self.bucket}: {exc.code}") from exc
            except _NETWORK_ERRORS as exc:
                raise StorageError(f"S3 endpoint unreachable: {exc}") from exc
            self._bucket_ready = True

    def put(self, key: str, data: bytes, content_type: str) -> None:
        validate_key(key)
        self._ensure_bucket()
        with _s3_errors(f"put {key}"):
            self.client.put_object(bucket_name=self.bucket, object_name=key,
                                   data=io.BytesIO(data), length=len(data),
                                   content_type=content_type)

    def get(self, key: str) -> bytes:
        validate_key(key)
        self._ensure_bucket()
        response = None
        try:
            with _s3_errors(f"get {key}", missing=key):
                response = self.client.get_object(bucket_name=self.bucket, object_name=key)
                return response.read()
        finally:
            if response is not None:
                response.close()
                response.release_conn()

    def put_file(self, key: str, path, content_type: str) -> None:
        validate_key(key)
        self._ensure_bucket()
        with _s3_errors(f"put {key}"):  # multipart in 10 MiB parts: bounded memory
            self.client.fput_object(bucket_name=self.bucket, object_name=key,
                                    file_path=str(path), content_type=content_type,
                                    part_size=10 * 1024 * 1024)

    def get_file(self, key: str, path) -> None:
        validate_key(key)
        self._ensure_bucket()
        with _s3_errors(f"get {key}", missing=key):
            self.client.fget_object(bucket_name=self.bucket, object_name=key,
                                    file_path=str(path))

    def exists(self, key: str) -> bool:
        validate_key(key)
        self._ensure_bucket()
        try:
            self.client.stat_object(bucket_name=self.bucket, object_name=key)
            return True
        except S3Error as exc:
            if exc.code in _MISSING:
                return False
            raise StorageError(f"S3 stat {key}: {exc.code}") from exc
        except _NETWORK_ERRORS as exc:
            raise StorageError(f"S3 endpoint unreachable: {exc}") from exc

    def delete_prefix(self, prefix: str) -> int:
        validate_prefix(prefix)
        self._ensure_bucket()
        with _s3_errors(f"delete under {prefix}"):
            names = [o.object_name for o in self.client.list_objects(
                bucket_name=self.bucket, prefix=prefix, recursive=True)]
            if names:
                errors = list(self.client.remove_objects(
                    bucket_name=self.bucket,
                    delete_object_list=[DeleteObject(n) for n in names]))
                if errors:
                    raise StorageError(f"S3 delete under {prefix}: {errors[0]}")
        return len(names)

    def list_dirs(self, prefix: str) -> list[str]:
        validate_prefix(prefix)
        self._ensure_bucket()
        with _s3_errors(f"list {prefix}"):
            return sorted(o.object_name for o in self.client.list_objects(
                bucket_name=self.bucket, prefix=prefix, recursive=False) if o.is_dir)

    def newest(self, prefix: str):
        validate_prefix(prefix)
        self._ensure_bucket()
        with _s3_errors(f"list {prefix}"):
            times = [o.last_modified for o in self.client.list_objects(
                bucket_name=self.bucket, prefix=prefix, recursive=True)
                if o.last_modified is not None]
        return max(times) if times else None

    def url(self, key: str, *, expires_in: int) -> str:
        validate_key(key)
        # presigning is computed locally (region given), no request is sent
        return self.presign_client.presigned_get_object(
            bucket_name=self.bucket, object_name=key, expires=timedelta(seconds=expires_in))
