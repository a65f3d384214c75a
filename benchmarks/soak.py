"""Soak: does a worker's memory stay flat while new photos keep coming? (issue 12)

Starts `rasterisation serve` on a free 127.0.0.1 port with 2 workers and a temporary
RASTERISATION_DATA_DIR, then pushes N photos the service has never seen (the portraits of
tests/data/photos, each varied by a small crop, a resize and a brightness change, so every
upload is a new image to every cache) through upload + a 5-mask v4 masks request, from
``--clients`` concurrent clients. After every photo it samples the workers' resident memory
(/proc/<pid>/status VmRSS of the master's children) and prints it at photo 50 (after warm-up)
and at the end, with the growth between them. The server is stopped by its PID.

Worker recycling (RASTERISATION_MAX_REQUESTS) is switched off for the run: it would hide a
leak, which is what this measures.

Usage: .venv/bin/python benchmarks/soak.py [--photos 300] [--clients 2] [--workers 2]
Goal (issue 12): growth of the workers' RSS from photo 50 to the end < 10 %. Besides the two
samples, the medians of photos 50-74 and of the last 25 photos are compared (single samples
swing by a few hundred MB with where each worker is between two heap trims).
"""
from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import requests
from PIL import Image, ImageEnhance

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PHOTOS = sorted((ROOT / "tests" / "data" / "photos").glob("*.jpg"))
MASKS = ["pores", "lines", "redness", "pigmentation", "acne"]
WARM_UP = 50


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(env, *args) -> str:
    return subprocess.run([str(BIN / "rasterisation"), *args], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()


def varied_photo(index: int, sources: list[Image.Image]) -> bytes:
    """Photo ``index``: a portrait cropped by up to 8 % a side, resized to 75-100 %,
    brightness +-10 %, JPEG q88-95. Deterministic per index, new bytes and pixels each time."""
    rng = random.Random(index)
    im = sources[index % len(sources)]
    w, h = im.size
    box = (int(w * rng.uniform(0, 0.08)), int(h * rng.uniform(0, 0.08)),
           int(w * (1 - rng.uniform(0, 0.08))), int(h * (1 - rng.uniform(0, 0.08))))
    out = im.crop(box)
    scale = rng.uniform(0.75, 1.0)
    out = out.resize((max(64, int(out.width * scale)), max(64, int(out.height * scale))),
                     Image.Resampling.BICUBIC)
    out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.9, 1.1))
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=rng.randint(88, 95))
    return buf.getvalue()


def children(pid: int) -> list[int]:
    """The direct children of ``pid`` (gunicorn's workers), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def wait_until_up(url: str, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if server.poll() is not None:
            raise SystemExit("the server exited before answering /health")
        if time.monotonic() > deadline:
            raise SystemExit("the server did not come up")
        time.sleep(0.3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the temporary data dir")
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="rst-soak-")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RASTERISATION_")}
    env.update({"RASTERISATION_DATA_DIR": data_dir, "RASTERISATION_HOST": "127.0.0.1",
                "RASTERISATION_PORT": str(port), "RASTERISATION_MAX_REQUESTS": "0",
                "RASTERISATION_RATE_LIMIT": "off"})
    for name in ("RASTERISATION_MODEL_DIR", "RASTERISATION_MODEL_WHEEL"):
        if name in os.environ:
            env[name] = os.environ[name]
    cli(env, "db", "upgrade")
    company = cli(env, "companies", "create", "soak")
    token = cli(env, "tokens", "create", "--company", company)
    api = f"http://127.0.0.1:{port}"
    auth = {"Authorization": f"Bearer {token}"}
    sources = [Image.open(p).convert("RGB") for p in PHOTOS]

    log = open(Path(data_dir) / "server.log", "wb")
    server = subprocess.Popen([str(BIN / "rasterisation"), "serve", "--host", "127.0.0.1",
                               "--workers", str(args.workers)], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    samples: list[tuple[int, float, list[float]]] = []  # (photos done, total MB, per worker)
    errors: list[str] = []
    durations: list[float] = []
    lock = threading.Lock()
    counter = iter(range(args.photos))
    done = 0
    try:
        wait_until_up(f"{api}/health", server)
        workers = children(server.pid)
        print(f"server pid {server.pid}, workers {workers}, port {port}, data {data_dir}",
              flush=True)

        def one(index: int) -> None:
            t0 = time.perf_counter()
            up = requests.post(f"{api}/api/v1/companies/{company}/images/", headers=auth,
                               files={"file": (f"soak-{index}.jpg",
                                               varied_photo(index, sources), "image/jpeg")},
                               timeout=300)
            if up.status_code != 201:
                raise RuntimeError(f"upload {index}: {up.status_code} {up.text[:200]}")
            body = {"image_id": up.json()["id"], "image_type": "original",
                    "masks": [{"algorithm_tech_name": m, "main_metric": True} for m in MASKS]}
            r = requests.post(f"{api}/service/rasterisation/v4/masks/",
                              params={"company_id": company}, json=body, headers=auth,
                              timeout=300)
            if r.status_code != 200:
                raise RuntimeError(f"masks {index}: {r.status_code} {r.text[:200]}")
            durations.append(time.perf_counter() - t0)

        def client() -> None:
            nonlocal done
            while True:
                with lock:
                    index = next(counter, None)
                if index is None:
                    return
                try:
                    one(index)
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    with lock:
                        errors.append(str(exc))
                with lock:
                    done += 1
                    per = [rss_mb(p) for p in children(server.pid)]
                    samples.append((done, sum(per), per))
                    if done % 25 == 0 or done == args.photos:
                        print(f"photo {done:4d}: workers RSS {sum(per):8.1f} MB "
                              f"({', '.join(f'{v:.0f}' for v in per)})", flush=True)

        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        final_workers = children(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)  # gunicorn: graceful stop, by PID
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)

    at = {n: total for n, total, _ in samples}
    warm = at.get(min(WARM_UP, args.photos))
    end = samples[-1][1] if samples else float("nan")
    print()
    print(f"photos {args.photos}, clients {args.clients}, workers {args.workers} "
          f"(pids at start {workers}, at end {final_workers}), errors {len(errors)}")
    if durations:
        print(f"upload + 5 masks per photo: median {np.median(durations):.2f} s, "
              f"p99 {np.percentile(durations, 99):.2f} s")
    if warm:
        print(f"workers' RSS at photo {min(WARM_UP, args.photos)}: {warm:.1f} MB; at photo "
              f"{samples[-1][0]}: {end:.1f} MB; growth {100 * (end - warm) / warm:+.1f} %")
        # single samples swing with where each worker is between two heap trims: compare
        # medians of windows too (photos 50-75 against the last 25)
        first = [t for n, t, _ in samples if WARM_UP <= n < WARM_UP + 25]
        last = [t for n, t, _ in samples if n > samples[-1][0] - 25]
        if first and last and samples[-1][0] >= WARM_UP + 50:
            a, b = float(np.median(first)), float(np.median(last))
            peak = max(t for _, t, _ in samples)
            print(f"median RSS, photos {WARM_UP}-{WARM_UP + 24}: {a:.1f} MB; last 25 photos: "
                  f"{b:.1f} MB; growth {100 * (b - a) / a:+.1f} %; peak {peak:.1f} MB")
    for message in errors[:5]:
        print("error:", message)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
