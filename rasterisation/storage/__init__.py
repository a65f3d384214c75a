"""Object storage chosen by configuration (``RASTERISATION_STORAGE``), like CTFd's uploaders.

``make_storage(settings)`` builds the backend; inside a request or app context
``get_storage()`` answers the app's instance (tests may replace
``app.extensions["rasterisation.storage"]``).

Example
-------
>>> from rasterisation.config import load_settings
>>> make_storage(load_settings({"RASTERISATION_DATA_DIR": "/tmp/rst-doc"})).name
'local'
"""
from __future__ import annotations

from rasterisation.storage.base import (
    ObjectNotFound, Storage, StorageError, validate_key, validate_prefix,
)

__all__ = [
    "Storage", "StorageError", "ObjectNotFound", "make_storage", "get_storage",
    "validate_key", "validate_prefix", "EXTENSION_KEY",
]

EXTENSION_KEY = "rasterisation.storage"


def make_storage(settings) -> Storage:
    """The backend named by ``settings.storage`` (one of ``config.STORAGE_BACKENDS``)."""
    if settings.storage == "local":
        from rasterisation.storage.local import LocalStorage

        return LocalStorage(settings.data_dir / "objects", secret=settings.secret_key)
    if settings.storage == "minio":
        from rasterisation.storage.minio import MinioStorage

        return MinioStorage(endpoint=settings.s3_endpoint, access_key=settings.s3_access_key,
                            secret_key=settings.s3_secret_key, bucket=settings.s3_bucket,
                            region=settings.s3_region,
                            public_endpoint=settings.s3_public_endpoint)
    raise ValueError(f"unknown storage {settings.storage!r}; valid: local, minio")


def get_storage() -> Storage:
    """The current app's storage."""
    from flask import current_app

    return current_app.extensions[EXTENSION_KEY]
