"""The one SSRF guard: every URL the service fetches or calls goes through here.

Rules (DESIGN.md section 9):

* ``http`` and ``https`` only; no user:password in the URL; a host name is required;
* the host is resolved once, and *every* address it resolves to must be public: private
  (10/8, 172.16/12, 192.168/16, fc00::/7), loopback, link-local (169.254/16 - the cloud
  metadata address - and fe80::/10), multicast, reserved, unspecified, shared (100.64/10),
  IPv4-mapped IPv6 of any of those... anything ``ipaddress`` does not call global is refused,
  unless it lies in ``allow_networks`` (tests allow ``127.0.0.1/32`` through
  ``RASTERISATION_FETCH_ALLOW_NETWORKS``);
* the connection goes to the address that was checked (no second DNS lookup, so DNS
  rebinding cannot swap in an internal address afterwards); HTTPS still verifies the
  certificate against the host name;
* redirects are followed by hand (at most :data:`MAX_REDIRECTS`), each target checked again;
* a time limit for the whole exchange and a byte limit on what is read (``Content-Length``
  checked first, the body read at most one byte over the limit).

Pure: no Flask. Errors: :class:`UnsafeURL` (the URL itself is refused: a 4xx for the client)
and :class:`FetchError` (the remote side failed: unreachable, timeout, HTTP error, too big).

Example
-------
>>> check_url("file:///etc/passwd")
Traceback (most recent call last):
...
rasterisation.net.UnsafeURL: only http and https URLs are allowed; got scheme 'file'
"""
from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import urljoin, urlsplit

__all__ = ["UnsafeURL", "FetchError", "Target", "check_url", "fetch", "put", "post",
           "parse_networks", "MAX_REDIRECTS", "SCHEMES"]

SCHEMES = ("http", "https")
MAX_REDIRECTS = 3
USER_AGENT = "rasterisation/1 (+https://github.com/)"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class UnsafeURL(ValueError):
    """The URL is not allowed (scheme, credentials, host, or a non-public address)."""


class FetchError(RuntimeError):
    """The URL was allowed but the exchange failed; ``status`` is the remote HTTP status."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``address``) and what to ask for."""

    url: str
    scheme: str
    host: str
    port: int
    path: str           # path + query, what goes on the request line
    address: str        # the checked IP to connect to


def parse_networks(text: str | Iterable[str] | None) -> tuple[Network, ...]:
    """``"127.0.0.1/32, ::1"`` -> networks; ``ValueError`` naming a bad entry.

    >>> parse_networks("127.0.0.1/32")
    (IPv4Network('127.0.0.1/32'),)
    """
    if not text:
        return ()
    items = text.split(",") if isinstance(text, str) else list(text)
    out = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        try:
            out.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"{item!r} is not an IP network (e.g. 127.0.0.1/32)") from None
    return tuple(out)


def _unmapped(address):
    """``::ffff:10.0.0.1`` is 10.0.0.1: judge IPv4-mapped IPv6 addresses as IPv4."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _public(address) -> bool:
    return address.is_global and not address.is_multicast


def _resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise UnsafeURL(f"host {host!r} does not resolve: {exc}") from None
    seen = []
    for info in infos:
        addr = info[4][0].split("%")[0]   # drop an IPv6 zone id
        if addr not in seen:
            seen.append(addr)
    if not seen:
        raise UnsafeURL(f"host {host!r} does not resolve")
    return seen


def check_url(url: str, *, allow_networks: Iterable[Network] = ()) -> Target:
    """Check ``url`` against the rules above; return where to connect.

    Raises
    ------
    UnsafeURL
        The scheme is not http(s), the URL carries credentials or no host, the host does not
        resolve, or one of its addresses is not public (and not in ``allow_networks``).
    """
    if not isinstance(url, str) or len(url) > 2048:
        raise UnsafeURL("the URL must be a string of at most 2048 characters")
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"malformed URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise UnsafeURL(f"only http and https URLs are allowed; got scheme {scheme!r}")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("URLs with a user name or password are not allowed")
    host = parts.hostname
    if not host:
        raise UnsafeURL("the URL has no host")
    port = port or (443 if scheme == "https" else 80)
    allow = tuple(allow_networks)
    addresses = _resolve(host, port)
    for addr in addresses:
        ip = _unmapped(ipaddress.ip_address(addr))
        if any(ip in net for net in allow):
            continue
        if not _public(ip):
            kind = ("loopback" if ip.is_loopback else "link-local" if ip.is_link_local
                    else "private" if ip.is_private else "non-public")
            raise UnsafeURL(f"host {host!r} resolves to {kind} address {addr}; only public "
                            "addresses may be fetched")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(url=url.strip(), scheme=scheme, host=host, port=port, path=path,
                  address=addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self):
        self.sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout,
                         context=ssl.create_default_context())
        self._address = target.address

    def connect(self):
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _exchange(method: str, url: str, *, body: bytes | None, headers: dict, timeout: float,
              max_bytes: int, allow_networks: tuple, follow_redirects: bool) -> tuple[int, bytes, dict]:
    deadline = time.monotonic() + timeout
    for _ in range(MAX_REDIRECTS + 1):
        target = check_url(url, allow_networks=allow_networks)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError(f"no answer from {target.host} within {timeout:g} s")
        cls = _PinnedHTTPSConnection if target.scheme == "https" else _PinnedHTTPConnection
        conn = cls(target, remaining)
        try:
            conn.request(method, target.path, body=body,
                         headers={"User-Agent": USER_AGENT, "Host": _host_header(target),
                                  **headers})
            resp = conn.getresponse()
            status = resp.status
            location = resp.getheader("Location")
            if follow_redirects and status in (301, 302, 303, 307, 308) and location:
                url = urljoin(target.url, location)
                continue
            length = resp.getheader("Content-Length")
            if length and length.isdigit() and int(length) > max_bytes:
                raise FetchError(f"{target.host} answers {length} bytes; the limit is "
                                 f"{max_bytes}")
            chunks, total = [], 0
            while True:
                if time.monotonic() > deadline:
                    raise FetchError(f"{target.host} took longer than {timeout:g} s")
                chunk = resp.read(min(65536, max_bytes + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
                if total > max_bytes:
                    raise FetchError(f"{target.host} sent more than {max_bytes} bytes")
            return status, b"".join(chunks), {k.lower(): v for k, v in resp.getheaders()}
        except (OSError, http.client.HTTPException) as exc:
            if isinstance(exc, socket.timeout) or "timed out" in str(exc):
                raise FetchError(f"{target.host} took longer than {timeout:g} s") from None
            raise FetchError(f"could not reach {target.host}: {exc}") from None
        finally:
            conn.close()
    raise FetchError(f"more than {MAX_REDIRECTS} redirects")


def _host_header(target: Target) -> str:
    default = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    return host if target.port == default else f"{host}:{target.port}"


def fetch(url: str, *, max_bytes: int, timeout: float = 10.0,
          allow_networks: Iterable[Network] = ()) -> tuple[bytes, str | None]:
    """GET ``url`` through the guard; (body, content type). Raises UnsafeURL / FetchError.

    Parameters
    ----------
    url : str
        http(s) URL.
    max_bytes : int
        Largest body accepted.
    timeout : float
        Seconds for the whole exchange, redirects included.
    allow_networks : iterable of ip networks
        Non-public networks allowed anyway (tests: ``127.0.0.1/32``).
    """
    status, body, headers = _exchange("GET", url, body=None, headers={}, timeout=timeout,
                                      max_bytes=max_bytes, allow_networks=tuple(allow_networks),
                                      follow_redirects=True)
    if not 200 <= status < 300:
        raise FetchError(f"the URL answered HTTP {status}", status=status)
    return body, headers.get("content-type")


def put(url: str, data: bytes, *, content_type: str, timeout: float = 10.0,
        allow_networks: Iterable[Network] = ()) -> int:
    """PUT ``data`` to ``url`` through the guard (no redirects followed); the HTTP status.

    Raises FetchError unless the answer is 2xx.
    """
    status, _, _ = _exchange("PUT", url, body=data,
                             headers={"Content-Type": content_type,
                                      "Content-Length": str(len(data))},
                             timeout=timeout, max_bytes=1 << 20,
                             allow_networks=tuple(allow_networks), follow_redirects=False)
    if not 200 <= status < 300:
        raise FetchError(f"the upload endpoint answered HTTP {status}", status=status)
    return status


def post(url: str, data: bytes, *, content_type: str, headers: dict | None = None,
         timeout: float = 10.0, allow_networks: Iterable[Network] = ()) -> int:
    """POST ``data`` to ``url`` through the guard (no redirects followed: a webhook target
    that redirects is answered by its status); the HTTP status, whatever it is.

    Raises UnsafeURL (refused target) or FetchError (unreachable, timeout).
    """
    status, _, _ = _exchange("POST", url, body=data,
                             headers={"Content-Type": content_type,
                                      "Content-Length": str(len(data)), **(headers or {})},
                             timeout=timeout, max_bytes=1 << 20,
                             allow_networks=tuple(allow_networks), follow_redirects=False)
    return status
