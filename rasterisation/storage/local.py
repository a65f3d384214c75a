"""Objects as files under a root directory; URLs signed with HMAC and checked by the app.

Example
-------
>>> import tempfile
>>> store = LocalStorage(tempfile.mkdtemp(), secret="s")
>>> store.put("c/1/original.jpg", b"abc", "image/jpeg")
>>> store.get("c/1/original.jpg"), store.delete_prefix("c/")
(b'abc', 1)
"""
from __future__ import annotations

import mimetypes
import os
import shutil
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, urlencode

from rasterisation.storage.base import (
    ObjectNotFound, Storage, StorageError, validate_key, validate_prefix,
)
from rasterisation.storage.signing import sign

__all__ = ["LocalStorage", "content_type_for"]


def content_type_for(key: str) -> str:
    """Local files carry no metadata: the key's extension gives the served type."""
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


class LocalStorage(Storage):
    """Files under ``root``; ``url`` answers ``files/<key>?expires=..&signature=..``."""

    name = "local"

    def __init__(self, root, *, secret: str):
        self.root = Path(root).resolve()
        self.secret = secret

    def path(self, key: str) -> Path:
        return self.root / validate_key(key)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self._write(key, lambda tmp: Path(tmp).write_bytes(data))

    def get(self, key: str) -> bytes:
        try:
            return self.path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None
        except OSError as exc:
            raise StorageError(f"local storage cannot read {key}: {exc.strerror or exc}") \
                from exc

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def put_file(self, key: str, path, content_type: str) -> None:
        self._write(key, lambda tmp: shutil.copyfile(path, tmp))

    def _write(self, key: str, fill) -> None:
        """Write ``key`` by ``fill(tmp)`` on a temporary file beside it, then rename: a
        reader never sees half a file, a crash leaves no partial."""
        dst = self.path(key)
        try:
            dst.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=".tmp-")
            os.close(fd)
            try:
                fill(tmp)
                os.replace(tmp, dst)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise StorageError(f"local storage cannot write {key}: {exc.strerror or exc}") \
                from exc

    def get_file(self, key: str, path) -> None:
        try:
            shutil.copyfile(self.path(key), path)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            if not self.path(key).is_file():
                raise ObjectNotFound(key) from None
            raise
        except OSError as exc:
            raise StorageError(f"local storage cannot read {key}: {exc.strerror or exc}") \
                from exc

    def delete_prefix(self, prefix: str) -> int:
        directory = self.root / validate_prefix(prefix)[:-1]
        if not directory.exists():
            return 0
        try:
            count = sum(1 for p in directory.rglob("*") if p.is_file())
            shutil.rmtree(directory)
        except OSError as exc:
            raise StorageError(f"local storage cannot delete {prefix}: {exc.strerror or exc}") \
                from exc
        return count

    def list_dirs(self, prefix: str) -> list[str]:
        directory = self.root / validate_prefix(prefix)[:-1]
        try:
            return sorted(f"{prefix}{p.name}/" for p in directory.iterdir()
                          if p.is_dir() and not p.name.startswith("."))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise StorageError(f"local storage cannot list {prefix}: {exc.strerror or exc}") \
                from exc

    def newest(self, prefix: str) -> datetime | None:
        """Files (half-written temporary ones too) and, for an empty directory, itself."""
        directory = self.root / validate_prefix(prefix)[:-1]
        try:
            times = [p.stat().st_mtime for p in directory.rglob("*") if p.is_file()]
            if not times and directory.is_dir():
                times = [directory.stat().st_mtime]
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StorageError(f"local storage cannot list {prefix}: {exc.strerror or exc}") \
                from exc
        return datetime.fromtimestamp(max(times), timezone.utc) if times else None

    def url(self, key: str, *, expires_in: int) -> str:
        validate_key(key)
        expires = int(time.time()) + int(expires_in)
        query = urlencode({"expires": expires, "signature": sign(self.secret, key, expires)})
        return f"files/{quote(key)}?{query}"
