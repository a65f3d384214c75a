"""`rasterisation serve` really serves (gunicorn), on the host and port asked for."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import stop_server  # shared helpers (tests/conftest.py)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_serve_answers_health_and_stops_cleanly(tmp_path):
    exe = Path(sys.executable).with_name("rasterisation")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RASTERISATION_")}
    env["RASTERISATION_DATA_DIR"] = str(tmp_path / "var")
    subprocess.run([str(exe), "db", "upgrade"], env=env, check=True, capture_output=True,
                   timeout=120)
    port = free_port()
    env["RASTERISATION_PORT"] = str(port)  # the port comes from the environment
    server = subprocess.Popen([str(exe), "serve", "--workers", "1"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    assert json.loads(r.read()) == {"status": "ok"}
                    break
            except OSError:
                assert server.poll() is None, server.stdout.read().decode()[-2000:]
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/docs", timeout=5) as r:
            assert b"swagger" in r.read().lower()
    finally:
        stop_server(server)
    assert server.returncode == 0
