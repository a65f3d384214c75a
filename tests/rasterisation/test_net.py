"""The SSRF guard: schemes, credentials, non-public addresses after resolution, pinning,
redirects, size and time limits."""
from __future__ import annotations

import doctest
import socket
import time

import pytest

from rasterisation import net
from rasterisation.net import FetchError, UnsafeURL, check_url, fetch, parse_networks, put

LOCAL = parse_networks("127.0.0.1/32")


def test_doctests():
    assert doctest.testmod(net).failed == 0


@pytest.mark.parametrize("url,words", [
    ("file:///etc/passwd", "scheme 'file'"),
    ("ftp://example.com/x.jpg", "scheme 'ftp'"),
    ("gopher://127.0.0.1:6379/_INFO", "scheme 'gopher'"),
    ("javascript:alert(1)", "scheme"),
    ("//example.com/a.jpg", "scheme ''"),
    ("http:///a.jpg", "no host"),
    ("http://user:pw@example.com/a.jpg", "user name or password"),
    ("http://127.0.0.1/a.jpg", "loopback"),
    ("http://127.1.2.3:8080/", "loopback"),
    ("http://localhost/", "loopback"),
    ("http://2130706433/", "loopback"),           # 127.0.0.1 as one decimal number
    ("http://0x7f.0.0.1/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),   # IPv4-mapped IPv6
    ("http://10.0.0.5/", "private"),
    ("http://172.16.3.4/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://[fc00::1]/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),   # cloud metadata
    ("http://[fe80::1]/", "link-local"),
    ("http://100.64.0.1/", "non-public"),          # carrier-grade NAT
    ("http://0.0.0.0/", "address"),
    ("http://224.0.0.1/", "address"),              # multicast
])
def test_refused(url, words):
    with pytest.raises(UnsafeURL) as info:
        check_url(url)
    assert words.lower() in str(info.value).lower()


def _fake_dns(monkeypatch, answers):
    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:
            raise socket.gaierror(f"unknown host {host}")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "",
                 (a, port)) for a in answers[host]]
    monkeypatch.setattr(net.socket, "getaddrinfo", getaddrinfo)


def test_every_resolved_address_must_be_public(monkeypatch):
    _fake_dns(monkeypatch, {"public.test": ["93.184.215.14"],
                            "mixed.test": ["93.184.215.14", "10.1.2.3"],
                            "rebind.test": ["169.254.169.254"]})
    target = check_url("https://public.test/a.jpg?x=1")
    assert (target.host, target.port, target.path, target.address) == \
        ("public.test", 443, "/a.jpg?x=1", "93.184.215.14")
    with pytest.raises(UnsafeURL, match="private address 10.1.2.3"):
        check_url("http://mixed.test/")
    with pytest.raises(UnsafeURL, match="link-local"):
        check_url("http://rebind.test/")
    with pytest.raises(UnsafeURL, match="does not resolve"):
        check_url("http://nowhere.test/")


def test_allow_networks_opens_only_those(local_http):
    local_http.routes["/a"] = (200, {"Content-Type": "text/plain"}, b"hello")
    with pytest.raises(UnsafeURL):
        fetch(local_http.url("/a"), max_bytes=100)
    assert fetch(local_http.url("/a"), max_bytes=100, allow_networks=LOCAL) == \
        (b"hello", "text/plain")
    with pytest.raises(UnsafeURL):
        check_url(local_http.url("/a").replace("127.0.0.1", "127.0.0.2"),
                  allow_networks=LOCAL)
    with pytest.raises(ValueError, match="not an IP network"):
        parse_networks("127.0.0.1/32, bogus")


def test_redirects_are_checked_again(local_http):
    local_http.routes["/hop"] = (302, {"Location": "/a"}, b"")
    local_http.routes["/a"] = (200, {}, b"ok")
    local_http.routes["/out"] = (302, {"Location": "http://169.254.169.254/"}, b"")
    assert fetch(local_http.url("/hop"), max_bytes=10, allow_networks=LOCAL)[0] == b"ok"
    with pytest.raises(UnsafeURL, match="link-local"):
        fetch(local_http.url("/out"), max_bytes=10, allow_networks=LOCAL)
    local_http.routes["/loop"] = (302, {"Location": "/loop"}, b"")
    with pytest.raises(FetchError, match="redirects"):
        fetch(local_http.url("/loop"), max_bytes=10, allow_networks=LOCAL)


def test_size_and_time_limits(local_http):
    local_http.routes["/big"] = (200, {}, b"x" * 5000)
    with pytest.raises(FetchError, match="4999"):
        fetch(local_http.url("/big"), max_bytes=4999, allow_networks=LOCAL)
    assert len(fetch(local_http.url("/big"), max_bytes=5000, allow_networks=LOCAL)[0]) == 5000
    local_http.routes["/slow"] = (200, {}, lambda: time.sleep(2) or b"late")
    started = time.monotonic()
    with pytest.raises(FetchError, match="longer than"):
        fetch(local_http.url("/slow"), max_bytes=100, timeout=0.5, allow_networks=LOCAL)
    assert time.monotonic() - started < 1.5
    local_http.routes["/err"] = (500, {}, b"boom")
    with pytest.raises(FetchError, match="HTTP 500") as info:
        fetch(local_http.url("/err"), max_bytes=100, allow_networks=LOCAL)
    assert info.value.status == 500


def test_put_sends_the_bytes_and_follows_no_redirect(local_http):
    local_http.routes["/up"] = (201, {}, b"")
    assert put(local_http.url("/up"), b"\x89PNG...", content_type="image/png",
               allow_networks=LOCAL) == 201
    method, path, headers, body = local_http.requests[-1]
    assert (method, path, body, headers["Content-Type"]) == ("PUT", "/up", b"\x89PNG...",
                                                             "image/png")
    local_http.routes["/moved"] = (307, {"Location": "http://10.0.0.1/"}, b"")
    with pytest.raises(FetchError, match="HTTP 307"):
        put(local_http.url("/moved"), b"x", content_type="image/png", allow_networks=LOCAL)
    with pytest.raises(UnsafeURL):
        put("http://10.0.0.1/up", b"x", content_type="image/png")
