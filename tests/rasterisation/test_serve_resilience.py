"""`rasterisation serve` as shipped (real gunicorn, default settings): two clients that dribble
their requests byte by byte do not starve /health (issue 12 item 4), and the scheduled storage
sweeper runs beside the workers (item 3)."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from conftest import stop_server  # shared helpers (tests/conftest.py)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    """Start `rasterisation serve` with its defaults (2 workers) plus ``extra`` env."""
    started = []

    def start(**extra):
        exe = Path(sys.executable).with_name("rasterisation")
        env = {k: v for k, v in os.environ.items() if not k.startswith("RASTERISATION_")}
        env["RASTERISATION_DATA_DIR"] = str(tmp_path / "var")
        env.update(extra)
        subprocess.run([str(exe), "db", "upgrade"], env=env, check=True, capture_output=True,
                       timeout=120)
        port = free_port()
        env["RASTERISATION_PORT"] = str(port)
        log = open(tmp_path / "serve.log", "wb")
        server = subprocess.Popen([str(exe), "serve"], env=env, stdout=log,
                                  stderr=subprocess.STDOUT)
        started.append((server, log))
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        return port, tmp_path / "var"

    yield start
    for server, log in started:
        stop_server(server)
        log.close()


def _dribble(port: int, head: bytes, stop: threading.Event, opened: threading.Event):
    """Send ``head`` one byte every 0.2 s (a slow or hostile client) until told to stop."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        opened.set()
        for byte in head:
            if stop.is_set():
                return
            sock.sendall(bytes([byte]))
            time.sleep(0.2)
        stop.wait(30)


@pytest.mark.slow
def test_health_answers_while_two_clients_dribble(served):
    port, _ = served()
    # one stalls in its headers, one in a JSON body it announced
    heads = [b"GET /api/v1/algorithms/ HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200,
             b"POST /service/rasterisation/v4/masks/?company_id=x HTTP/1.1\r\nHost: x\r\n"
             b"Content-Type: application/json\r\nContent-Length: 4000\r\n\r\n{\"image_id\": \""
             + b"0" * 300]
    stop = threading.Event()
    clients = []
    for head in heads:
        opened = threading.Event()
        thread = threading.Thread(target=_dribble, args=(port, head, stop, opened), daemon=True)
        thread.start()
        assert opened.wait(10)
        clients.append(thread)
    try:
        time.sleep(1.0)  # both are well inside their requests now
        timings = []
        for _ in range(6):
            started = time.monotonic()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as r:
                assert json.loads(r.read()) == {"status": "ok"}
            timings.append(time.monotonic() - started)
            time.sleep(0.2)
        assert max(timings) < 2.0, timings
        assert all(t.is_alive() for t in clients)  # still dribbling all along
    finally:
        stop.set()


@pytest.mark.slow
def test_serve_runs_the_sweeper_on_schedule(served, tmp_path):
    data_dir = tmp_path / "var"
    orphan = data_dir / "objects" / f"companies/{uuid.uuid4()}/images/{uuid.uuid4()}"
    orphan.mkdir(parents=True)
    (orphan / "original.jpg").write_bytes(b"x")
    past = time.time() - 3600
    for path in (orphan, orphan / "original.jpg"):
        os.utime(path, (past, past))
    served(RASTERISATION_SWEEP_INTERVAL="1")
    deadline = time.monotonic() + 30
    while orphan.exists() and time.monotonic() < deadline:
        time.sleep(0.3)
    assert not orphan.exists(), (tmp_path / "serve.log").read_text()[-2000:]
    assert "orphan prefixes removed" in (tmp_path / "serve.log").read_text()
