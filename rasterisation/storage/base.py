"""The one small interface every object store implements.

Keys are relative POSIX paths such as ``companies/{cid}/images/{iid}/original.jpg``: everything
derived from an image lives under that image's prefix, so ``delete_prefix`` removes it all.

Example
-------
>>> validate_key("companies/a/images/b/original.jpg")
'companies/a/images/b/original.jpg'
"""
from __future__ import annotations

import abc
import re
from datetime import datetime

__all__ = ["Storage", "StorageError", "ObjectNotFound", "validate_key", "validate_prefix"]

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*")


class StorageError(RuntimeError):
    """The store could not be reached or refused the operation (the API answers 503)."""


class ObjectNotFound(KeyError):
    """No object under that key."""


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe relative key, else raise ``ValueError``.

    Segments start with a letter or digit, so ``..``, hidden files and absolute paths are
    impossible and a key can never leave the local storage root.
    """
    if not isinstance(key, str) or len(key) > 512 or not _KEY.fullmatch(key):
        raise ValueError(f"invalid object key {key!r}: use segments of [A-Za-z0-9._-] "
                         "separated by '/', each starting with a letter or digit")
    return key


def validate_prefix(prefix: str) -> str:
    """A prefix is a key followed by ``/`` (a whole "directory", never a partial name)."""
    if not isinstance(prefix, str) or not prefix.endswith("/"):
        raise ValueError(f"invalid prefix {prefix!r}: it must end with '/'")
    validate_key(prefix[:-1])
    return prefix


class Storage(abc.ABC):
    """put / get / exists / delete_prefix / url. Backends raise ``StorageError`` on outages."""

    name: str = "abstract"

    @abc.abstractmethod
    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store ``data`` under ``key``, replacing any previous object."""

    @abc.abstractmethod
    def get(self, key: str) -> bytes:
        """The object's bytes; ``ObjectNotFound`` when absent."""

    @abc.abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored under ``key``."""

    @abc.abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with ``prefix``; return how many."""

    @abc.abstractmethod
    def url(self, key: str, *, expires_in: int) -> str:
        """A URL that fetches the object without a bearer token for ``expires_in`` seconds.

        Local storage answers a path relative to the app root (``files/...``); the API joins it
        to the public base URL. S3 backends answer an absolute presigned URL.
        """

    # whole files, for videos (hundreds of MiB): never all in memory. Not abstract: these
    # defaults go through put / get, and the real backends stream.
    def put_file(self, key: str, path, content_type: str) -> None:
        """Store the file at ``path`` under ``key``."""
        with open(path, "rb") as fh:
            self.put(key, fh.read(), content_type)

    def get_file(self, key: str, path) -> None:
        """Write the object to the file ``path``; ``ObjectNotFound`` when absent."""
        data = self.get(key)
        with open(path, "wb") as fh:
            fh.write(data)

    # listing, for the sweeper (``rasterisation storage sweep``); not abstract, so a minimal
    # store (a test double) needs only the five calls above
    def list_dirs(self, prefix: str) -> list[str]:
        """The "directories" directly under ``prefix`` (itself ending in ``/``), each as a
        prefix ending in ``/``: ``companies/`` -> ``["companies/<cid>/", ...]``."""
        raise NotImplementedError(f"{self.name} storage cannot list")

    def newest(self, prefix: str) -> datetime | None:
        """When the newest object under ``prefix`` was written (aware UTC), None if none."""
        raise NotImplementedError(f"{self.name} storage cannot list")
