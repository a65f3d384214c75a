"""End-to-end speed of the v4 masks call against a real `rasterisation serve`.

Measures, in one run, on a 2048 px portrait:

1. a 5-mask v4 request on a photo the service has never seen (upload excluded): face,
   restored image, five algorithms, five renders, five stored JPEGs, five signed URLs;
2. the same request repeated (everything cached: only URLs are signed);
3. 16 concurrent clients for DURATION seconds on cached requests against 4 gunicorn workers:
   requests/s, p50/p99 latency and the error count.

Usage: .venv/bin/python benchmarks/masks_endpoint.py [--duration 60] [--new 5] [--repeat 30]
Goals (issue 5): new <= 2.5 s median, repeated <= 50 ms median, no errors under load.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import requests
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MASKS = ["pores", "lines", "redness", "pigmentation", "acne"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def portrait(seed: int, size: tuple[int, int] = (2048, 2048)) -> bytes:
    """london_021 resized to ``size`` (width, height); 12 MP: (4000, 3000), the portrait
    stretched like skin_speed's 12 MP photo."""
    with Image.open(ROOT / "tests/data/photos/london_021.jpg") as im:
        rgb = np.asarray(im.convert("RGB"))
    big = cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC)
    big[0, 0] = seed % 256  # a different photo each time, as far as any cache could tell
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def cli(env, *args) -> str:
    return subprocess.run([str(BIN / "rasterisation"), *args], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def percentile(values, q):
    return float(np.percentile(np.asarray(values), q))


def hammer(headers, stop: float, attempt, prepare=None) -> tuple[list[float], int]:
    """One load client: until ``time.perf_counter()`` reaches ``stop``, time
    ``attempt(session, prepare())`` on its own session with ``headers`` (``prepare``, untimed,
    gives None if not given); ``attempt`` returns True when the request went well, a requests
    error counts as a failure. Returns the latencies (s) and the number of failures."""
    s = requests.Session()
    s.headers.update(headers)
    mine, bad = [], 0
    while time.perf_counter() < stop:
        job = prepare() if prepare else None
        t = time.perf_counter()
        try:
            ok = attempt(s, job)
        except requests.RequestException:
            ok = False
        mine.append(time.perf_counter() - t)
        bad += not ok
    return mine, bad


def run_threads(targets) -> float:
    """Run each of ``targets`` in its own thread, all at once; the wall time (s) until all end."""
    threads = [threading.Thread(target=target) for target in targets]
    t0 = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return time.perf_counter() - t0


@contextlib.contextmanager
def served(workers: int, *, name: str = "bench"):
    """A real ``rasterisation serve`` on a free 127.0.0.1 port with a temporary data dir, one
    company and one token: yields ``(base_url, company_id, auth_headers)``, stops the server
    by its PID on exit. Per-token rate limits are off: benchmarks measure the service (many
    clients share one token), not the limiter."""
    data_dir = tempfile.mkdtemp(prefix=f"rst-{name}-")
    port = free_port()
    env = {**os.environ, "RASTERISATION_DATA_DIR": data_dir, "RASTERISATION_PORT": str(port),
           "RASTERISATION_RATE_LIMIT": "off"}
    cli(env, "db", "upgrade")
    company = cli(env, "companies", "create", name)
    token = cli(env, "tokens", "create", "--company", company)
    server = subprocess.Popen([str(BIN / "rasterisation"), "serve", "--workers", str(workers),
                               "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(f"{base}/health", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        yield base, company, {"Authorization": f"Bearer {token}"}
    finally:
        server.terminate()  # gunicorn: graceful stop of the workers
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--new", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--size", default="2048x2048",
                        help="WIDTHxHEIGHT of the new photos (12 MP: 4000x3000)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))

    with served(args.workers) as (base, company, headers):
        session = requests.Session()
        session.headers.update(headers)
        url = f"{base}/service/rasterisation/v4/masks/?company_id={company}"

        def body(image_id):
            return {"image_id": image_id, "image_type": "original",
                    "masks": [{"algorithm_tech_name": m, "main_metric": True,
                               "sub_metrics": True} for m in MASKS]}

        # warm every worker (the first call of a process loads models and compiles the
        # compositing kernel): concurrent calls, so that each worker gets some
        warm = session.post(f"{base}/api/v1/companies/{company}/images/",
                            files={"file": ("w.jpg", portrait(999, size))}).json()["id"]
        session.post(url, json=body(warm)).raise_for_status()

        def warm_call(_):
            requests.post(url, json=body(warm), headers=headers, timeout=120).raise_for_status()

        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(args.workers * 2) as pool:
            list(pool.map(warm_call, range(args.workers * 6)))

        new_times = []
        image_id = None
        for i in range(args.new):
            image_id = session.post(f"{base}/api/v1/companies/{company}/images/",
                                    files={"file": (f"p{i}.jpg", portrait(i, size))}).json()["id"]
            t = time.perf_counter()
            r = session.post(url, json=body(image_id))
            new_times.append(time.perf_counter() - t)
            r.raise_for_status()
            assert all(item["error"] is None for item in r.json()), r.json()

        repeat_times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            session.post(url, json=body(image_id)).raise_for_status()
            repeat_times.append(time.perf_counter() - t)

        latencies: list[float] = []
        errors = [0]
        stop = time.perf_counter() + args.duration
        lock = threading.Lock()

        def client():
            mine, bad = hammer(headers, stop, lambda s, _: s.post(
                url, json=body(image_id), timeout=30).status_code == 200)
            with lock:
                latencies.extend(mine)
                errors[0] += bad

        elapsed = run_threads([client] * args.clients)

    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end")
    new_med = statistics.median(new_times)
    rep_med = statistics.median(repeat_times)
    print(f"5-mask v4 request, new {args.size} photo: median {new_med * 1000:.0f} ms "
          f"(n={len(new_times)}, min {min(new_times) * 1000:.0f}, max {max(new_times) * 1000:.0f})"
          f" goal <= 1500 ms at 2048 px (issue 13)")
    print(f"same request repeated (cached):      median {rep_med * 1000:.1f} ms "
          f"(n={len(repeat_times)}, p90 {percentile(repeat_times, 90) * 1000:.1f}) goal <= 50 ms")
    print(f"ratio new / repeated: {new_med / rep_med:.0f}x")
    print(f"load: {args.clients} clients x {args.duration:.0f} s, {args.workers} workers, cached: "
          f"{len(latencies) / elapsed:.1f} req/s, p50 {percentile(latencies, 50) * 1000:.0f} ms, "
          f"p99 {percentile(latencies, 99) * 1000:.0f} ms, errors {errors[0]} of {len(latencies)}")


if __name__ == "__main__":
    main()
